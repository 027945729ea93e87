"""The worker recognises its own write when the answer is lost or unusual (issue 10, items 1-6).

Each test here failed on the executor before the write-back became a domain aggregate with
an outcome table and a mark on every version it writes: a refused Provenance after the note
landed made a duplicate, a late or lost finalize was called a conflict, a second finalize was
a 500, escalation stretched an outage, and an Epic-like create that landed after the settle
window was sent twice. Sandbox EHR over real HTTP, SQLite store, synthetic data only.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from test_writeback_faults import (
    EHR_TIMEOUT,
    approve,
    chain,
    documents,
    draft_state,
    make_due,
    provenances,
    row,
    set_faults,
    set_row,
    status,
    types_of,
)

from chartgate.domain.errors import EhrAmbiguous
from chartgate.service.writeback import WritebackExecutor
from stack import Stack

pytestmark = pytest.mark.timeout(120)


def committed_note(stack: Stack) -> tuple[dict[str, Any], str]:
    """A note approved and written (preliminary) with no fault; returns the draft and its wb."""
    draft, writeback = approve(stack)
    stack.work()
    assert status(stack, writeback["id"])["state"] == "committed"
    return draft, writeback["id"]


def finalize(stack: Stack, draft_id: str) -> str:
    """Ask to finalize the note (step-up token); return the new write-back's id."""
    answer = stack.api.post(f"/v1/drafts/{draft_id}/finalize", headers=stack.as_clinician())
    assert answer.status_code == 202, answer.text
    writeback_id: str = answer.json()["writeback"]["id"]
    return writeback_id


def settle(stack: Stack, writeback_id: str, *, rounds: int = 6) -> dict[str, Any]:
    """Make the write-back due and run the worker until it leaves queued/ambiguous."""
    current = status(stack, writeback_id)
    for _ in range(rounds):
        if current["state"] not in ("queued", "ambiguous", "sending"):
            break
        make_due(stack, writeback_id)
        stack.work(rounds=1)
        current = status(stack, writeback_id)
    return current


def wait_for(check: Any, *, seconds: float) -> bool:
    """Poll ``check`` until it is true or ``seconds`` pass (for a request held at the EHR)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def doc_status_in_chart(stack: Stack, draft_writeback: str) -> str:
    docs = documents(stack, draft_writeback)
    assert len(docs) == 1, docs
    value: str = docs[0]["docStatus"]
    return value


# -- 1. a refusal after the note landed --------------------------------------------------------


@pytest.mark.parametrize("refusal", [400, 403])
def test_a_refused_provenance_after_the_note_landed_is_partial_never_editable(
    sandbox_stack: Stack, refusal: int
) -> None:
    """201 to the note then 4xx to its Provenance: partial, committed draft, no second note."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"refuse": {"count": 1, "status": refusal, "resource_type": "Provenance"}})
    stack.work()

    shown = status(stack, wb_id)
    assert shown["state"] == "partial", shown
    assert shown["note_in_chart"] is True
    assert shown["ehr_resource"] is not None
    assert shown["provenance"] is None
    assert draft_state(stack, draft["id"]) == "committed"

    # The note is in the chart: it cannot be edited and approved again as if nothing landed.
    view = stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician()).json()
    current = view["versions"][-1]
    edited = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json={"note": current["note"], "resources": current["resources"]},
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert edited.status_code == 409, edited.text
    again = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve", headers={**stack.as_clinician(), "If-Match": 'W/"1"'}
    )
    assert again.status_code == 409, again.text
    stack.work()
    notes = [
        r
        for r in documents_for_encounter(stack)
        if r.get("identifier", [{}])[0].get("value") == wb_id
    ]
    assert len(notes) == 1
    assert len(documents_for_encounter(stack)) == 1
    assert "writeback.partial" in types_of(chain(stack, draft["correlation_id"]))


