"""The draft records what its own methods change, as domain events without PHI (ADR 0033)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from builders import ENCOUNTER, PATIENT, TENANT, submission
from chartgate.domain.chart_write import ChartWrite
from chartgate.domain.draft_events import (
    AmendApproved,
    DraftApproved,
    DraftDiscarded,
    DraftRebased,
    DraftReceived,
    FinalizeApproved,
    RetractApproved,
    VersionSaved,
    WritebackQueued,
    WritebackResolved,
)
from chartgate.domain.drafts import Approval, Approver, Draft
from chartgate.domain.errors import StateConflict, VersionMismatch
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.submission import DraftSubmission, VersionContent
from chartgate.domain.writeback import Writeback, WritebackKind, WritebackState

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CONDITION = {
    "resourceType": "Condition",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J20.9"}]},
}


def submitted(**overrides: Any) -> Draft:
    """A scribe's synthetic draft, as ``Draft.submit`` makes it."""
    sent = DraftSubmission.model_validate(submission(**overrides))
    return Draft.submit(
        draft_id="d-1",
        tenant=TENANT,
        patient=sent.patient,
        encounter=sent.encounter,
        origin=sent.origin,
        content=sent.content(),
        baseline={},
        correlation_id="c-1",
        author="scribe:s",
        at=T0,
    )


def approver(reason: str | None = None) -> Approver:
    return Approver(
        subject="dr-1",
        fhir_user="Practitioner/prac-001",
        amr=("pwd", "otp"),
        acr="urn:chartgate:acr:mfa",
        auth_time=T0,
        reason=reason,
    )


def approved(draft: Draft) -> Approval:
    """Approve the current version and queue it, as the approve use case does."""
    approval = draft.approve(
        approval_id="a-1",
        writeback_id="wb-1",
        expected_version=draft.current.number,
        approver=approver(),
        policy_hash="sha256:policy",
        at=T0,
    )
    draft.transition(Action.QUEUE)
    return approval


def outbox_row(writeback_id: str, kind: WritebackKind, **values: Any) -> Writeback:
    base: dict[str, Any] = {
        "tenant": TENANT,
        "id": writeback_id,
        "draft_id": "d-1",
        "approval_id": "a-1",
        "kind": kind,
        "state": WritebackState.QUEUED,
        "may_have_landed": False,
        "payload": {"resourceType": "DocumentReference"},
        "payload_hash": f"sha256:{writeback_id}",
        "correlation_id": "c-1",
        "attempts": 0,
        "next_attempt_at": T0,
    }
    return Writeback(**(base | values))


def test_a_submitted_draft_holds_one_received_event_until_it_is_pulled() -> None:
    """Submit records draft.received with the model's facts; pulling it empties the list."""
    draft = submitted(resources=[CONDITION])
    [event] = draft.pull_events()
    assert event == DraftReceived(
        version=1,
        content_hash=draft.current.content_hash,
        note_type=draft.current.content.note.type,
        resource_types=("Condition",),
        model=draft.origin.model.name,
        model_version=draft.origin.model.version,
        prompt_template=draft.origin.prompt_template,
        transcript_sha256=draft.origin.transcript_sha256,
    )
    assert draft.pull_events() == []


def test_a_saved_edit_records_its_version_and_a_refused_one_records_nothing() -> None:
    """save_version records version_saved; a stale expected version raises and records none."""
    draft = submitted()
    draft.pull_events()
    content = draft.current.content
    with pytest.raises(VersionMismatch):
        draft.save_version(content, expected_version=7, author="clinician:dr-1", at=T0)
    assert draft.pull_events() == []
    version = draft.save_version(content, expected_version=1, author="clinician:dr-1", at=T0)
    assert draft.pull_events() == [VersionSaved(version=2, content_hash=version.content_hash)]


def test_rebase_records_the_new_baseline_in_order_and_discard_records_itself() -> None:
    """A rebase names the chart versions it was made against; discard is its own event."""
    draft = submitted()
    draft.pull_events()
    draft.state = DraftState.CONFLICT
    draft.rebase({"Patient/p": "2", "Encounter/e": "5"}, author="clinician:dr-1", at=T0)
    [rebased] = draft.pull_events()
    assert rebased == DraftRebased(version=2, baseline={"Encounter/e": "5", "Patient/p": "2"})
    assert list(rebased.baseline) == ["Encounter/e", "Patient/p"]
    other = submitted()
    other.pull_events()
    assert other.discard() is DraftState.DISCARDED
    assert other.pull_events() == [DraftDiscarded()]


