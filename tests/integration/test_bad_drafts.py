"""The bad-draft corpus: every file is refused before anything is queued, with its codes.

Each of tests/data/bad_drafts/*.json goes through the real API (uvicorn, SQLite, sandbox
EHR) as raw bytes from the scribe, then, if it was stored for review, through approval by
a clinician; and through ``chartgate validate FILE``. The API must refuse it at the step
the file names (``_stage``) with finding codes from ``_expect``, the CLI must report
exactly ``_expect`` and exit 1, and no write-back row may exist afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bad_drafts import BadDraft, corpus_policy, good_draft, load_corpus
from builders import TENANT
from chartgate.adapters.storage import tables
from chartgate.cli.main import app as cli
from chartgate.domain.findings import FINDING_SYSTEM
from stack import Stack, running_stack

CORPUS = load_corpus()
FHIR_JSON = "application/fhir+json"


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policy plus an auto-write type (for the allowlist cases)."""
    return corpus_policy(tmp_path_factory.mktemp("corpus-policy"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, policy_file: Path) -> Iterator[Stack]:
    """One chartgate for the whole corpus, judged by the corpus policy."""
    workdir = tmp_path_factory.mktemp("corpus-stack")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHARTGATE_POLICY", str(policy_file))
        with running_stack(f"sqlite:///{workdir / 'chartgate.sqlite3'}", workdir) as running:
            env.delenv("CHARTGATE_POLICY")
            yield running


def writebacks(stack: Stack) -> int:
    """Rows in the outbox: a write-back queued for the EHR."""
    with stack.app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.writebacks)).scalar_one())


def finding_codes(outcome: dict[str, Any]) -> set[str]:
    """The finding codes of an OperationOutcome (``issue.details.coding``)."""
    assert outcome["resourceType"] == "OperationOutcome"
    return {
        coding["code"]
        for issue in outcome["issue"]
        for coding in issue.get("details", {}).get("coding", [])
        if coding.get("system") == FINDING_SYSTEM
    }


def submit_raw(stack: Stack, raw: bytes) -> httpx.Response:
    """POST the corpus bytes as the scribe."""
    return stack.api.post(
        "/v1/drafts", content=raw, headers={**stack.as_scribe(), "Content-Type": "application/json"}
    )


def approve(stack: Stack, draft_id: str, body: dict[str, Any] | None = None) -> httpx.Response:
    """Approve version 1 as the clinician (optionally acknowledging warnings)."""
    return stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        json=body,
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )


def refused(response: httpx.Response, status: int) -> set[str]:
    """Check a refusal's status and media type; return its finding codes."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    return finding_codes(response.json())


@pytest.mark.parametrize("draft", CORPUS, ids=[d.name for d in CORPUS])
def test_bad_draft_is_refused_by_the_api_before_anything_is_queued(
    stack: Stack, draft: BadDraft
) -> None:
    """The API refuses the draft at its stage with its expected codes; no write-back exists."""
    before = writebacks(stack)
    response = submit_raw(stack, draft.raw())
    if draft.stage == "body":
        assert refused(response, 400) == draft.expect
    elif draft.stage in {"schema", "submit"}:
        codes = refused(response, 422)
        assert codes, response.text
        assert codes <= draft.expect, (codes, draft.expect)
        if draft.stage == "schema":
            assert codes == draft.expect
    else:
        assert draft.stage == "approve"
        assert response.status_code == 201, response.text
        draft_id = response.json()["id"]
        shown = stack.api.get(f"/v1/drafts/{draft_id}", headers=stack.as_clinician()).json()
        assert {f["code"] for f in shown["findings"]} == draft.expect
        assert refused(approve(stack, draft_id), 422) == draft.expect
        state = stack.api.get(f"/v1/drafts/{draft_id}", headers=stack.as_clinician()).json()
        assert state["state"] == "in_review"
    assert writebacks(stack) == before


@pytest.mark.parametrize("draft", CORPUS, ids=[d.name for d in CORPUS])
def test_bad_draft_is_refused_by_chartgate_validate(
    tmp_path: Path, policy_file: Path, draft: BadDraft
) -> None:
    """``chartgate validate FILE`` prints exactly the expected codes and exits 1."""
    path = tmp_path / f"{draft.name}.json"
    path.write_bytes(draft.raw())
    result = CliRunner().invoke(
        cli, ["validate", str(path), "--json"], env={"CHARTGATE_POLICY": str(policy_file)}
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["accepted"] is False
    assert {f["code"] for f in report["findings"]} == draft.expect


def test_the_corpus_is_large_and_covers_every_family() -> None:
    """At least 40 bad drafts, covering every finding family the issue names."""
    assert len(CORPUS) >= 40
    families = {code.split(".")[0] for draft in CORPUS for code in draft.expect}
    assert families >= {
        "fhir", "binding", "code", "unit", "section", "policy", "content", "consistency",
        "encoding", "uscore", "submission",
    }  # fmt: skip


def test_a_good_draft_passes_the_cli(tmp_path: Path, policy_file: Path) -> None:
    """The corpus's valid twin is accepted: exit 0, no findings."""
    path = tmp_path / "good.json"
    path.write_text(json.dumps(good_draft()), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["validate", str(path), "--json"], env={"CHARTGATE_POLICY": str(policy_file)}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "accepted": True, "findings": [], "blocking": [], "acknowledged": []
    }  # fmt: skip


def test_a_scribe_that_names_the_drafts_own_patient_passes_the_cli(
    tmp_path: Path, policy_file: Path
) -> None:
    """Issue 13: chartgate fills AllergyIntolerance.patient; the scribe's equal value is fine."""
    path = tmp_path / "owned.json"
    path.write_text(json.dumps(good_draft("owned-patient-equal-to-the-drafts")), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["validate", str(path), "--json"], env={"CHARTGATE_POLICY": str(policy_file)}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] is True


def test_a_good_draft_with_structured_resources_is_approved_once(stack: Stack) -> None:
    """The valid twin is stored, shows no findings, validates, and queues one write-back."""
    created = stack.api.post("/v1/drafts", json=good_draft(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    dry = stack.api.post(f"/v1/drafts/{draft_id}/validate", headers=stack.as_clinician())
    assert dry.status_code == 200, dry.text
    assert dry.json()["accepted"] is True
    before = writebacks(stack)
    assert approve(stack, draft_id).status_code == 202
    assert writebacks(stack) == before + 1
    assert stack.tenant == TENANT
