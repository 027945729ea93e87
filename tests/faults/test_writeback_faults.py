"""Write-back under EHR faults, injected by our sandbox EHR (chartgate on SQLite).

Storms, rate limits, timeouts, dropped answers, refusals, a changed chart and a tampered
outbox row: each must end in the right state with the chart holding at most one document.
Every test checks the EHR's contents, ``GET /v1/writebacks/{id}`` and the audit chain.
Synthetic data only.
"""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from builders import ENCOUNTER, PATIENT, submission
from chartgate.adapters.storage import tables as t
from chartgate.domain.utc import as_utc
from chartgate.service.writeback import WritebackExecutor
from stack import Stack

WRITEBACK_SYSTEM = "urn:chartgate:writeback"
RETRY_AFTER = 30  # long enough that no code path sleeps through it: the row is rescheduled
EHR_TIMEOUT = 3.0  # tests/stack.py configures the EHR read timeout


# -- helpers ----------------------------------------------------------------------------------


def set_faults(stack: Stack, plan: dict[str, Any]) -> None:
    """Replace the sandbox's fault plan over HTTP (``POST <base>/__sandbox/faults``)."""
    answer = httpx.post(f"{stack.sandbox.base_url}/__sandbox/faults", json=plan, timeout=5)
    assert answer.status_code == 200, answer.text