def test_an_approval_is_recorded_when_it_is_queued_with_each_write_back() -> None:
    """queued() records draft.approved (with the use case's evidence), then each queueing."""
    draft = submitted()
    draft.pull_events()
    approval = approved(draft)
    assert draft.pull_events() == []  # approving alone records nothing yet
    note, part = outbox_row("wb-1", WritebackKind.APPROVE), outbox_row("wb-2", "structured")
    draft.queued(approval, [note, part], {"binding": "launch"})
    first, *queued = draft.pull_events()
    assert isinstance(first, DraftApproved)
    assert (first.writeback_id, first.version, first.amr) == ("wb-1", 1, ("pwd", "otp"))
    assert first.auth_time == T0.isoformat()
    assert first.evidence == {"binding": "launch"}
    assert queued == [
        WritebackQueued(
            writeback_id="wb-1", kind=WritebackKind.APPROVE, payload_hash="sha256:wb-1"
        ),
        WritebackQueued(writeback_id="wb-2", kind="structured", payload_hash="sha256:wb-2"),
    ]


def test_finalize_amend_and_retract_each_record_their_own_event() -> None:
    """The approval's kind chooses the event; amend and retract carry kind and reason."""
    kinds = {
        "finalize": FinalizeApproved,
        "amend": AmendApproved,
        "retract": RetractApproved,
    }
    for kind, event_type in kinds.items():
        draft = submitted()
        approval = approved(draft)
        retract = kind == "retract"
        changed = Approval(
            **{
                **asdict(approval),
                "kind": kind,
                "approver": approver("duplicate" if retract else None),
                "diff": approval.diff,
            }
        )
        draft.pull_events()
        draft.queued(changed, [outbox_row("wb-9", WritebackKind(kind))])
        recorded, _queued = draft.pull_events()
        assert type(recorded) is event_type
        assert isinstance(recorded, FinalizeApproved | AmendApproved)
        assert recorded.writeback_id == "wb-9"
        if isinstance(recorded, AmendApproved):
            assert (recorded.kind, recorded.reason) == (kind, "duplicate" if retract else None)


def test_only_a_queued_approval_of_this_draft_is_recorded() -> None:
    """queued() refuses a draft that is not queued, or another draft's approval."""
    draft = submitted()
    approval = draft.approve(
        approval_id="a-1",
        writeback_id="wb-1",
        expected_version=1,
        approver=approver(),
        policy_hash="sha256:policy",
        at=T0,
    )
    draft.pull_events()
    row = outbox_row("wb-1", WritebackKind.APPROVE)
    with pytest.raises(StateConflict):
        draft.queued(approval, [row])  # approved, not yet queued
    draft.transition(Action.QUEUE)
    foreign = Approval(**{**asdict(approval), "draft_id": "d-2", "diff": approval.diff})
    with pytest.raises(StateConflict):
        draft.queued(foreign, [row])
    assert draft.pull_events() == []


def test_a_persons_resolution_is_recorded_with_the_write_backs_before_and_after() -> None:
    """resolve_resend records writeback.resolved: from needs_person to queued."""
    draft = submitted()
    draft.pull_events()
    draft.state = DraftState.AMBIGUOUS
    parked = outbox_row("wb-1", WritebackKind.APPROVE, state=WritebackState.NEEDS_PERSON)
    ChartWrite(draft, parked).resolve_resend()
    assert draft.pull_events() == [
        WritebackResolved(
            writeback_id="wb-1", action="resend", previous_state="needs_person", state="queued"
        )
    ]


def test_no_event_carries_the_patient_the_encounter_or_the_note() -> None:
    """Every event of a draft's life holds ids, codes, states and hashes only (no PHI)."""
    draft = submitted(resources=[CONDITION])
    draft.save_version(
        VersionContent(note=draft.current.content.note, resources=()),
        expected_version=1,
        author="clinician:dr-1",
        at=T0,
    )
    approval = approved(draft)
    draft.queued(approval, [outbox_row("wb-1", WritebackKind.APPROVE)])
    text = json.dumps([asdict(e) for e in draft.pull_events()], default=str)
    assert text.count('"version"') == 3  # received, saved, approved: the story is all there
    for secret in (PATIENT, ENCOUNTER, draft.current.content.note.text[:40]):
        assert secret not in text
