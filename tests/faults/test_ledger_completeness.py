"""The ledger holds the whole chain of each write-back, in order, and verifies afterwards.

For the happy path and each failure path (conflict, rejection, ambiguous + reconcile,
driven by the sandbox EHR's fault injection) the events of the draft's correlation id
must appear in ledger order, carry the caller's X-Request-Id where a request caused them,
and the tenant's log must verify end to end after a checkpoint. Synthetic data only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from builders import ENCOUNTER, PATIENT, edited_note, submission
from chartgate.adapters.storage import tables as t
from chartgate.service.audit_verify import verify_store
from stack import Stack, running_stack


def approve(stack: Stack, **overrides: Any) -> tuple[dict[str, Any], str]:
    """Submit (X-Request-Id req-submit), view, save a version, approve; return draft and wb id."""
    created = stack.api.post(
        "/v1/drafts",
        json=submission(**overrides),
        headers={**stack.as_scribe(), "X-Request-Id": "req-submit"},
    )
    assert created.status_code == 201, created.text
    draft: dict[str, Any] = created.json()
    viewed = stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician())
    assert viewed.status_code == 200, viewed.text
    saved = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edited_note(viewed.json(), "rest.", "rest and fluids."),
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert saved.status_code == 200, saved.text
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"2"', "X-Request-Id": "req-approve"},
    )
    assert approved.status_code == 202, approved.text
    return draft, approved.json()["writeback"]["id"]


def chain(stack: Stack, correlation_id: str) -> list[dict[str, Any]]:
    return stack.app.audit_chain(stack.tenant, correlation_id)


def assert_chain(events: list[dict[str, Any]], expected: list[str]) -> None:
    """``expected`` appears in ``events`` in this order; seqs strictly increase."""
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    types = [e["type"] for e in events]
    position = 0
    for kind in expected:
        assert kind in types[position:], (kind, types)
        position = types.index(kind, position) + 1
    by_type = {e["type"]: e for e in events}
    assert by_type["draft.received"]["request_id"] == "req-submit"
    assert by_type["draft.approved"]["request_id"] == "req-approve"
    assert by_type["draft.received"]["data"]["transcript_sha256"]
    assert by_type["draft.received"]["data"]["model_version"] == "2026.10.1"
    assert by_type["draft.approved"]["data"]["amr"]
    assert all(e["correlation_id"] == events[0]["correlation_id"] for e in events)


def assert_verifies(stack: Stack) -> None:
    """Checkpoint now and verify the tenant's whole log in the store."""
    ledger = stack.app.ledger
    ledger.checkpointer.checkpoint(stack.tenant)
    with ledger.unit(read_only=True) as unit:
        report = verify_store(
            unit.ledger,
            stack.tenant,
            ledger.key.verifier,
            ledger.audit.origin(stack.tenant),
            anchor_note=ledger.anchor.latest(stack.tenant),
        )
    assert report.ok, report.describe()
    assert report.unsigned_tail == 0


def set_faults(stack: Stack, plan: dict[str, Any]) -> None:
    answer = httpx.post(f"{stack.sandbox.base_url}/__sandbox/faults", json=plan, timeout=5)
    assert answer.status_code == 200, answer.text


def make_due(stack: Stack, writeback_id: str) -> None:
    with stack.app.engine.begin() as conn:
        conn.execute(
            update(t.writebacks)
            .where(t.writebacks.c.tenant == stack.tenant, t.writebacks.c.id == writeback_id)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


@pytest.fixture
def epic_sandbox_stack(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate sending Markdown to a sandbox imitating Epic, which refuses it (422)."""
    with running_stack(migrated_sqlite_url, tmp_path, sandbox_vendor="epic") as stack:
        yield stack


START = ["draft.received", "draft.viewed", "draft.version_saved", "draft.approved"]


def test_the_committed_story_is_complete_in_order_and_verifies(sandbox_stack: Stack) -> None:
    """Received → viewed → saved → approved → queued → requests/answers → committed."""
    stack = sandbox_stack
    draft, _ = approve(stack)
    stack.work()
    events = chain(stack, draft["correlation_id"])
    assert_chain(
        events,
        [
            *START,
            "writeback.queued",
            "ehr.request",
            "ehr.response",
            "ehr.request",
            "ehr.response",
            "writeback.committed",
        ],
    )
    requests = [e["data"] for e in events if e["type"] == "ehr.request"]
    assert [r["resource_type"] for r in requests] == ["DocumentReference", "Provenance"]
    assert all(r["payload_hash"] for r in requests)
    answers = [e["data"] for e in events if e["type"] == "ehr.response"]
    assert all(a["status"] == 201 and a["resource_id"] and a["version_id"] for a in answers)
    assert_verifies(stack)


def test_the_conflict_path_is_complete_in_order_and_verifies(sandbox_stack: Stack) -> None:
    """A chart changed since the baseline: the chain ends in writeback.conflict."""
    stack = sandbox_stack
    note = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": PATIENT},
        "context": {"encounter": [{"reference": ENCOUNTER}]},
        "content": [
            {"attachment": {"contentType": "text/plain", "data": base64.b64encode(b"x").decode()}}
        ],
    }
    with stack.ehr() as ehr:
        prior = ehr.post(
            "/DocumentReference", json=note, headers={"Content-Type": "application/fhir+json"}
        ).json()
        baseline = {f"DocumentReference/{prior['id']}": prior["meta"]["versionId"]}
        draft, _ = approve(stack, baseline=baseline)
        changed = ehr.put(
            f"/DocumentReference/{prior['id']}",
            json={**prior, "description": "changed elsewhere"},
            headers={"Content-Type": "application/fhir+json"},
        )
        assert changed.status_code == 200, changed.text
    stack.work()
    events = chain(stack, draft["correlation_id"])
    assert_chain(events, [*START, "writeback.queued", "writeback.conflict"])
    assert_verifies(stack)


def test_the_rejection_path_is_complete_in_order_and_verifies(
    epic_sandbox_stack: Stack,
) -> None:
    """The EHR refuses the note (422): request, answer and rejection are all recorded."""
    stack = epic_sandbox_stack
    draft, _ = approve(stack)
    stack.work()
    events = chain(stack, draft["correlation_id"])
    assert_chain(
        events, [*START, "writeback.queued", "ehr.request", "ehr.response", "writeback.rejected"]
    )
    answer = next(e for e in events if e["type"] == "ehr.response")
    assert answer["data"]["status"] == 422
    assert_verifies(stack)


def test_the_ambiguous_and_reconcile_path_is_complete_in_order_and_verifies(
    sandbox_stack: Stack,
) -> None:
    """Commit-then-drop: ambiguous, then reconciled by search, then committed — all recorded."""
    stack = sandbox_stack
    draft, writeback_id = approve(stack)
    set_faults(stack, {"commit_then_drop": {"count": 1}})
    stack.work(rounds=1)
    make_due(stack, writeback_id)
    stack.work()
    events = chain(stack, draft["correlation_id"])
    assert_chain(
        events,
        [
            *START,
            "writeback.queued",
            "ehr.request",
            "ehr.response",
            "writeback.ambiguous",
            "writeback.reconciled",
            "writeback.committed",
        ],
    )
    reconciled = next(e for e in events if e["type"] == "writeback.reconciled")
    assert reconciled["data"]["step"] == "create_document"
    assert reconciled["data"]["chart"] == "mine"
    assert_verifies(stack)
