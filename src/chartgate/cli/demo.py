"""``chartgate demo``: the whole story on the embedded default, over real HTTP on loopback.

A scribe submits a synthetic draft, a clinician edits one sentence and approves, the worker
writes the note and its Provenance into the sandbox EHR, and the story is printed: the diff,
the EHR's answer, the Provenance and the audit chain of the correlation id. Nothing is left
running afterwards.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import (
    CareTeamGrant,
    EhrSettings,
    ProcessorSettings,
    Settings,
    TenantSettings,
)
from chartgate.threaded_server import ThreadedServer

TENANT = "demo"
PATIENT = "Patient/pat-001"
ENCOUNTER = "Encounter/enc-001"
CLINICIAN = "Practitioner/prac-001"

AI_NOTE = """## Subjective
Synthetic patient reports three days of dry cough without fever.
Denies shortness of breath.

## Objective
Temperature 37.1 C. Lungs clear to auscultation.

## Assessment
Acute viral bronchitis, uncomplicated.

## Plan
Supportive care with fluids and rest. Return if symptoms worsen.
"""

EDITED_SENTENCE = (
    "Supportive care with fluids and rest. Return if fever develops or symptoms last 10 days."
)


@dataclass
class DemoResult:
    """What the demo did, for the printed story and ``--json``."""

    database_url: str
    draft_id: str = ""
    state: str = ""
    correlation_id: str = ""
    ehr_resource: str = ""
    ehr_version: str = ""
    provenance: str = ""
    provenance_resource: dict[str, Any] = field(default_factory=dict)
    diff: dict[str, Any] = field(default_factory=dict)
    audit_chain: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    key_file: str = ""  # the store's keys, kept beside it so `audit verify` works afterwards
    checkpoint_size: int | None = None  # the signed checkpoint cut at the end
    audit_verified: bool = False  # the demo's own store verified against that checkpoint
    audit_detail: str = ""

    def summary(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {
            "draft_id": self.draft_id,
            "state": self.state,
            "ehr_resource": self.ehr_resource,
            "ehr_version": self.ehr_version,
            "provenance": self.provenance,
            "correlation_id": self.correlation_id,
            "audit_events": len(self.audit_chain),
            "audit_chain": [e["type"] for e in self.audit_chain],
            "diff": self.diff,
            "provenance_resource": self.provenance_resource,
            "database_url": self.database_url,
            "key_file": self.key_file,
            "checkpoint_size": self.checkpoint_size,
            "audit_verified": self.audit_verified,
            "seconds": round(self.seconds, 3),
        }


def demo_submission() -> dict[str, Any]:
    """The synthetic draft a scribe submits."""
    return {
        "patient": PATIENT,
        "encounter": ENCOUNTER,
        "note": {
            "type": "11506-3",
            "title": "Progress note",
            "content_type": "text/markdown",
            "text": AI_NOTE,
        },
        "resources": [],
        "origin": {
            "model": {"name": "example-scribe-llm", "version": "2026.10.1"},
            "prompt_template": "soap-v3",
            "transcript_sha256": hashlib.sha256(b"synthetic demo transcript").hexdigest(),
            "generated_at": "2026-11-24T10:00:00Z",
        },
    }


def sandbox_processors(sandbox: SandboxServer) -> list[ProcessorSettings]:
    """The embedded default's processor registry: the sandbox EHR and its dev IdP (loopback).

    Dev only, like the sandbox: the "BAA" is a placeholder for a synthetic-data test system,
    so that the demo runs through the same processor gate as production.
    """
    return [
        ProcessorSettings(
            id="sandbox-ehr",
            legal_entity="chartgate sandbox (synthetic data, this process)",
            role="ehr",
            purpose="demo write-back target (synthetic patients only)",
            endpoints=[sandbox.fhir_base],
            phi_categories=["clinical-notes", "patient-identifiers"],
            baa_signed=date(2026, 1, 1),
        ),
        ProcessorSettings(
            id="sandbox-idp",
            legal_entity="chartgate sandbox (dev identity provider, this process)",
            role="identity",
            purpose="demo sign-in and token keys (no PHI)",
            endpoints=[sandbox.issuer],
        ),
    ]


@contextmanager
def demo_stack(
    database_url: str, workdir: Path, *, key_file: Path | None = None
) -> Iterator[tuple[SandboxServer, Application, str]]:
    """Sandbox EHR + IdP, chartgate wired to them, and the API on loopback."""
    with SandboxServer(workdir / "sandbox-ehr.sqlite3", vendor="generic-r4") as sandbox:
        settings = Settings(
            database_url=database_url,
            key_file=str(key_file or workdir / "kek.key"),
            dev_mode=True,
            processors=sandbox_processors(sandbox),
            tenants=[
                TenantSettings(
                    id=TENANT,
                    issuers=[sandbox.issuer],
                    ehr=EhrSettings(base_url=sandbox.fhir_base, vendor="sandbox"),
                )
            ],
        )
        app = build(settings, migrate=True)
        try:
            with ThreadedServer(create_app(app)) as api:
                yield sandbox, app, api.base_url
        finally:
            app.close()


def run_demo(database_url: str | None = None) -> DemoResult:
    """Run the story once and return what happened."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chartgate-demo-") as tmp:
        workdir = Path(tmp)
        if database_url is None:
            keep = Path(tempfile.mkdtemp(prefix="chartgate-demo-db-"))
            database_url = f"sqlite:///{keep / 'chartgate.sqlite3'}"
        keys = _keys_beside(database_url)
        result = DemoResult(database_url=database_url, key_file=str(keys))
        with demo_stack(database_url, workdir, key_file=keys) as (sandbox, app, api_url):
            scribe = sandbox.idp.mint(
                subject="scribe-demo-client",
                scopes=["chartgate/drafts.submit"],
                tenant=TENANT,
                amr=(),
                acr=None,
                extra_claims={"client_id": "scribe-demo-client"},
            )
            clinician = sandbox.idp.mint(
                subject="clinician-dana",
                scopes=["openid", "fhirUser", "chartgate/drafts.approve"],
                tenant=TENANT,
                fhir_user=CLINICIAN,
                encounter=ENCOUNTER.split("/")[1],
                patient=PATIENT.split("/")[1],
                auth_time=int(time.time()),
            )
            with httpx.Client(base_url=api_url, timeout=30) as http:
                _story(http, app, scribe, clinician, result)
        result.seconds = time.perf_counter() - started
        return result


