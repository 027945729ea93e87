"""The write-back executor with fakes: every rule in milliseconds, and every crash point.

The fakes (``tests/fakes.py``) are an in-memory EHR that passes the same contract suite as the
sandbox and Medplum, and an in-memory store with the outbox's claim and lease rules. A crash is
a ``BaseException`` raised from the executor's ``crash`` hook: nothing after it runs and the
transaction it interrupts rolls back, as with ``kill -9``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from builders import CLINICIAN, submission
from chartgate.domain.documents import NoteWrite, build_document_reference
from chartgate.domain.drafts import Approver, Draft
from chartgate.domain.hashing import content_hash
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.submission import DraftSubmission
from chartgate.domain.writeback import (
    CreateGuard,
    Writeback,
    WritebackKind,
    WritebackState,
    carries_mark,
    mark,
)
from chartgate.service.retry import RetryPolicy
from chartgate.service.writeback import CRASH_POINTS, WritebackExecutor
from fakes import FakeClock, FakeDirectory, FakeEhr, FakeStore
from structured_desk import WorkerDied, die_at

TENANT = "clinic-a"
LEASE = timedelta(seconds=60)


@dataclass
class World:
    """One tenant's store, EHR and clock, with one approved draft queued."""

    store: FakeStore
    ehr: FakeEhr
    directory: FakeDirectory
    clock: FakeClock
    writeback_id: str
    draft_id: str = "draft-1"

    def executor(
        self, owner: str = "w1", crash: Callable[[str], None] | None = None, **kw: object
    ) -> WritebackExecutor:
        return WritebackExecutor(
            uow=self.store.unit,
            ehr=self.directory,
            clock=self.clock,
            owner=owner,
            lease=LEASE,
            retry=RetryPolicy(base_seconds=1, cap_seconds=60),
            jitter=lambda: 1.0,
            crash=crash or (lambda _point: None),
            **kw,  # type: ignore[arg-type]
        )

    def writeback(self, writeback_id: str | None = None) -> Writeback:
        with self.store.unit() as uow:
            return uow.writebacks.get(TENANT, writeback_id or self.writeback_id)

    def draft(self) -> Draft:
        with self.store.unit() as uow:
            return uow.drafts.get(TENANT, self.draft_id)

    def run(self, executor: WritebackExecutor | None = None, *, rounds: int = 10) -> None:
        """Let time pass and the worker run until nothing is due."""
        worker = executor or self.executor()
        for _ in range(rounds):
            self.clock.advance(120)
            if worker.run_once() == 0:
                return

    def documents(self) -> list[dict[str, object]]:
        return self.ehr.all("DocumentReference")

    def provenances(self) -> list[dict[str, object]]:
        return self.ehr.all("Provenance")

    def queue(self, kind: WritebackKind, writeback_id: str) -> str:
        """Approve a follow-up (finalize or retract) of the committed note, as the handler does."""
        with self.store.unit() as uow:
            draft = uow.drafts.get(TENANT, self.draft_id)
            chart = next(
                w for w in uow.writebacks.for_draft(TENANT, self.draft_id) if w.document_landed
            )
            approval = draft.finalize(
                approval_id=f"a-{writeback_id}",
                writeback_id=writeback_id,
                approver=_approver(),
                policy_hash="sha256:p",
                at=self.clock.now(),
            )
            payload = {
                **chart.payload,
                "id": chart.document_id,
                "docStatus": kind.doc_status,
                "meta": {**chart.payload["meta"], "versionId": chart.document_version},
            }
            _queue(uow, draft, approval, payload, kind, self.clock, chart=chart)
        return writeback_id


def _approver() -> Approver:
    return Approver(
        subject="dr-synthetic", fhir_user=CLINICIAN, amr=("pwd", "otp"), acr=None, auth_time=None
    )