def approve(stack: Stack, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Submit the synthetic note (with ``overrides``) and approve version 1."""
    created = stack.api.post("/v1/drafts", json=submission(**overrides), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft: dict[str, Any] = created.json()
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    return draft, approved.json()["writeback"]


def status(stack: Stack, writeback_id: str) -> dict[str, Any]:
    """What the API says about one write-back."""
    answer = stack.api.get(f"/v1/writebacks/{writeback_id}", headers=stack.as_clinician())
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def draft_state(stack: Stack, draft_id: str) -> str:
    answer = stack.api.get(f"/v1/drafts/{draft_id}", headers=stack.as_clinician())
    assert answer.status_code == 200, answer.text
    state: str = answer.json()["state"]
    return state


def search(stack: Stack, resource_type: str, **params: str) -> list[dict[str, Any]]:
    """Search the EHR directly (faults are cleared first: this is the test looking)."""
    stack.sandbox.faults.clear()
    with stack.ehr() as ehr:
        bundle = ehr.get(f"/{resource_type}", params=params)
    assert bundle.status_code == 200, bundle.text
    return [entry["resource"] for entry in bundle.json().get("entry", [])]


def documents(stack: Stack, writeback_id: str) -> list[dict[str, Any]]:
    return search(stack, "DocumentReference", identifier=f"{WRITEBACK_SYSTEM}|{writeback_id}")


def provenances(stack: Stack, writeback_id: str) -> list[dict[str, Any]]:
    return search(stack, "Provenance", _tag=f"{WRITEBACK_SYSTEM}|{writeback_id}")


def chain(stack: Stack, correlation_id: str) -> list[dict[str, Any]]:
    return stack.app.audit_chain(stack.tenant, correlation_id)


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def document_posts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["type"] == "ehr.request"
        and e["data"]["method"] in ("POST", "PUT")  # PUT: a create with a client-assigned id
        and e["data"]["resource_type"] == "DocumentReference"
    ]


def row(stack: Stack, writeback_id: str) -> dict[str, Any]:
    """The outbox row as stored (for next_attempt_at and may_have_landed)."""
    with stack.app.engine.connect() as conn:
        found = (
            conn.execute(
                select(t.writebacks).where(
                    t.writebacks.c.tenant == stack.tenant, t.writebacks.c.id == writeback_id
                )
            )
            .mappings()
            .one()
        )
    return dict(found)


def set_row(stack: Stack, writeback_id: str, **values: Any) -> None:
    with stack.app.engine.begin() as conn:
        conn.execute(
            update(t.writebacks)
            .where(t.writebacks.c.tenant == stack.tenant, t.writebacks.c.id == writeback_id)
            .values(**values)
        )


def make_due(stack: Stack, writeback_id: str) -> None:
    """Move the next attempt into the past instead of sleeping through the backoff.

    The pause the EHR asked for ends too: a 429/503 with ``Retry-After`` also closes the
    tenant's rate bucket for every worker until then (``adapters/ehr/rate.py``), and without
    this the next attempt would sleep through the rest of it in the rate governor (30 s of
    real time per test, testing the sleep rather than the write-back). Time moves past both,
    as it would have.
    """
    now = datetime.now(UTC)
    set_row(stack, writeback_id, next_attempt_at=now - timedelta(seconds=1))
    with stack.app.engine.begin() as conn:
        conn.execute(
            update(t.ehr_rate_buckets)
            .where(
                t.ehr_rate_buckets.c.bucket == f"ehr:{stack.tenant}",
                t.ehr_rate_buckets.c.blocked_until > now.timestamp() - 1,
            )
            .values(blocked_until=now.timestamp() - 1)
        )


def ehr_pause_at_least(stack: Stack, seconds: float, *, since: datetime) -> bool:
    """The EHR's ``Retry-After`` closed the tenant's rate bucket ``seconds`` past ``since``."""
    with stack.app.engine.connect() as conn:
        until = conn.execute(
            select(t.ehr_rate_buckets.c.blocked_until).where(
                t.ehr_rate_buckets.c.bucket == f"ehr:{stack.tenant}"
            )
        ).scalar_one_or_none()
    return until is not None and until - since.timestamp() >= seconds


def waits_at_least(stack: Stack, writeback_id: str, seconds: float, *, since: datetime) -> bool:
    """The next attempt is at least ``seconds`` after ``since`` (taken before the request).

    Measured from before the request, not from now: on a loaded machine the seconds between
    the answer and this check would otherwise eat into the wait.
    """
    at = row(stack, writeback_id)["next_attempt_at"]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at - since >= timedelta(seconds=seconds)


def prior_note(stack: Stack) -> dict[str, Any]:
    """A note already in the chart for the synthetic encounter (created outside chartgate)."""
    note = {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "subject": {"reference": PATIENT},
        "context": {"encounter": [{"reference": ENCOUNTER}]},
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(b"Synthetic triage note.").decode(),
                }
            }
        ],
    }
    with stack.ehr() as ehr:
        created = ehr.post(
            "/DocumentReference", json=note, headers={"Content-Type": "application/fhir+json"}
        )
    assert created.status_code == 201, created.text
    resource: dict[str, Any] = created.json()
    return resource


# -- transient refusals -------------------------------------------------------------------------


def test_503_storm_with_retry_after_defers_then_commits_once(sandbox_stack: Stack) -> None:
    """A 503 with Retry-After leaves the write ambiguous until then; after the storm: one doc."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"status_storm": {"count": 1, "status": 503, "retry_after": RETRY_AFTER}})
    executor = stack.app.executor(owner="worker-1")

    sent = datetime.now(UTC)
    assert executor.process(stack.tenant, wb_id)
    first = status(stack, wb_id)
    assert first["state"] == "ambiguous", first
    assert first["last_status"] == 503
    assert waits_at_least(stack, wb_id, RETRY_AFTER - 1, since=sent)
    assert ehr_pause_at_least(stack, RETRY_AFTER - 1, since=sent)
    assert executor.run_once() == 0  # not due before Retry-After
    assert documents(stack, wb_id) == []

    make_due(stack, wb_id)
    assert executor.run_once() == 1
    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert [f"DocumentReference/{d['id']}" for d in documents(stack, wb_id)] == [
        final["ehr_resource"]
    ]
    assert len(provenances(stack, wb_id)) == 1

    events = chain(stack, draft["correlation_id"])
    ambiguous = next(e for e in events if e["type"] == "writeback.ambiguous")
    assert ambiguous["data"]["retry_in_seconds"] >= RETRY_AFTER
    reconciled = next(e for e in events if e["type"] == "writeback.reconciled")
    assert reconciled["data"]["chart"] == "absent"  # read back before the resend
    assert types_of(events).count("writeback.committed") == 1


def test_503_storm_during_reconciliation_keeps_the_writeback_ambiguous(
    sandbox_stack: Stack,
) -> None:
    """A 503 on the reconciliation read leaves the write ambiguous and rescheduled, not stuck."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"status_storm": {"count": 2, "status": 503, "retry_after": RETRY_AFTER}})
    executor = stack.app.executor(owner="worker-1")
    assert executor.process(stack.tenant, wb_id)
    assert status(stack, wb_id)["state"] == "ambiguous"

    make_due(stack, wb_id)
    # The reconciliation search meets the second 503: the worker must survive it.
    sent = datetime.now(UTC)
    assert executor.run_once() == 1
    second = status(stack, wb_id)
    assert second["state"] == "ambiguous", second
    assert row(stack, wb_id)["may_have_landed"]
    assert waits_at_least(stack, wb_id, RETRY_AFTER - 1, since=sent)
    assert ehr_pause_at_least(stack, RETRY_AFTER - 1, since=sent)

    make_due(stack, wb_id)
    assert executor.run_once() == 1
    assert status(stack, wb_id)["state"] == "committed"
    assert len(documents(stack, wb_id)) == 1
    assert types_of(chain(stack, draft["correlation_id"])).count("writeback.committed") == 1


def test_429_is_retried_later_and_never_ambiguous(sandbox_stack: Stack) -> None:
    """A 429 cannot have landed: the write is re-queued after Retry-After, not made ambiguous."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"status_storm": {"count": 1, "status": 429, "retry_after": RETRY_AFTER}})
    executor = stack.app.executor(owner="worker-1")

    sent = datetime.now(UTC)
    assert executor.process(stack.tenant, wb_id)
    first = status(stack, wb_id)
    assert first["state"] == "queued", first
    assert first["last_status"] == 429
    assert not row(stack, wb_id)["may_have_landed"]
    assert waits_at_least(stack, wb_id, RETRY_AFTER - 1, since=sent)
    assert ehr_pause_at_least(stack, RETRY_AFTER - 1, since=sent)
    assert executor.run_once() == 0

    make_due(stack, wb_id)
    assert executor.run_once() == 1
    assert status(stack, wb_id)["state"] == "committed"
    assert len(documents(stack, wb_id)) == 1
    assert len(provenances(stack, wb_id)) == 1
    kinds = types_of(chain(stack, draft["correlation_id"]))
    assert "writeback.retry_scheduled" in kinds
    assert "writeback.ambiguous" not in kinds
    assert "writeback.reconciled" not in kinds


def test_transient_error_on_the_baseline_read_is_retried_not_a_conflict(
    sandbox_stack: Stack,
) -> None:
    """A 429 while re-reading the baseline is a retry, never a terminal conflict."""
    stack = sandbox_stack
    prior = prior_note(stack)
    baseline = {f"DocumentReference/{prior['id']}": prior["meta"]["versionId"]}
    draft, writeback = approve(stack, baseline=baseline)
    wb_id = writeback["id"]
    set_faults(stack, {"status_storm": {"count": 1, "status": 429, "retry_after": RETRY_AFTER}})
    executor = stack.app.executor(owner="worker-1")

    sent = datetime.now(UTC)
    assert executor.process(stack.tenant, wb_id)
    first = status(stack, wb_id)
    assert first["state"] == "queued", first  # the chart did not change: nothing to rebase
    assert ehr_pause_at_least(stack, RETRY_AFTER - 1, since=sent)

    make_due(stack, wb_id)
    assert executor.run_once() == 1
    assert status(stack, wb_id)["state"] == "committed"
    assert len(documents(stack, wb_id)) == 1
    assert "writeback.conflict" not in types_of(chain(stack, draft["correlation_id"]))


# -- answers lost after the request left --------------------------------------------------------


def test_timeout_goes_ambiguous_then_reconciles_without_a_duplicate(sandbox_stack: Stack) -> None:
    """An answer later than the EHR timeout is ambiguous; the next run finds the doc, no resend."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"timeout": {"count": 1, "seconds": EHR_TIMEOUT + 0.5}})
    executor = stack.app.executor(owner="worker-1")

    assert executor.process(stack.tenant, wb_id)
    first = status(stack, wb_id)
    assert first["state"] == "ambiguous", first
    assert first["ehr_resource"] is None
    assert len(documents(stack, wb_id)) == 1  # it landed; only the answer was late

    make_due(stack, wb_id)
    assert executor.run_once() == 1
    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    docs = documents(stack, wb_id)
    assert [f"DocumentReference/{d['id']}" for d in docs] == [final["ehr_resource"]]
    assert len(provenances(stack, wb_id)) == 1

    events = chain(stack, draft["correlation_id"])
    lost = [e for e in events if e["type"] == "ehr.response" and e["data"]["status"] is None]
    assert [e["data"]["error"] for e in lost] == ["EhrAmbiguous"]
    assert next(e for e in events if e["type"] == "writeback.reconciled")["data"]["chart"] == "mine"
    assert len(document_posts(events)) == 1


def test_commit_then_drop_leaves_exactly_one_document(sandbox_stack: Stack) -> None:
    """The sandbox commits the create and drops the connection: reconciled to one document."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"commit_then_drop": {"count": 1}})

    assert stack.work(rounds=1) == 1
    assert status(stack, wb_id)["state"] == "ambiguous"
    make_due(stack, wb_id)
    assert stack.work() == 1

    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert [f"DocumentReference/{d['id']}" for d in documents(stack, wb_id)] == [
        final["ehr_resource"]
    ]
    assert [f"Provenance/{p['id']}" for p in provenances(stack, wb_id)] == [final["provenance"]]
    events = chain(stack, draft["correlation_id"])
    assert len(document_posts(events)) == 1
    assert types_of(events).count("writeback.committed") == 1


# -- refusals and decisions that end the write ----------------------------------------------


def test_4xx_from_the_ehr_rejects_with_a_reason_and_writes_nothing(
    epic_sandbox_stack: Stack,
) -> None:
    """An EHR that refuses the note (422) ends the write-back as rejected, with its reason."""
    stack = epic_sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]

    assert stack.work() == 1
    final = status(stack, wb_id)
    assert final["state"] == "rejected", final
    assert final["last_status"] == 422
    assert "422" in final["last_reason"]
    assert "not-supported" in final["last_reason"]
    assert final["ehr_resource"] is None
    assert draft_state(stack, draft["id"]) == "rejected"
    assert documents(stack, wb_id) == []
    assert search(stack, "DocumentReference", patient=PATIENT) == []
    assert provenances(stack, wb_id) == []

    events = chain(stack, draft["correlation_id"])
    rejected = next(e for e in events if e["type"] == "writeback.rejected")
    assert rejected["data"]["status"] == 422
    assert rejected["data"]["reason"] == final["last_reason"]
    assert "writeback.ambiguous" not in types_of(events)
    assert stack.work() == 0  # nothing is retried