def _story(
    http: httpx.Client, app: Application, scribe: str, clinician: str, result: DemoResult
) -> None:
    as_scribe = {"Authorization": f"Bearer {scribe}"}
    as_clinician = {"Authorization": f"Bearer {clinician}"}
    created = _ok(http.post("/v1/drafts", json=demo_submission(), headers=as_scribe))
    draft_id = created["id"]
    result.draft_id, result.correlation_id = draft_id, created["correlation_id"]
    current = _ok(http.get(f"/v1/drafts/{draft_id}", headers=as_clinician))
    note = current["versions"][-1]["note"]
    edited = dict(
        note,
        text=note["text"].replace(
            "Supportive care with fluids and rest. Return if symptoms worsen.", EDITED_SENTENCE
        ),
    )
    saved = _ok(
        http.put(
            f"/v1/drafts/{draft_id}",
            json={"note": edited, "resources": []},
            headers={
                **as_clinician,
                "If-Match": f'W/"{current["current_version"]}"',
                "Idempotency-Key": f"save-{draft_id}",
            },
        )
    )
    result.diff = _ok(http.get(f"/v1/drafts/{draft_id}/diff", headers=as_clinician))
    approved = _ok(
        http.post(
            f"/v1/drafts/{draft_id}/approve",
            headers={
                **as_clinician,
                "If-Match": f'W/"{saved["current_version"]}"',
                "Idempotency-Key": f"approve-{draft_id}",
            },
        )
    )
    writeback_id = approved["writeback"]["id"]
    executor = app.executor(owner="demo-worker")
    status: dict[str, Any] = {}
    for _ in range(50):
        executor.run_once()
        status = _ok(http.get(f"/v1/writebacks/{writeback_id}", headers=as_clinician))
        if status["state"] not in ("queued", "sending", "ambiguous"):
            break
        time.sleep(0.1)
    result.state = status["state"]
    result.ehr_resource = status["ehr_resource"] or ""
    result.ehr_version = status["ehr_version"] or ""
    result.provenance = status["provenance"] or ""
    if result.provenance:
        gateway = app.ehr.gateway(TENANT)
        kind, _, pid = result.provenance.partition("/")
        answer = gateway.read(kind, pid, request_id=result.correlation_id)
        result.provenance_resource = answer.resource or {}
    result.audit_chain = app.audit_chain(TENANT, result.correlation_id)
    _prove(app, result)


