"""OpenTelemetry: one trace from the scribe's submit, through the outbox, to the EHR write.

The scribe sends a W3C ``traceparent``; a clinician approves later in a request of their
own; the worker sends the note. With an in-memory span exporter, the EHR's
DocumentReference POST must belong to the scribe's trace, under the worker's EHR span.
With tracing off (the default) nothing is stored or instrumented.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from builders import TENANT, submission
from chartgate.adapters.storage import tables as t
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.ledger.export import to_audit_event
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from stack import clinician_claims, scribe_claims

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SCRIBE_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SCRIBE_SPAN}-01"


@contextmanager
def traced_stack(
    tmp_path: Path, exporter: InMemorySpanExporter | None
) -> Iterator[tuple[Application, str, SandboxServer]]:
    """Sandbox (IdP + EHR) and the API, tracing into ``exporter`` (None: tracing off)."""
    with SandboxServer(tmp_path / "sandbox.sqlite3") as sandbox:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'cg.sqlite3'}",
            key_file=str(tmp_path / "kek.key"),
            tenants=[
                TenantSettings(
                    id=TENANT,
                    issuers=[sandbox.issuer],
                    ehr=EhrSettings(base_url=sandbox.fhir_base, vendor="sandbox"),
                )
            ],
        )
        app = build(settings, migrate=True, span_exporter=exporter)
        try:
            with ThreadedServer(create_app(app)) as server:
                yield app, server.base_url, sandbox
        finally:
            app.close()


def post(url: str, body: object, headers: dict[str, str]) -> dict[str, object]:
    """POST with urllib: an instrumented httpx client would replace our traceparent."""
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        loaded: dict[str, object] = json.loads(answer.read())
        return loaded


def scribe(sandbox: SandboxServer) -> dict[str, str]:
    """The scribe client's bearer header."""
    return {"Authorization": f"Bearer {sandbox.idp.mint(**scribe_claims(TENANT))}"}


def clinician(sandbox: SandboxServer) -> dict[str, str]:
    """A clinician's bearer header, ready to approve version 1."""
    token = sandbox.idp.mint(**clinician_claims(TENANT))
    return {"Authorization": f"Bearer {token}", "If-Match": 'W/"1"'}


def test_one_trace_runs_from_the_scribes_submit_to_the_ehr_write(tmp_path: Path) -> None:
    """Submit (with traceparent) → outbox row → worker's EHR span → httpx POST, one trace id."""
    exporter = InMemorySpanExporter()
    with traced_stack(tmp_path, exporter) as (app, base, sandbox):
        draft = post(
            f"{base}/v1/drafts", submission(), {**scribe(sandbox), "traceparent": TRACEPARENT}
        )
        post(f"{base}/v1/drafts/{draft['id']}/approve", {}, clinician(sandbox))
        with app.engine.connect() as conn:
            stored = conn.execute(select(t.writebacks.c.traceparent)).scalar()
        assert stored is not None
        assert stored.split("-")[1] == TRACE_ID  # the scribe's trace, not the approver's
        assert app.executor(owner="traced-worker").run_once() == 1
        events = ledger_events(app)
    # The ledger records the trace (BALP Traceparent entity): the scribe's trace on the submit
    # and on the worker's EHR write, the approver's own on the approval.
    traces = {kind: tp.split("-")[1] for kind, tp in events if tp}
    assert traces["draft.received"] == TRACE_ID
    assert traces["writeback.committed"] == TRACE_ID
    assert traces["ehr.response"] == TRACE_ID
    assert traces["draft.approved"] != TRACE_ID
    spans = exporter.get_finished_spans()
    in_trace = [s for s in spans if format(s.context.trace_id, "032x") == TRACE_ID]
    names = [s.name for s in in_trace]
    submit = next(s for s in in_trace if s.name == "POST /v1/drafts")
    assert submit.parent is not None
    assert format(submit.parent.span_id, "016x") == SCRIBE_SPAN
    # The executor writes with a conditional create or a PUT to a chosen id, by profile.
    writes = {"ehr create DocumentReference", "ehr create_with_id DocumentReference"}
    write = next((s for s in in_trace if s.name in writes), None)
    assert write is not None, names
    assert write.attributes is not None
    assert write.attributes["http.response.status_code"] in {200, 201}
    client = [
        s for s in in_trace if s.parent is not None and s.parent.span_id == write.context.span_id
    ]
    assert client, names  # the httpx span under it: that context went out as traceparent
    assert {s.name for s in client} & {"POST", "PUT"}
    approve = next(s for s in spans if s.name == "POST /v1/drafts/{draft_id}/approve")
    assert format(approve.context.trace_id, "032x") != TRACE_ID
    assert not [s for s in in_trace if "dry cough" in json.dumps(dict(s.attributes or {}))]


def ledger_events(app: Application) -> list[tuple[str, str | None]]:
    """(type, traceparent) of every ledger event; each exported AuditEvent carries the trace."""
    out = []
    with app.ledger.unit(read_only=True) as unit:
        for entry in unit.ledger.entries(TENANT):
            event = entry.event()
            resource = to_audit_event(
                {"seq": entry.seq, "leaf_hash": entry.leaf_hash.hex(), "event": event},
                origin="test",
            )
            balp = [
                e["what"]["identifier"]["value"]
                for e in resource.get("entity", [])
                if e.get("type", {}).get("code") == "Traceparent"
            ]
            assert balp == ([event["traceparent"]] if event.get("traceparent") else [])
            out.append((entry.type, event.get("traceparent")))
    return out


def test_tracing_off_stores_no_trace_and_instruments_nothing(tmp_path: Path) -> None:
    """Without an exporter the traceparent is ignored: no column value, plain httpx."""
    with traced_stack(tmp_path, None) as (app, base, sandbox):
        assert not app.tracing.enabled
        draft = post(
            f"{base}/v1/drafts", submission(), {**scribe(sandbox), "traceparent": TRACEPARENT}
        )
        post(f"{base}/v1/drafts/{draft['id']}/approve", {}, clinician(sandbox))
        with app.engine.connect() as conn:
            assert conn.execute(select(t.writebacks.c.traceparent)).scalar() is None
            assert conn.execute(select(t.drafts.c.traceparent)).scalar() is None
        assert [kind for kind, trace in ledger_events(app) if trace] == []
        assert not hasattr(httpx.HTTPTransport.handle_request, "__wrapped__")