def test_changed_chart_baseline_is_a_conflict_and_overwrites_nothing(sandbox_stack: Stack) -> None:
    """A chart document updated after the draft's baseline ⇒ conflict, no overwrite, no new doc."""
    stack = sandbox_stack
    prior = prior_note(stack)
    baseline = {f"DocumentReference/{prior['id']}": prior["meta"]["versionId"]}
    draft, writeback = approve(stack, baseline=baseline)
    wb_id = writeback["id"]

    changed = {**prior, "description": "Amended in the EHR by someone else"}
    with stack.ehr() as ehr:
        updated = ehr.put(
            f"/DocumentReference/{prior['id']}",
            json=changed,
            headers={
                "Content-Type": "application/fhir+json",
                "If-Match": f'W/"{prior["meta"]["versionId"]}"',
            },
        )
    assert updated.status_code == 200, updated.text
    new_version = updated.json()["meta"]["versionId"]
    assert new_version != prior["meta"]["versionId"]

    assert stack.work() == 1
    final = status(stack, wb_id)
    assert final["state"] == "conflict", final
    assert "changed since the draft's baseline" in final["last_reason"]
    assert final["ehr_resource"] is None
    assert draft_state(stack, draft["id"]) == "conflict"

    chart = search(stack, "DocumentReference", patient=PATIENT)
    assert [d["id"] for d in chart] == [prior["id"]]  # no new document
    assert chart[0]["meta"]["versionId"] == new_version  # nothing overwritten
    assert chart[0]["description"] == "Amended in the EHR by someone else"
    assert provenances(stack, wb_id) == []

    events = chain(stack, draft["correlation_id"])
    assert "writeback.conflict" in types_of(events)
    assert "ehr.request" not in types_of(events)  # no write was attempted
    assert stack.work() == 0