def test_a_partial_writeback_can_send_its_provenance_again_when_a_person_says_so(
    sandbox_stack: Stack,
) -> None:
    """A person retries the refused follow-up: the Provenance is written, nothing else."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"refuse": {"count": 1, "status": 403, "resource_type": "Provenance"}})
    stack.work()
    assert status(stack, wb_id)["state"] == "partial"

    resolved = stack.api.post(
        f"/v1/writebacks/{wb_id}/resolve",
        json={"action": "retry-follow-up"},
        headers=stack.as_clinician(),
    )
    assert resolved.status_code == 200, resolved.text
    stack.work()
    assert status(stack, wb_id)["state"] == "committed"
    assert len(documents(stack, wb_id)) == 1
    assert len(provenances(stack, wb_id)) == 1
    assert draft_state(stack, draft["id"]) == "committed"
    assert "writeback.resolved" in types_of(chain(stack, draft["correlation_id"]))


def documents_for_encounter(stack: Stack) -> list[dict[str, Any]]:
    """Every DocumentReference in the sandbox (it holds only this test's notes)."""
    stack.sandbox.faults.clear()
    with stack.ehr() as ehr:
        bundle = ehr.get("/DocumentReference", params={"_count": "100"})
    assert bundle.status_code == 200, bundle.text
    return [
        entry["resource"]
        for entry in bundle.json().get("entry", [])
        if any(
            i.get("system") == "urn:chartgate:writeback"
            for i in entry["resource"].get("identifier", [])
        )
    ]


# -- 2. and 3. a finalize that landed but whose answer did not come back -----------------------


def test_a_finalize_put_that_lands_after_the_timeout_is_committed_not_a_conflict(
    sandbox_stack: Stack,
) -> None:
    """The PUT commits after chartgate gave up; the next attempt sees its own version."""
    stack = sandbox_stack
    draft, first = committed_note(stack)
    wb_id = finalize(stack, draft["id"])
    hold = EHR_TIMEOUT + 1.0
    set_faults(stack, {"timeout": {"count": 1, "seconds": hold, "before_commit": True}})
    stack.work(rounds=1)
    assert status(stack, wb_id)["state"] == "ambiguous"  # chartgate gave up on the PUT
    stack.sandbox.faults.release_held()  # so it lands after the timeout, without waiting more
    landed = lambda: documents(stack, first)[0]["docStatus"] == "final"  # noqa: E731
    assert wait_for(landed, seconds=hold + 10)  # the held PUT has now landed at the EHR

    final = settle(stack, wb_id)
    assert final["state"] == "committed", final
    assert doc_status_in_chart(stack, first) == "final"
    assert draft_state(stack, draft["id"]) == "committed"
    events = types_of(chain(stack, draft["correlation_id"]))
    assert "writeback.conflict" not in events
    assert len(provenances(stack, wb_id)) == 1


class _LatePutGateway:
    """The real sandbox gateway, except that the first PUT lands only after chartgate gave up.

    The first ``update`` is held (the worker sees a timeout); it reaches the EHR just before
    the worker's next PUT, which is exactly the window a reconciliation read cannot see.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self._held: tuple[dict[str, Any], str, str] | None = None
        self._released = False

    def update(self, resource: dict[str, Any], *, if_match: str, request_id: str) -> Any:
        if self._held is None and not self._released:
            self._held = (resource, if_match, request_id)
            raise EhrAmbiguous("sandbox: the PUT is still in flight")
        if self._held is not None:
            held, self._held, self._released = self._held, None, True
            self._real.update(held[0], if_match=held[1], request_id=held[2])  # lands late
        return self._real.update(resource, if_match=if_match, request_id=request_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _LatePutDirectory:
    def __init__(self, real: Any) -> None:
        self._real = real
        self._gateways: dict[str, _LatePutGateway] = {}

    def gateway(self, tenant: str) -> _LatePutGateway:
        if tenant not in self._gateways:
            self._gateways[tenant] = _LatePutGateway(self._real.gateway(tenant))
        return self._gateways[tenant]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_finalize_put_that_lands_between_reread_and_resend_is_ours_not_a_conflict(
    sandbox_stack: Stack,
) -> None:
    """The late PUT lands after any re-read but before the resend: the 412 is our own write."""
    stack = sandbox_stack
    draft, first = committed_note(stack)
    wb_id = finalize(stack, draft["id"])
    app = stack.app
    executor = WritebackExecutor(
        uow=app.uow,
        ehr=_LatePutDirectory(app.ehr),
        clock=app.clock,
        owner="late-put",
        max_attempts=app.settings.worker_max_attempts,
    )
    assert executor.process(stack.tenant, wb_id)
    assert status(stack, wb_id)["state"] == "ambiguous"
    make_due(stack, wb_id)
    assert executor.process(stack.tenant, wb_id)

    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert doc_status_in_chart(stack, first) == "final"
    assert "writeback.conflict" not in types_of(chain(stack, draft["correlation_id"]))


@pytest.mark.parametrize(
    "failed_read",
    [
        {"status_storm": {"count": 1, "status": 500, "retry_after": None}},
        {"status_storm": {"count": 3, "status": 503, "retry_after": None}},
    ],
    ids=["one-500", "three-503"],
)
def test_a_dropped_finalize_answer_then_a_failed_reread_is_never_a_conflict(
    sandbox_stack: Stack, failed_read: dict[str, Any]
) -> None:
    """Commit-then-drop on the finalize PUT, then the EHR fails again: still ours, committed."""
    stack = sandbox_stack
    draft, first = committed_note(stack)
    wb_id = finalize(stack, draft["id"])
    set_faults(stack, {"commit_then_drop": {"count": 1}})
    stack.work(rounds=1)
    assert status(stack, wb_id)["state"] == "ambiguous"
    set_faults(stack, failed_read)
    make_due(stack, wb_id)
    stack.work(rounds=1)
    assert status(stack, wb_id)["state"] in ("ambiguous", "committed")

    final = settle(stack, wb_id)
    assert final["state"] == "committed", final
    assert doc_status_in_chart(stack, first) == "final"
    assert "writeback.conflict" not in types_of(chain(stack, draft["correlation_id"]))


def test_a_finalize_after_someone_else_changed_the_note_is_still_a_conflict(
    sandbox_stack: Stack,
) -> None:
    """Control: a version that is not ours (no mark) is a real conflict, never overwritten."""
    stack = sandbox_stack
    draft, first = committed_note(stack)
    doc = documents(stack, first)[0]
    changed = {**doc, "description": "Edited in the EHR by someone else"}
    changed["meta"] = {k: v for k, v in doc["meta"].items() if k != "tag"}
    with stack.ehr() as ehr:
        put = ehr.put(
            f"/DocumentReference/{doc['id']}",
            json=changed,
            headers={"Content-Type": "application/fhir+json"},
        )
    assert put.status_code == 200, put.text
    wb_id = finalize(stack, draft["id"])
    stack.work()
    assert status(stack, wb_id)["state"] == "conflict"
    assert documents(stack, first)[0]["description"] == "Edited in the EHR by someone else"


# -- 4. finalizing again after a refused finalize ----------------------------------------------


def test_finalizing_again_after_a_refused_finalize_works(sandbox_stack: Stack) -> None:
    """A refused finalize leaves the note committed; a second finalize is accepted and lands."""
    stack = sandbox_stack
    draft, first = committed_note(stack)
    refused = finalize(stack, draft["id"])
    set_faults(stack, {"refuse": {"count": 1, "status": 422, "resource_type": "DocumentReference"}})
    stack.work()
    assert status(stack, refused)["state"] == "rejected"
    assert draft_state(stack, draft["id"]) == "committed"

    second = finalize(stack, draft["id"])
    stack.work()
    assert status(stack, second)["state"] == "committed"
    assert doc_status_in_chart(stack, first) == "final"


# -- 5. escalation ------------------------------------------------------------------------------


def test_escalation_is_recorded_visible_and_does_not_stretch_the_wait(sandbox_stack: Stack) -> None:
    """After max attempts a person is told once; the next try is when the event says it is."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    set_faults(stack, {"status_storm": {"count": 50, "status": 429, "retry_after": None}})
    executor = stack.app.executor(owner="worker-1")
    attempts = stack.app.settings.worker_max_attempts
    for _ in range(attempts):
        make_due(stack, wb_id)
        assert executor.process(stack.tenant, wb_id)

    shown = status(stack, wb_id)
    assert shown["state"] == "queued"
    assert shown["escalated"] is True
    events = chain(stack, draft["correlation_id"])
    escalations = [e for e in events if e["type"] == "writeback.escalated"]
    assert len(escalations) == 1
    promised = escalations[0]["data"]["retry_in_seconds"]
    at = row(stack, wb_id)["next_attempt_at"]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    waits = (at - datetime.now(UTC)).total_seconds()
    assert waits <= promised + 1.0, (waits, promised)

    make_due(stack, wb_id)
    assert executor.process(stack.tenant, wb_id)
    again = [e for e in chain(stack, draft["correlation_id"]) if e["type"] == "writeback.escalated"]
    assert len(again) == 1  # told once, not at every later attempt
    set_faults(stack, {})
    make_due(stack, wb_id)
    stack.work()
    assert status(stack, wb_id)["state"] == "committed"


# -- 6. EHRs without a create guard ---------------------------------------------------------------


def test_an_unguarded_create_that_lands_late_waits_for_a_person_and_never_duplicates(
    epic_stack: Stack,
) -> None:
    """Epic: the create lands after the search looked; a person points at it; one note."""
    stack = epic_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    # Long enough that the search below runs before the held create lands, even on a busy
    # machine (a cap: the hold is released right after the search, then the test waits for
    # the landing instead of for the rest of the hold).
    hold = EHR_TIMEOUT + 8.0
    set_faults(stack, {"timeout": {"count": 1, "seconds": hold, "before_commit": True}})
    stack.work(rounds=1)
    assert status(stack, wb_id)["state"] == "ambiguous"

    # The search runs before the held create commits: nothing to find, and nothing proves it
    # never will be there. Chartgate must not send it again.
    make_due(stack, wb_id)
    stack.work(rounds=1)
    parked = status(stack, wb_id)
    assert parked["state"] == "needs_person", parked
    assert draft_state(stack, draft["id"]) == "ambiguous"
    assert not documents(stack, wb_id)  # still held: the search above could not see it
    stack.sandbox.faults.release_held()
    assert wait_for(lambda: documents(stack, wb_id), seconds=hold + 10)
    docs = documents(stack, wb_id)
    assert len(docs) == 1  # the slow request landed; there is no second one
    assert stack.work() == 0  # a parked write-back is not retried by a timer

    resolved = stack.api.post(
        f"/v1/writebacks/{wb_id}/resolve",
        json={"action": "landed", "document": f"DocumentReference/{docs[0]['id']}"},
        headers=stack.as_clinician(),
    )
    assert resolved.status_code == 200, resolved.text
    stack.work()
    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert final["ehr_resource"] == f"DocumentReference/{docs[0]['id']}"
    assert len(documents(stack, wb_id)) == 1
    assert len(provenances(stack, wb_id)) == 1
    assert draft_state(stack, draft["id"]) == "committed"


def test_pointing_at_a_document_that_is_not_ours_is_refused(epic_stack: Stack) -> None:
    """A person cannot mark a write-back as landed on someone else's document."""
    stack = epic_stack
    _, writeback = approve(stack)
    wb_id = writeback["id"]
    set_row(stack, wb_id, state="needs_person")  # parked, as after an unprovable create
    other, other_wb = approve(stack)
    stack.work()
    other_doc = status(stack, other_wb["id"])["ehr_resource"]
    answer = stack.api.post(
        f"/v1/writebacks/{wb_id}/resolve",
        json={"action": "landed", "document": other_doc},
        headers=stack.as_clinician(),
    )
    assert answer.status_code == 409, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    del other
