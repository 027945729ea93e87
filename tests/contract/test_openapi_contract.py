"""``/openapi.json`` is the API's true contract (issue 12).

Two kinds of proof:

* the document itself: every ``$ref`` resolves, every error is an ``application/fhir+json``
  OperationOutcome, the bearer scheme, ``If-Match`` / ``Idempotency-Key`` and the answer
  headers are declared, ``201`` names ``Location``;
* schemathesis (every check, every operation) run against the real app over HTTP, on both
  stores, once per role — clinician, scribe, auditor, admin and no token at all — with the
  seeded drafts and write-back mixed into the generated ids: no server error, no answer
  outside its schema, no undocumented status or header. The widened expectation is in
  ``schemathesis.toml`` beside this file, with its reasons.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import submission
from chartgate.api.app import create_app
from chartgate.bootstrap import build
from chartgate.settings import EhrSettings, Settings, TenantSettings
from stack import Stack, running_stack

HERE = Path(__file__).parent
ROLES = ("clinician", "scribe", "auditor", "admin", "anonymous")
SECURED_PREFIXES = ("/v1/", "/metrics")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The published OpenAPI document of a freshly built chartgate."""
    workdir = tmp_path_factory.mktemp("contract-doc")
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'cg.sqlite3'}",
        key_file=str(workdir / "kek.key"),
        tenants=[
            TenantSettings(
                id="t",
                issuers=["http://127.0.0.1:9/idp"],
                ehr=EhrSettings(base_url="http://127.0.0.1:9/fhir", vendor="sandbox"),
            )
        ],
    )
    application = build(settings, migrate=True)
    try:
        return create_app(application).openapi()
    finally:
        application.close()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    """No ``$ref`` points at a ``$defs`` path or a schema the document does not hold."""
    text = json.dumps(document)
    refs = set(re.findall(r'"\$ref": "([^"]+)"', text))
    assert refs, "the document references no schema at all"
    schemas = document["components"]["schemas"]
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert "HTTPValidationError" not in schemas


def test_every_error_is_a_documented_operation_outcome(document: dict[str, Any]) -> None:
    """Each 4xx/5xx answer of each operation is ``application/fhir+json`` OperationOutcome."""
    outcome = {"$ref": "#/components/schemas/OperationOutcome"}
    for path, method, operation in _operations(document):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45" and s != "503"}
        assert errors, (method, path)
        for status, answer in errors.items():
            assert answer["content"] == {"application/fhir+json": {"schema": outcome}}, (
                method,
                path,
                status,
            )


def test_secured_operations_declare_the_bearer_scheme_and_its_challenge(
    document: dict[str, Any],
) -> None:
    """/v1 and /metrics need a bearer JWT; a 401 names ``WWW-Authenticate``."""
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for path, method, operation in _operations(document):
        if path.startswith(SECURED_PREFIXES):
            assert operation["security"] == [{"bearer": []}], (method, path)
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        else:
            assert operation["security"] == [], (method, path)


def test_preconditions_and_idempotency_keys_are_declared(document: dict[str, Any]) -> None:
    """Edits and approvals require ``If-Match``; every mutation takes ``Idempotency-Key``."""
    paths = document["paths"]

    def headers(path: str, method: str) -> dict[str, bool]:
        return {
            p["name"]: p["required"]
            for p in paths[path][method]["parameters"]
            if p["in"] == "header"
        }

    for path, method in (
        ("/v1/drafts/{draft_id}", "put"),
        ("/v1/drafts/{draft_id}/approve", "post"),
        ("/v1/writebacks/{writeback_id}/amend", "post"),
    ):
        assert headers(path, method)["If-Match"] is True
    for path, method, operation in _operations(document):
        if method in {"post", "put"} and not path.endswith("/validate"):
            assert headers(path, method).get("Idempotency-Key") is False, (method, path)
            assert (
                "Idempotent-Replayed"
                in next(r for s, r in operation["responses"].items() if s.startswith("2"))[
                    "headers"
                ]
            )