def test_unchanged_chart_baseline_commits(sandbox_stack: Stack) -> None:
    """The control case: a baseline still current in the chart lets the write go through."""
    stack = sandbox_stack
    prior = prior_note(stack)
    baseline = {f"DocumentReference/{prior['id']}": prior["meta"]["versionId"]}
    draft, writeback = approve(stack, baseline=baseline)

    assert stack.work() == 1
    assert status(stack, writeback["id"])["state"] == "committed"
    assert len(documents(stack, writeback["id"])) == 1
    assert len(search(stack, "DocumentReference", patient=PATIENT)) == 2
    assert "writeback.committed" in types_of(chain(stack, draft["correlation_id"]))


def test_tampered_payload_hash_is_refused_and_nothing_is_sent(sandbox_stack: Stack) -> None:
    """An outbox row whose hash no longer matches the approval is refused before any request."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_row(stack, wb_id, payload_hash="sha256:" + "0" * 64)

    assert stack.work() == 1
    final = status(stack, wb_id)
    assert final["state"] == "rejected", final
    assert "integrity" in final["last_reason"]
    assert final["ehr_resource"] is None
    assert draft_state(stack, draft["id"]) == "rejected"
    assert search(stack, "DocumentReference") == []
    assert search(stack, "Provenance") == []

    events = chain(stack, draft["correlation_id"])
    kinds = types_of(events)
    refused = next(e for e in events if e["type"] == "writeback.integrity_refused")
    assert refused["data"]["payload_hash_ok"] is False
    assert refused["writeback_id"] == wb_id
    assert kinds.index("writeback.integrity_refused") < kinds.index("writeback.rejected")
    assert "ehr.request" not in kinds


# -- EHRs without conditional create (Epic): chartgate is the only guard ----------------------


def test_commit_then_drop_without_conditional_create_leaves_one_document(epic_stack: Stack) -> None:
    """Without If-None-Exist, a dropped answer is still reconciled by search to one document."""
    stack = epic_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"commit_then_drop": {"count": 1}})

    assert stack.work(rounds=1) == 1
    assert status(stack, wb_id)["state"] == "ambiguous"
    make_due(stack, wb_id)
    assert stack.work() == 1

    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert [f"DocumentReference/{d['id']}" for d in documents(stack, wb_id)] == [
        final["ehr_resource"]
    ]
    assert len(provenances(stack, wb_id)) == 1
    assert len(document_posts(chain(stack, draft["correlation_id"]))) == 1


def test_timeout_before_commit_without_conditional_create_does_not_duplicate(
    epic_stack: Stack,
) -> None:
    """A create still in flight at the EHR after our timeout must not be re-sent as a second doc."""
    stack = epic_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    held = EHR_TIMEOUT + 0.6  # the EHR acts on the request 0.6 s after we gave up on it
    set_faults(stack, {"timeout": {"count": 1, "seconds": held, "before_commit": True}})
    # The production executor with its shortest jitter: the first retry comes 0.25 s later.
    executor = WritebackExecutor(
        uow=stack.app.uow,
        ehr=stack.app.ehr,
        clock=stack.app.clock,
        owner="worker-1",
        jitter=lambda: 0.0,
    )
    started = time.monotonic()

    assert executor.process(stack.tenant, wb_id)
    assert status(stack, wb_id)["state"] == "ambiguous"
    # The worker keeps polling on its own schedule (no forcing) until the held write has
    # landed, plus a margin; the deadline stays well inside the settle window (2 x timeout),
    # so a resend here would be the bug, not slowness of a loaded machine.
    deadline = started + held + 3.0
    while time.monotonic() < deadline:
        executor.run_once()
        if documents(stack, wb_id) and time.monotonic() > started + held + 0.5:
            break
        time.sleep(0.05)

    notes = len(documents(stack, wb_id))
    assert notes == 1, f"the lost create was re-sent: {notes} notes in the chart"
    events = chain(stack, draft["correlation_id"])
    assert len(document_posts(events)) == 1


def test_worker_that_lost_its_lease_sends_nothing_more(epic_stack: Stack) -> None:
    """A worker whose lease ran out mid-request must not go on writing beside its successor."""
    stack = epic_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    slow = WritebackExecutor(
        uow=stack.app.uow,
        ehr=stack.app.ehr,
        clock=stack.app.clock,
        owner="slow",
        lease=timedelta(seconds=1),
    )
    # The create commits at once but its answer comes 2 s later (inside the 3 s EHR timeout).
    set_faults(stack, {"timeout": {"count": 1, "seconds": 2.0}})
    errors: list[BaseException] = []

    def run_slow() -> None:
        try:
            slow.process(stack.tenant, wb_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run_slow)
    thread.start()
    # The slow lease is renewed just before the create goes out and its answer comes 2 s later:
    # once the stored lease has run out, a successor must take the row over. Polled on the row
    # rather than one fixed sleep from thread start, which failed on a loaded machine where the
    # slow worker itself started late.
    deadline = time.monotonic() + 10
    while True:
        current = row(stack, wb_id)
        lease_until = current["lease_until"]
        if (
            current["lease_owner"] == "slow"
            and lease_until is not None
            and as_utc(lease_until) < datetime.now(UTC)
        ):
            break
        assert time.monotonic() < deadline, f"the slow worker's lease never ran out: {current}"
        time.sleep(0.02)
    assert stack.app.executor(owner="successor").run_once() == 1
    thread.join(timeout=10)
    assert not errors, errors

    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert len(documents(stack, wb_id)) == 1
    provenance = provenances(stack, wb_id)
    assert [f"Provenance/{p['id']}" for p in provenance] == [final["provenance"]], (
        "both workers wrote a Provenance"
    )
    events = chain(stack, draft["correlation_id"])
    after_expiry = [
        e
        for e in events
        if e["type"] == "ehr.request"
        and e["actor"] == "worker:slow"
        and e["data"]["resource_type"] == "Provenance"
    ]
    assert after_expiry == []
