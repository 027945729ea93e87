"""The ledger as BALP AuditEvents: Medplum validates them, and the durable sink delivers each once.

chartgate runs the full story against the Medplum test EHR (an implementation we did not
write), which is also the audit sink. ``$validate`` checks every AuditEvent against the
base R4 definitions; the sink is pushed, broken mid-way (the EHR commits and then drops
the connection, or the pusher dies before it moves its cursor) and pushed again, and the
sink holds every ledger entry exactly once. Synthetic data only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from builders import PATIENT, SOAP_NOTE, submission
from chartgate.bootstrap.ledger import build_audit_sink
from chartgate.cli.main import app as cli
from chartgate.ledger.export import ledger_pointer, to_audit_event
from chartgate.service.audit import entry_json
from chartgate.service.audit_sink import AuditSinkPusher, SinkCursor, SinkCursors
from chartgate.worker import run_worker
from stack import Stack, running_stack

pytestmark = pytest.mark.medplum
FHIR_JSON = "application/fhir+json"


@pytest.fixture
def stack(
    migrated_database_url: str, medplum_fresh_base_url: str, tmp_path: Path
) -> Iterator[Stack]:
    """Chartgate on both databases, writing to (and auditing into) the Medplum test EHR."""
    with running_stack(migrated_database_url, tmp_path, ehr_base=medplum_fresh_base_url) as running:
        yield running


@pytest.fixture
def fhir(medplum_fresh_base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=medplum_fresh_base_url,
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        timeout=10,
    ) as client:
        yield client


def story(stack: Stack) -> None:
    """Submit, view, approve, write back, plus an auditor's query and a refused approval."""
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft = created.json()
    viewed = stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician())
    assert viewed.status_code == 200, viewed.text
    refused = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(amr=["pwd"]), "If-Match": 'W/"1"'},
    )
    assert refused.status_code in {401, 403}, refused.text
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    stack.work()
    auditor = stack.sandbox.idp.mint(
        subject="auditor-robin", scopes=["chartgate/audit.read"], tenant=stack.tenant
    )
    found = stack.api.get(
        "/v1/audit/events",
        params={"patient": PATIENT},
        headers={"Authorization": f"Bearer {auditor}"},
    )
    assert found.status_code == 200, found.text


def ledger_entries(stack: Stack) -> list[dict[str, Any]]:
    with stack.app.ledger.unit(read_only=True) as unit:
        return [entry_json(e) for e in unit.ledger.entries(stack.tenant)]