def _queue(uow, draft, approval, payload, kind, clock, *, chart=None) -> Writeback:
    payload = mark(payload, approval.writeback_id)
    record = Writeback(
        tenant=TENANT,
        id=approval.writeback_id,
        draft_id=draft.id,
        approval_id=approval.id,
        kind=kind,
        state=WritebackState.QUEUED,
        may_have_landed=False,
        payload=payload,
        payload_hash=content_hash(payload),
        correlation_id=draft.correlation_id,
        attempts=0,
        next_attempt_at=clock.now(),
        document_id=chart.document_id if chart else None,
        document_version=chart.document_version if chart else None,
    )
    uow.approvals.add(TENANT, approval)
    uow.writebacks.add(record)
    uow.drafts.save(draft, at=clock.now())
    return record


def world(guard: CreateGuard = CreateGuard.CONDITIONAL) -> World:
    """A fresh world with one approved, queued draft."""
    store, ehr, clock = FakeStore(), FakeEhr(), FakeClock()
    parsed = DraftSubmission.model_validate(submission())
    draft = Draft.submit(
        draft_id="draft-1",
        tenant=TENANT,
        patient=parsed.patient,
        encounter=parsed.encounter,
        origin=parsed.origin,
        content=parsed.content(),
        baseline={},
        correlation_id="corr-1",
        author="scribe:s",
        at=clock.now(),
    )
    draft.pull_events()  # seeded as the store holds it: no pending events
    approval = draft.approve(
        approval_id="a-1",
        writeback_id="wb-1",
        expected_version=1,
        approver=_approver(),
        policy_hash="sha256:p",
        at=clock.now(),
    )
    draft.transition(Action.QUEUE)
    payload = build_document_reference(
        NoteWrite(
            writeback_id="wb-1",
            patient=draft.patient,
            encounter=draft.encounter,
            author=CLINICIAN,
            content=draft.current.content,
            doc_status="preliminary",
            date=clock.now(),
        )
    )
    with store.unit() as uow:
        uow.drafts.add(draft)
        _queue(uow, draft, approval, payload, WritebackKind.APPROVE, clock)
    return World(store, ehr, FakeDirectory(ehr, guard=guard), clock, "wb-1")


GUARDS = [CreateGuard.CONDITIONAL, CreateGuard.CLIENT_ID, CreateGuard.NONE]


# -- the plain path -------------------------------------------------------------------------------


@pytest.mark.parametrize("guard", GUARDS)
def test_an_approval_becomes_one_marked_note_and_one_provenance(guard: CreateGuard) -> None:
    """With no fault, every create guard writes one note and one Provenance, both marked."""
    w = world(guard)
    w.run()
    assert w.writeback().state is WritebackState.COMMITTED
    assert w.draft().state is DraftState.COMMITTED
    assert w.draft().doc_status == "preliminary"
    [doc] = w.documents()
    [provenance] = w.provenances()
    assert carries_mark(doc, "wb-1")
    assert carries_mark(provenance, "wb-1")
    assert provenance["target"] == [{"reference": f"DocumentReference/{doc['id']}/_history/1"}]


# -- issue 10, items 1-6, at unit speed ----------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 422])
def test_a_refused_provenance_is_partial_and_the_draft_stays_committed(status: int) -> None:
    """The note landed; a refused Provenance never turns it into 'nothing landed'."""
    w = world()
    w.ehr.fail_next("status", status=status, resource_type="Provenance")
    w.run()
    assert w.writeback().state is WritebackState.PARTIAL
    assert w.draft().state is DraftState.COMMITTED
    assert len(w.documents()) == 1
    assert "writeback.partial" in w.store.events()


def test_a_finalize_that_lands_late_is_recognised_as_ours() -> None:
    """The held PUT lands just before the resend: the 412 is read and found to be ours."""
    w = world()
    w.run()
    wb = w.queue(WritebackKind.FINALIZE, "wb-2")
    w.ehr.fail_next("hold", method="PUT")
    w.run(rounds=1)
    assert w.writeback(wb).state is WritebackState.AMBIGUOUS
    w.ehr.land_held()
    w.run()
    assert w.writeback(wb).state is WritebackState.COMMITTED
    [doc] = w.documents()
    assert doc["docStatus"] == "final"
    assert carries_mark(doc, wb)
    assert "writeback.conflict" not in w.store.events()