def test_a_created_draft_documents_its_location_and_body(document: dict[str, Any]) -> None:
    """``POST /v1/drafts``: DraftSubmission in, ``201`` Draft out with ``Location``."""
    submit = document["paths"]["/v1/drafts"]["post"]
    body = submit["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DraftSubmission"}
    created = submit["responses"]["201"]
    assert "Location" in created["headers"]
    assert created["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Draft"
    }


# -- schemathesis ---------------------------------------------------------------------------


def _tokens(stack: Stack) -> dict[str, str | None]:
    """One long enough token per role (the run takes minutes)."""
    idp, tenant = stack.sandbox.idp, stack.tenant

    def person(subject: str, scope: str) -> str:
        return idp.mint(
            subject=subject, scopes=["openid", scope], tenant=tenant, lifetime_seconds=3000
        )

    return {
        "clinician": stack.clinician_token(lifetime_seconds=3000),
        "scribe": stack.scribe_token(lifetime_seconds=3000),
        "auditor": person("auditor-1", "chartgate/audit.read"),
        "admin": person("admin-1", "chartgate/admin"),
        "anonymous": None,
    }


def _seed(stack: Stack, tokens: dict[str, str | None]) -> tuple[list[str], list[str]]:
    """Drafts in review and one committed write-back, so generated ids sometimes exist."""
    scribe = {"Authorization": f"Bearer {tokens['scribe']}"}
    clinician = {"Authorization": f"Bearer {tokens['clinician']}"}
    drafts = []
    for _ in range(4):
        answer = stack.api.post("/v1/drafts", json=submission(), headers=scribe)
        assert answer.status_code == 201, answer.text
        drafts.append(answer.json()["id"])
    approved = stack.api.post(
        f"/v1/drafts/{drafts[0]}/approve", headers={**clinician, "If-Match": 'W/"1"'}
    )
    assert approved.status_code == 202, approved.text
    stack.work()
    return drafts, [approved.json()["writeback"]["id"]]


def _config(path: Path, drafts: list[str], writebacks: list[str]) -> Path:
    """``schemathesis.toml`` plus the seeded ids as dictionaries for the path parameters."""
    base = (HERE / "schemathesis.toml").read_text()
    seeded = (
        f"[dictionaries.drafts]\nvalues = {json.dumps(drafts)}\n\n"
        f"[dictionaries.writebacks]\nvalues = {json.dumps(writebacks)}\n\n"
        "[parameters]\n"
        '"path.draft_id" = { dictionary = "drafts", probability = 0.7 }\n'
        '"path.writeback_id" = { dictionary = "writebacks", probability = 0.7 }\n\n'
    )
    path.write_text(seeded + base)
    return path


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_no_failure(database_url: str, tmp_path: Path, role: str) -> None:
    """Every check, every operation, as this role: 0 failures (server errors, schema, ...)."""
    with running_stack(database_url, tmp_path) as stack:
        tokens = _tokens(stack)
        drafts, writebacks = _seed(stack, tokens)
        config = _config(tmp_path / "schemathesis.toml", drafts, writebacks)
        token = tokens[role]
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{stack.api.base_url}/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "3",
            "--seed",
            "20261202",
            "--workers",
            "1",
            "--generation-database",
            "none",
            *(["--header", f"Authorization: Bearer {token}"] if token else []),
        ]
        started = time.monotonic()
        run = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=1100, check=False
        )
        seconds = time.monotonic() - started
    output = run.stdout + run.stderr
    if token:
        output = output.replace(token, "[token]")
    summary = re.search(r"(\d+) generated[^\n]*", output)
    store = database_url.split(":", maxsplit=1)[0]
    print(f"{role} on {store}: {summary and summary.group(0)} in {seconds:.0f} s")
    assert run.returncode == 0, output[-6000:]
    assert summary is not None, output[-2000:]
    assert int(summary.group(1)) > 0, output[-2000:]


def test_the_contract_is_served_over_http(sandbox_stack: Stack) -> None:
    """``/openapi.json`` over HTTP is the document the tests above check."""
    answer = httpx.get(f"{sandbox_stack.api.base_url}/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
