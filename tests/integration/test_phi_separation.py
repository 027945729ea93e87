"""No PHI in application logs or metrics: the full demo story, every log line, /metrics.

Issue 5, item 6. The logs are configured as ``serve``, ``worker`` and ``demo`` configure
them (``observability.configure_logging``) at DEBUG, so every stdlib record (uvicorn,
httpx, SQLAlchemy, our own) and every structlog event is rendered; the test captures the
process's stdout and stderr at the file-descriptor level and reads ``/metrics``. None of it
may contain a synthetic patient's name, MRN or birth date, a sentence of the note, the
patient or encounter reference, or a bearer token. Synthetic data only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from builders import ENCOUNTER, PATIENT, SOAP_NOTE, edited_note, submission
from chartgate.cli.demo import AI_NOTE, EDITED_SENTENCE, run_demo
from chartgate.observability import configure_logging
from stack import Stack, running_stack

# The sandbox EHR's synthetic patient pat-001 (chartgate.sandbox.fhir.SEED_RESOURCES).
PATIENT_NAME = ("Alex", "Synthetic, Alex", "Alex Synthetic")
MRN = "SYN-0001"
BIRTH_DATE = "1970-01-01"
JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")


def note_sentences() -> set[str]:
    """Every non-heading line of both synthetic notes, and the clinician's edit."""
    lines = {line.strip() for line in (SOAP_NOTE + AI_NOTE).splitlines()}
    return {line for line in lines if line and not line.startswith("#")} | {EDITED_SENTENCE}


def forbidden() -> list[str]:
    """What must never appear in logs or metrics."""
    return [
        *PATIENT_NAME,
        MRN,
        BIRTH_DATE,
        PATIENT,
        ENCOUNTER,
        PATIENT.split("/")[1],
        ENCOUNTER.split("/")[1],
        *sorted(note_sentences()),
    ]


def assert_clean(text: str, *, tokens: tuple[str, ...] = ()) -> None:
    leaks = [needle for needle in forbidden() if needle in text]
    leaks += [token[:12] + "..." for token in tokens if token in text]
    assert leaks == [], f"PHI or credentials in logs/metrics: {leaks}"
    assert JWT.search(text) is None, "a JWT-shaped token in logs/metrics"


@pytest.fixture
def logs_as_in_production(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """``configure_logging("DEBUG")`` (the most verbose a process may be), undone afterwards."""
    del capfd  # requested first, so the handler writes into the capture
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG")
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False
    structlog.reset_defaults()


def test_the_demo_story_logs_no_phi(
    capfd: pytest.CaptureFixture[str], logs_as_in_production: None, tmp_path: Path
) -> None:
    """``chartgate demo`` end to end: every captured byte of output is free of PHI."""
    del logs_as_in_production
    logging.getLogger("chartgate.test").info("phi-separation probe")  # the capture works
    result = run_demo(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    assert result.state == "committed"
    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert "phi-separation probe" in output
    assert_clean(output)


def test_a_story_with_failures_leaves_no_phi_in_logs_or_metrics(
    capfd: pytest.CaptureFixture[str], logs_as_in_production: None, tmp_path: Path
) -> None:
    """Story plus refusals and bad input over HTTP; then the logs and /metrics are checked."""
    del logs_as_in_production
    with running_stack(f"sqlite:///{tmp_path / 'cg.sqlite3'}", tmp_path) as stack:
        tokens = story_with_failures(stack)
        metrics = stack.api.get("/metrics", headers=stack.as_admin())
        assert metrics.status_code == 200
    captured = capfd.readouterr()
    assert_clean(captured.out + captured.err, tokens=tokens)
    assert_clean(metrics.text, tokens=tokens)
    assert "chartgate_http_requests_total" in metrics.text
    for line in metrics.text.splitlines():
        if line.startswith("chartgate_") and "{" in line:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            assert set(labels) <= METRIC_LABELS, line
            if "tenant" in labels:
                assert labels["tenant"] == stack.tenant, line  # a configured org id only


METRIC_LABELS = {
    # The only label names /metrics may carry: bounded sets, none of them a person or draft.
    *("route", "method", "status", "outcome", "le", "kind", "state", "status_class"),
    *("tenant", "profile", "resource_type", "result", "via", "rule", "accepted", "reason"),
    "logger",
    *("mode", "scope"),  # kill switches: the Mode and Scope enums (domain/killswitch.py)
    *("purpose", "operation"),  # key uses: kek/ledger and wrap/unwrap/sign
}


def story_with_failures(stack: Stack) -> tuple[str, ...]:
    """The demo story plus the failures most likely to echo input: return the tokens used."""
    scribe, clinician = stack.scribe_token(), stack.clinician_token()
    as_scribe = {"Authorization": f"Bearer {scribe}"}
    as_clinician = {"Authorization": f"Bearer {clinician}"}
    created = stack.api.post("/v1/drafts", json=submission(), headers=as_scribe)
    assert created.status_code == 201, created.text
    draft = created.json()
    # Refusals that carry PHI in the request: a bad body, another patient, an unknown field.
    bad = submission(patient="Patient/pat-002", unexpected=SOAP_NOTE)
    assert stack.api.post("/v1/drafts", json=bad, headers=as_scribe).status_code == 422
    broken = stack.api.post("/v1/drafts", content=b"{" + AI_NOTE.encode(), headers=as_scribe)
    assert broken.status_code in {400, 422}, broken.text
    forged = {"Authorization": f"Bearer {scribe[:-4]}AAAA"}
    assert stack.api.get(f"/v1/drafts/{draft['id']}", headers=forged).status_code == 401
    assert stack.api.post("/v1/drafts", json=submission(), headers=as_clinician).status_code == 403
    viewed = stack.api.get(f"/v1/drafts/{draft['id']}", headers=as_clinician)
    assert viewed.status_code == 200
    saved = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edited_note(draft, "Return if symptoms worsen.", EDITED_SENTENCE),
        headers={**as_clinician, "If-Match": 'W/"1"'},
    )
    assert saved.status_code == 200, saved.text
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**as_clinician, "If-Match": 'W/"2"', "Idempotency-Key": "approve-1"},
    )
    assert approved.status_code == 202, approved.text
    stack.work()
    stack.app.ledger.checkpointer.tick()
    auditor = stack.sandbox.idp.mint(
        subject="auditor-robin", scopes=["chartgate/audit.read"], tenant=stack.tenant
    )
    found = stack.api.get(
        "/v1/audit/events",
        params={"patient": PATIENT},
        headers={"Authorization": f"Bearer {auditor}"},
    )
    assert found.status_code == 200, found.text
    return scribe, clinician, auditor