@pytest.mark.parametrize("failures", [1, 3])
def test_a_dropped_finalize_answer_then_failing_reads_is_never_a_conflict(failures: int) -> None:
    """Commit-then-drop on the PUT, then the EHR fails again and again: still committed."""
    w = world()
    w.run()
    wb = w.queue(WritebackKind.FINALIZE, "wb-2")
    w.ehr.fail_next("drop", method="PUT")
    for _ in range(failures):
        w.ehr.fail_next("status", status=503)
    w.run()
    assert w.writeback(wb).state is WritebackState.COMMITTED
    assert w.documents()[0]["docStatus"] == "final"
    assert "writeback.conflict" not in w.store.events()


def test_someone_elses_change_is_a_conflict_and_is_not_overwritten() -> None:
    """Control: a version without our mark is a real conflict."""
    w = world()
    w.run()
    [doc] = w.documents()
    w.ehr.update({**doc, "description": "theirs", "meta": {}}, if_match="1", request_id="x")
    wb = w.queue(WritebackKind.FINALIZE, "wb-2")
    w.run()
    assert w.writeback(wb).state is WritebackState.CONFLICT
    assert w.documents()[0]["description"] == "theirs"
    assert w.draft().state is DraftState.COMMITTED


def test_an_unguarded_create_that_may_have_landed_waits_for_a_person() -> None:
    """No guard, no answer, nothing found: needs a person, never a resend."""
    w = world(CreateGuard.NONE)
    w.ehr.fail_next("hold", method="POST", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.NEEDS_PERSON
    assert w.draft().state is DraftState.AMBIGUOUS
    w.ehr.land_held()
    w.run()
    assert len(w.documents()) == 1
    assert w.ehr.requests.count(("POST", "DocumentReference")) == 1


@pytest.mark.parametrize("guard", [CreateGuard.CONDITIONAL, CreateGuard.CLIENT_ID])
def test_a_guarded_create_whose_answer_was_lost_is_sent_again_safely(guard: CreateGuard) -> None:
    """Under a guard, the resend or the chart read finds the first copy: one note."""
    w = world(guard)
    w.ehr.fail_next("drop", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.COMMITTED
    assert len(w.documents()) == 1
    assert len(w.provenances()) == 1


def test_escalation_is_told_once_and_the_wait_is_what_the_event_says() -> None:
    """After max attempts: one escalated event, the schedule unchanged, retries go on."""
    w = world()
    for _ in range(12):
        w.ehr.fail_next("status", status=429)
    executor = w.executor(max_attempts=3)
    for _ in range(5):
        w.clock.advance(120)
        executor.run_once()
    wb = w.writeback()
    assert wb.escalated
    assert w.store.events().count("writeback.escalated") == 1
    [told] = [r for r in w.store.tables.audit if r.type.value == "writeback.escalated"]
    assert told.data["retry_in_seconds"] <= 60
    assert wb.next_attempt_at - w.clock.now() <= timedelta(seconds=60)


def test_a_held_write_back_sends_nothing_and_keeps_its_place() -> None:
    """The brake is asked before every request: nothing starts while it is on."""
    w = world()
    held = w.executor(held=lambda _wb, _uow=None: "kill switch")
    w.run(held, rounds=3)
    assert w.ehr.requests == []
    assert w.writeback().state is WritebackState.QUEUED
    w.run()
    assert w.writeback().state is WritebackState.COMMITTED


def test_a_tampered_payload_is_refused_and_nothing_is_sent() -> None:
    """The integrity check: a payload that does not hash to what was approved is rejected."""
    w = world()
    with w.store.unit() as uow:
        wb = uow.writebacks.get(TENANT, "wb-1")
        wb.payload["description"] = "changed after approval"
        uow.writebacks.save_progress(wb, now=w.clock.now())
    w.run()
    assert w.writeback().state is WritebackState.REJECTED
    assert w.ehr.requests == []


def test_a_worker_that_lost_its_lease_sends_nothing_more() -> None:
    """The successor holds the row: the first worker stops before its next request."""
    w = world()
    first = w.executor("w1", crash=die_at("before_send", 2))
    with pytest.raises(WorkerDied):
        first.run_once()
    w.clock.advance(LEASE.total_seconds() + 1)
    second = w.executor("w2")
    assert second.process(TENANT, "wb-1")
    assert w.writeback().state is WritebackState.COMMITTED
    # w1 coming back to life cannot renew a lease it no longer holds.
    assert not first.process(TENANT, "wb-1")
    assert len(w.documents()) == 1


# -- every crash point ----------------------------------------------------------------------------


CRASHES = [(point, nth) for point in CRASH_POINTS for nth in (1, 2)]


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize(("point", "nth"), CRASHES, ids=[f"{p}-{n}" for p, n in CRASHES])
def test_a_worker_killed_at_any_step_never_duplicates_or_loses(
    guard: CreateGuard, point: str, nth: int
) -> None:
    """Kill the worker at the nth time it passes a point; a successor finishes (or a person)."""
    w = world(guard)
    dying = w.executor("w1", crash=die_at(point, nth))
    try:
        dying.run_once()
    except WorkerDied:
        w.clock.advance(LEASE.total_seconds() + 1)
    w.run(w.executor("w2"))

    state = w.writeback().state
    docs, provenances = w.documents(), w.provenances()
    assert len(docs) <= 1
    assert len(provenances) <= 1
    if state is WritebackState.COMMITTED:
        assert len(docs) == 1
        assert len(provenances) == 1
        assert w.draft().state is DraftState.COMMITTED
    else:
        # Only an EHR without a guard may leave it to a person, and then with the evidence.
        assert guard is CreateGuard.NONE
        assert state is WritebackState.NEEDS_PERSON


# -- issue 13 item 6: the right patient, again before the first send -----------------------------


def test_an_encounter_moved_to_another_patient_before_the_first_send_is_rejected() -> None:
    """The worker reads the Encounter again: another patient's encounter sends nothing."""
    w = world()
    encounter = w.ehr.resources["Encounter", "enc-001"].current
    w.ehr._store("Encounter", "enc-001", {**encounter, "subject": {"reference": "Patient/pat-002"}})
    w.run()
    assert w.writeback().state is WritebackState.REJECTED
    assert "another patient" in str(w.writeback().last_reason)
    assert w.documents() == []
    assert ("POST", "DocumentReference") not in w.ehr.requests


def test_a_cancelled_encounter_before_the_first_send_is_rejected() -> None:
    """A status the profile does not document (cancelled) refuses the note before sending."""
    w = world()
    encounter = w.ehr.resources["Encounter", "enc-001"].current
    w.ehr._store("Encounter", "enc-001", {**encounter, "status": "cancelled"})
    w.run()
    assert w.writeback().state is WritebackState.REJECTED
    assert w.documents() == []


def test_a_failed_patient_context_read_retries_and_then_writes() -> None:
    """A 503 on the context read proves nothing: retry later, then the note is written."""
    w = world()
    w.ehr.fail_next("status", status=503, method="GET", resource_type="Encounter")
    w.run(rounds=1)
    assert w.writeback().state is WritebackState.QUEUED
    assert w.documents() == []
    w.run()
    assert w.writeback().state is WritebackState.COMMITTED
    assert len(w.documents()) == 1


def test_a_write_back_sent_soon_after_approval_relies_on_the_approvals_read() -> None:
    """Within the freshness window the approval's own context read stands: no second read."""
    w = world()
    w.run(w.executor(context_fresh=timedelta(hours=1)))
    assert w.writeback().state is WritebackState.COMMITTED
    assert ("GET", "Encounter") not in w.ehr.requests