def sink_contents(fhir: httpx.Client) -> list[dict[str, Any]]:
    """Every AuditEvent in the sink (following next links)."""
    found: list[dict[str, Any]] = []
    url: str | None = "AuditEvent?_count=1000"
    while url:
        page = fhir.get(url)
        assert page.status_code == 200, page.text
        bundle = page.json()
        found.extend(e["resource"] for e in bundle.get("entry", []))
        url = next(
            (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
        )
    return found


def pusher_for(stack: Stack, sink_url: str, **overrides: Any) -> AuditSinkPusher:
    settings = stack.app.settings.model_copy(update={"audit_sink_url": sink_url, **overrides})
    closers: list[Callable[[], None]] = []
    pusher = build_audit_sink(
        settings, stack.app.engine, stack.app.ledger, stack.app.clock, stack.app.gate, closers
    )
    stack.app._closers.extend(closers)
    assert pusher is not None
    return pusher


def test_every_audit_event_of_the_story_passes_medplum_validate(
    stack: Stack, fhir: httpx.Client
) -> None:
    """Each ledger entry of a full story, mapped to BALP, is a valid R4 AuditEvent."""
    story(stack)
    entries = ledger_entries(stack)
    origin = stack.app.ledger.audit.origin(stack.tenant)
    kinds = set()
    for item in entries:
        resource = to_audit_event(item, origin=origin)
        kinds.add(item["event"]["type"])
        response = fhir.post("AuditEvent/$validate", json=resource)
        assert response.status_code == 200, (item["event"]["type"], response.text)
        errors = [i for i in response.json()["issue"] if i["severity"] in {"error", "fatal"}]
        assert errors == [], (item["event"]["type"], errors)
    assert {"draft.received", "ehr.request", "writeback.committed", "audit.read"} <= kinds
    assert "security.authz_denied" in kinds


def test_the_fhir_export_command_writes_ndjson_that_names_no_patient(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``chartgate audit export --format fhir``: one AuditEvent per entry, pseudonyms only."""
    story(stack)
    settings = stack.app.settings
    monkeypatch.setenv("CHARTGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CHARTGATE_KEY_FILE", settings.key_file)
    monkeypatch.setenv("CHARTGATE_TENANTS", json.dumps([settings.tenants[0].model_dump()]))
    out = tmp_path / "export"
    result = CliRunner().invoke(
        cli, ["audit", "export", "--format", "fhir", "--out", str(out), "--tenant", stack.tenant]
    )
    assert result.exit_code == 0, result.output
    lines = (out / f"{stack.tenant}.auditevents.ndjson").read_text().splitlines()
    resources = [json.loads(line) for line in lines]
    assert len(resources) >= len(ledger_entries(stack)) - 1  # the export's own read comes after
    text = "\n".join(lines)
    assert PATIENT not in text
    assert "Synthetic patient reports" not in text
    assert SOAP_NOTE.splitlines()[1] not in text
    assert all(ledger_pointer(r) is not None for r in resources)


def test_a_push_broken_after_commit_delivers_each_event_exactly_once(
    stack: Stack, fhir: httpx.Client, medplum_faults: Callable[..., dict[str, Any]]
) -> None:
    """The EHR commits a PUT and drops the answer; the next push re-sends it as an update."""
    story(stack)
    checkpoint = stack.app.ledger.checkpointer.checkpoint(stack.tenant)
    assert checkpoint is not None
    sink_url = str(fhir.base_url).rstrip("/")
    pusher = pusher_for(stack, sink_url, audit_sink_batch=5)

    first = pusher.push()[0]
    assert (first.pushed, first.last_seq, first.error) == (5, 4, None)
    medplum_faults(drop_after_commit=1)
    broken = pusher.push()[0]
    assert broken.pushed == 0
    assert broken.last_seq == 4
    assert broken.error is not None
    assert "EhrAmbiguous" in broken.error
    drained = pusher.drain()[0]
    assert drained.error is None
    assert drained.last_seq == checkpoint.size - 1

    stored = sink_contents(fhir)
    seqs = sorted(p.seq for p in map(ledger_pointer, stored) if p is not None)
    assert seqs == list(range(checkpoint.size))  # every provable entry, none twice
    assert len({r["id"] for r in stored}) == len(stored)
    resent = next(r for r in stored if ledger_pointer(r).seq == 5)  # type: ignore[union-attr]
    history = fhir.get(f"AuditEvent/{resent['id']}/_history").json()
    assert len(history["entry"]) == 2  # committed-and-dropped, then updated: never a second one
    assert pusher.status()[0].last_error is None


@dataclass
class DiesBeforeTheCursorMoves:
    """A ``SinkCursors`` whose process dies before it can write any progress."""

    real: SinkCursors

    def claim(self, *args: Any, **kwargs: Any) -> int | None:
        return self.real.claim(*args, **kwargs)

    def advance(self, *args: Any, **kwargs: Any) -> bool:
        del args, kwargs
        return True  # killed: the row keeps its old seq and the dead pusher's lease

    def all(self) -> list[SinkCursor]:
        return self.real.all()


class LaterClock:
    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_a_pusher_killed_before_its_cursor_moves_is_taken_over_and_resends_once(
    stack: Stack, fhir: httpx.Client
) -> None:
    """A dead pusher's lease expires; its successor re-sends the range as updates."""
    story(stack)
    checkpoint = stack.app.ledger.checkpointer.checkpoint(stack.tenant)
    assert checkpoint is not None
    sink_url = str(fhir.base_url).rstrip("/")
    pusher = pusher_for(stack, sink_url)
    dead = AuditSinkPusher(
        ledger=stack.app.ledger.unit,
        cursors=DiesBeforeTheCursorMoves(pusher._cursors),
        sinks=pusher._sinks,
        clock=stack.app.clock,
        origin_prefix=stack.app.settings.ledger_origin,
        owner="dead-worker",
    )
    assert dead.push()[0].pushed == checkpoint.size
    assert pusher.push()[0].busy  # the dead worker's lease still holds
    successor = AuditSinkPusher(
        ledger=stack.app.ledger.unit,
        cursors=pusher._cursors,
        sinks=pusher._sinks,
        clock=LaterClock(timedelta(minutes=10)),
        origin_prefix=stack.app.settings.ledger_origin,
        owner="successor",
    )
    report = successor.drain()[0]
    assert report.error is None
    assert report.last_seq == checkpoint.size - 1
    stored = sink_contents(fhir)
    assert sorted(ledger_pointer(r).seq for r in stored) == list(range(checkpoint.size))  # type: ignore[union-attr]


def test_the_worker_loop_pushes_what_it_has_checkpointed(stack: Stack, fhir: httpx.Client) -> None:
    """``chartgate worker``: write back, sign the checkpoint, push the AuditEvents, in one poll."""
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft = created.json()
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    stack.app.audit_sink = pusher_for(stack, str(fhir.base_url).rstrip("/"))
    run_worker(stack.app, once=True)
    with stack.app.ledger.unit(read_only=True) as unit:
        signed = unit.ledger.latest_checkpoint(stack.tenant)
    assert signed is not None
    kinds = {
        next(c["code"] for c in r["subtype"] if c["system"] == "urn:chartgate:audit-event-type")
        for r in sink_contents(fhir)
    }
    assert "writeback.committed" in kinds
    assert len(sink_contents(fhir)) == signed.size


def test_the_push_command_fills_the_sink_and_reports_its_cursor(
    stack: Stack, fhir: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``chartgate audit push`` then ``--status``: caught up, exit 0, the cursor shown."""
    story(stack)
    settings = stack.app.settings
    tenant = settings.tenants[0].model_dump() | {"audit_sink_url": str(fhir.base_url).rstrip("/")}
    monkeypatch.setenv("CHARTGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CHARTGATE_KEY_FILE", settings.key_file)
    monkeypatch.setenv("CHARTGATE_TENANTS", json.dumps([tenant]))
    result = CliRunner().invoke(cli, ["audit", "push", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report[0]["error"] is None
    assert report[0]["pushed"] == len(sink_contents(fhir)) > 0
    status = CliRunner().invoke(cli, ["audit", "push", "--status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)[0]["last_seq"] == report[0]["last_seq"]