def _prove(app: Application, result: DemoResult) -> None:
    """Sign a checkpoint of the demo tenant's log and verify the store against it.

    The proof the product exists for: every event above is in a signed, verifiable log.
    """
    from chartgate.service.audit_verify import verify_store  # noqa: PLC0415

    made = app.ledger.checkpointer.checkpoint(TENANT)
    result.checkpoint_size = made.size if made is not None else None
    with app.ledger.unit(read_only=True) as unit:
        report = verify_store(
            unit.ledger,
            TENANT,
            app.ledger.key.verifier,
            app.ledger.audit.origin(TENANT),
            anchor_note=app.ledger.anchor.latest(TENANT),
        )
    result.audit_verified = report.ok
    result.audit_detail = report.describe()


def _keys_beside(database_url: str) -> Path:
    """Key file beside a SQLite store (or in a new folder): the demo's store stays provable."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    database = make_url(database_url).database
    if make_url(database_url).get_backend_name() == "sqlite" and database:
        return Path(database).resolve().parent / "chartgate-kek.key"
    return Path(tempfile.mkdtemp(prefix="chartgate-demo-keys-")) / "chartgate-kek.key"


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:  # noqa: PLR2004
        raise RuntimeError(f"demo step failed: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def database_url_from_env() -> str | None:
    """``CHARTGATE_DATABASE_URL`` when set (so a person can inspect the store afterwards)."""
    return os.environ.get("CHARTGATE_DATABASE_URL") or None


def _say(text: str) -> None:
    print(text, flush=True)  # whole URLs, never wrapped, and seen at once through a pipe


def run_ui(database_url: str | None, *, port: int = 0, say: Callable[[str], None] = _say) -> None:
    """``chartgate demo --ui``: the reviewer page on loopback with a demo draft, until Ctrl-C.

    The sandbox EHR with its dev identity provider, chartgate (API and reviewer page) and the
    write-back worker all run in this process. The clinician signs in through the dev IdP
    (authorization code + PKCE; one button, no password) and a care-team grant covers the
    demo encounter, since a sign-in outside an EHR launch carries no launch context.
    Ctrl-C stops the worker, then the servers, and removes the temporary files.
    """
    from chartgate.worker import run_worker  # noqa: PLC0415 - only this mode runs the loop

    with tempfile.TemporaryDirectory(prefix="chartgate-demo-ui-") as tmp:
        workdir = Path(tmp)
        url = database_url or f"sqlite:///{workdir / 'chartgate.sqlite3'}"
        with SandboxServer(workdir / "sandbox-ehr.sqlite3", vendor="generic-r4") as sandbox:
            settings = Settings(
                database_url=url,
                key_file=str(workdir / "kek.key"),
                dev_mode=True,
                processors=sandbox_processors(sandbox),
                tenants=[
                    TenantSettings(
                        id=TENANT,
                        display_name="Demo clinic (synthetic)",
                        issuers=[sandbox.issuer],
                        ehr=EhrSettings(base_url=sandbox.fhir_base, vendor="sandbox"),
                        care_team_grants=[
                            CareTeamGrant(fhir_user=CLINICIAN, encounters=[ENCOUNTER])
                        ],
                    )
                ],
            )
            app = build(settings, migrate=True)
            try:
                with ThreadedServer(create_app(app), port=port) as api:
                    draft_id = _submit_demo_draft(api.base_url, sandbox)
                    review = f"{api.base_url}/review/{draft_id}"
                    say(f"reviewer page: {review}")
                    say(f"dev sign-in:   {api.base_url}/review/login?return_to=/review/{draft_id}")
                    say("  (one click: 'Sign in as demo clinician'; DEV ONLY, no password)")
                    say(f"sandbox EHR:   {sandbox.fhir_base}")
                    say("the write-back worker is running; Ctrl-C stops everything.")
                    run_worker(app)  # returns on Ctrl-C (SIGINT) or SIGTERM
            finally:
                app.close()
    say("stopped; nothing left running.")


def _submit_demo_draft(base_url: str, sandbox: SandboxServer) -> str:
    """The scribe's synthetic draft, submitted through the API like any scribe's."""
    scribe = sandbox.idp.mint(
        subject="scribe-demo-client",
        scopes=["chartgate/drafts.submit"],
        tenant=TENANT,
        amr=(),
        acr=None,
        extra_claims={"client_id": "scribe-demo-client"},
    )
    with httpx.Client(base_url=base_url, timeout=30) as http:
        created = _ok(
            http.post(
                "/v1/drafts",
                json=demo_submission(),
                headers={"Authorization": f"Bearer {scribe}"},
            )
        )
    return str(created["id"])
