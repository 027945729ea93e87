"""Structured write-backs over fakes (issue 13 item 5): each proposal exactly once, in order.

A clinician-approved Condition / AllergyIntolerance / Observation / MedicationRequest is its
own write-back, queued with the note in the approval's transaction and sent after it, through
the same executor and outcome table: a create guard, a read-back after a lost answer, its own
Provenance, and needs-a-person where nothing can prove what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from builders import CLINICIAN, ENCOUNTER, PATIENT, TENANT
from chartgate.domain.errors import ValidationFailed
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.killswitch import Mode, Scope, Switch
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import CreateGuard, WritebackKind, WritebackState
from chartgate.service.writeback import CRASH_POINTS
from fakes import FakeEhr
from structured_desk import LEASE, META, WorkerDied, desk
from structured_items import (
    ALLERGY,
    CONDITION,
    OBSERVATION,
    structured_submission,
)

WRITE_ORDER = ["Condition", "AllergyIntolerance", "Observation", "MedicationRequest"]
GUARDS = [CreateGuard.CONDITIONAL, CreateGuard.CLIENT_ID, CreateGuard.NONE]


def _written(ehr: FakeEhr, kind: str) -> list[dict[str, Any]]:
    return ehr.all(kind)


# -- approval queues the parts ---------------------------------------------------------------


def test_approval_queues_one_write_back_per_structured_proposal_in_write_order() -> None:
    """Approval queues one write-back per structured proposal in write order."""
    d = desk()
    draft_id = d.submit()
    note = d.approve(draft_id)
    parts = d.parts(draft_id)
    assert [p.target_type for p in parts] == WRITE_ORDER  # not the draft's order
    assert [p.part for p in parts] == [1, 2, 3, 4]
    assert [p.after_id for p in parts] == [note.id, *[p.id for p in parts[:-1]]]
    assert all(p.approval_id == note.approval_id for p in parts)
    assert len({p.id for p in parts} | {note.id}) == 5
    # Nothing but the note is due before the note is settled.
    with d.store.unit() as uow:
        assert uow.writebacks.due(d.clock.now() + timedelta(hours=1)) == [(TENANT, note.id)]


def test_every_part_lands_exactly_once_with_its_own_provenance_and_our_fields() -> None:
    """Every part lands exactly once with its own provenance and our fields."""
    d = desk()
    draft_id = d.submit()
    note = d.approve(draft_id)
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    assert len(_written(d.ehr, "DocumentReference")) == 1
    provenances = _written(d.ehr, "Provenance")
    assert len(provenances) == 5
    for part in d.parts(draft_id):
        (resource,) = _written(d.ehr, part.target_type)
        assert resource["id"] == part.document_id
        assert {"system": WRITEBACK_SYSTEM, "value": part.id} in resource["identifier"]
        subject = "patient" if part.target_type == "AllergyIntolerance" else "subject"
        assert resource[subject] == {"reference": PATIENT}
        assert resource["encounter"] == {"reference": ENCOUNTER}
        (mine,) = [p for p in provenances if p["meta"]["tag"][0]["code"] == part.id]
        assert mine["target"][0]["reference"] == (
            f"{part.target_type}/{part.document_id}/_history/{part.document_version}"
        )
    (condition,) = _written(d.ehr, "Condition")
    assert condition["recorder"] == condition["asserter"] == {"reference": CLINICIAN}
    (order,) = _written(d.ehr, "MedicationRequest")
    assert (order["status"], order["intent"], order["requester"]) == (
        "draft",
        "proposal",
        {"reference": CLINICIAN},
    )
    # The note went first: every structured create came after the note's Provenance.
    posts = [kind for method, kind in d.ehr.requests if method == "POST"]
    assert posts[:2] == ["DocumentReference", "Provenance"]
    assert [k for k in posts if k != "Provenance"] == ["DocumentReference", *WRITE_ORDER]
    assert note.id not in {p.id for p in d.parts(draft_id)}


def test_draft_only_proposals_are_shown_as_not_written_and_never_sent() -> None:
    """Draft-only proposals are shown as not written and never sent."""
    d = desk(draft_only=("Observation",))
    draft_id = d.submit()
    d.approve(draft_id)
    d.run()
    assert _written(d.ehr, "Observation") == []
    items = {i["resource_type"]: i for i in d.view(draft_id).structured}
    assert items["Observation"]["fate"] == "not written to the chart (draft-only by policy)"
    assert items["Observation"]["writeback"] is None
    assert items["Condition"]["fate"] == "will be written"
    assert items["Condition"]["writeback"]["state"] == "committed"
    assert items["Condition"]["writeback"]["ehr_resource"].startswith("Condition/")


def test_a_profile_that_takes_notes_only_gets_no_structured_write_back() -> None:
    """A profile that takes notes only gets no structured write-back."""
    d = desk(writable_types=frozenset({"DocumentReference", "Provenance"}))
    draft_id = d.submit()
    d.approve(draft_id)
    assert d.parts(draft_id) == []
    items = d.view(draft_id).structured
    assert {i["fate"] for i in items} == {
        "not written to the chart (the EHR profile does not take this type)"
    }


# -- order and partial states ----------------------------------------------------------------


def test_nothing_structured_is_sent_while_the_note_is_not_in_the_chart() -> None:
    """Nothing structured is sent while the note is not in the chart."""
    d = desk()
    draft_id = d.submit()
    d.approve(draft_id)
    d.ehr.fail_next("status", method="POST", resource_type="DocumentReference", status=503)
    d.clock.advance(1)
    d.executor().run_once()
    assert all(p.state is WritebackState.QUEUED for p in d.parts(draft_id))
    assert ("POST", "Condition") not in d.ehr.requests
    d.run()
    assert {p.state for p in d.parts(draft_id)} == {WritebackState.COMMITTED}


def test_a_refused_note_sends_none_of_its_structured_resources() -> None:
    """A refused note sends none of its structured resources."""
    d = desk()
    draft_id = d.submit()
    d.approve(draft_id)
    d.ehr.fail_next("status", method="POST", resource_type="DocumentReference", status=400)
    d.run()
    assert {p.state for p in d.parts(draft_id)} == {WritebackState.REJECTED}
    assert all("note was not written" in str(p.last_reason) for p in d.parts(draft_id))
    assert [k for m, k in d.ehr.requests if m == "POST"] == ["DocumentReference"]


def test_a_refused_structured_resource_is_visible_and_the_rest_go_on() -> None:
    """A refused structured resource is visible and the rest go on."""
    d = desk()
    draft_id = d.submit()
    d.approve(draft_id)
    d.ehr.fail_next("status", method="POST", resource_type="AllergyIntolerance", status=422)
    d.run()
    states = {p.target_type: p.state for p in d.parts(draft_id)}
    assert states == {
        "Condition": WritebackState.COMMITTED,
        "AllergyIntolerance": WritebackState.REJECTED,
        "Observation": WritebackState.COMMITTED,
        "MedicationRequest": WritebackState.COMMITTED,
    }
    items = {i["resource_type"]: i for i in d.view(draft_id).structured}
    assert items["AllergyIntolerance"]["writeback"]["state"] == "rejected"
    assert items["AllergyIntolerance"]["writeback"]["last_status"] == 422
    assert d.view(draft_id).draft.state.value == "committed"  # the note is in the chart


def test_a_refused_structured_provenance_is_partial_like_the_notes() -> None:
    """A refused structured provenance is partial like the notes."""
    d = desk()
    draft_id = d.submit()
    d.approve(draft_id)
    d.executor().run_once()  # the note and its Provenance
    d.ehr.fail_next("status", method="POST", resource_type="Provenance", status=403)
    d.run()
    first = d.parts(draft_id)[0]
    assert first.state is WritebackState.PARTIAL
    assert len(_written(d.ehr, "Condition")) == 1


# -- exactly once -------------------------------------------------------------------------


@pytest.mark.parametrize("guard", GUARDS)
def test_a_lost_answer_to_a_structured_create_is_read_back_never_duplicated(
    guard: CreateGuard,
) -> None:
    """A lost answer to a structured create is read back, never duplicated."""
    d = desk(guard)
    draft_id = d.submit()
    d.approve(draft_id)
    d.ehr.fail_next(
        "drop",
        method="POST" if guard is not CreateGuard.CLIENT_ID else "PUT",
        resource_type="Condition",
    )
    d.run()
    assert len(_written(d.ehr, "Condition")) == 1
    first = d.parts(draft_id)[0]
    assert first.state is WritebackState.COMMITTED
    assert len(_written(d.ehr, "Provenance")) == 5


def test_an_unguarded_structured_create_that_cannot_be_found_waits_for_a_person() -> None:
    """An unguarded structured create that cannot be found waits for a person."""
    d = desk(CreateGuard.NONE)
    draft_id = d.submit()
    d.approve(draft_id)
    d.ehr.fail_next("hold", method="POST", resource_type="Condition")  # slow: lands only later
    d.run(rounds=5)
    first = d.parts(draft_id)[0]
    assert first.state is WritebackState.NEEDS_PERSON
    assert _written(d.ehr, "Condition") == []
    assert all(p.state is WritebackState.QUEUED for p in d.parts(draft_id)[1:])
    d.ehr.land_held()
    assert len(_written(d.ehr, "Condition")) == 1  # never a second one


def _die_at(point: str, nth: int, kind: str) -> Callable[[str], None]:
    seen = {"n": 0}

    def crash(at: str) -> None:
        if at == point:
            seen["n"] += 1
            if seen["n"] == nth:
                raise WorkerDied(f"{point} {kind}")

    return crash


# Crash points counted from the start: the note takes 2 sends (document, Provenance), so the
# 3rd/4th send is the Condition's create and its Provenance.
CRASHES = [(point, nth) for point in CRASH_POINTS for nth in (2, 3, 4)]


@pytest.mark.parametrize("guard", [CreateGuard.CONDITIONAL, CreateGuard.CLIENT_ID])
@pytest.mark.parametrize(("point", "nth"), CRASHES, ids=[f"{p}-{n}" for p, n in CRASHES])
def test_a_worker_killed_during_a_structured_write_never_duplicates_or_loses_it(
    guard: CreateGuard, point: str, nth: int
) -> None:
    """A worker killed during a structured write never duplicates or loses it."""
    d = desk(guard)
    draft_id = d.submit(structured_submission(CONDITION, ALLERGY, OBSERVATION))
    d.approve(draft_id)
    dying = d.executor("w1", crash=_die_at(point, nth, "Condition"))
    try:
        for _ in range(6):
            d.clock.advance(1)
            dying.run_once()
    except WorkerDied:
        d.clock.advance(LEASE.total_seconds() + 1)
    d.run(d.executor("w2"))
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    for kind in ("DocumentReference", "Condition", "AllergyIntolerance", "Observation"):
        assert len(_written(d.ehr, kind)) == 1, kind
    assert len(_written(d.ehr, "Provenance")) == 4


def test_without_provenance_at_the_ehr_each_part_keeps_its_provenance_in_the_ledger() -> None:
    """Without provenance at the EHR each part keeps its provenance in the ledger."""
    d = desk(provenance_mode=ProvenanceMode.NONE)
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    d.run()
    assert _written(d.ehr, "Provenance") == []
    assert len(_written(d.ehr, "Condition")) == 1
    assert d.store.events().count("writeback.provenance_kept") == 2


# -- the fields the gateway owns -------------------------------------------------------------


def test_a_scribe_value_equal_to_the_drafts_own_is_accepted() -> None:
    """A scribe subject and encounter equal to the draft's own are accepted and written."""
    d = desk()
    same = {
        **CONDITION,
        "subject": {"reference": PATIENT},
        "encounter": {"reference": ENCOUNTER},
    }
    draft_id = d.submit(structured_submission(same))
    d.approve(draft_id)
    d.run()
    (condition,) = _written(d.ehr, "Condition")
    assert condition["subject"] == {"reference": PATIENT}


@pytest.mark.parametrize(
    ("element", "value"),
    [
        ("subject", {"reference": "Patient/pat-002"}),
        ("encounter", {"reference": "Encounter/enc-other"}),
    ],
)
def test_a_scribe_value_different_from_the_drafts_is_refused_at_submission(
    element: str, value: dict[str, str]
) -> None:
    """A scribe subject or encounter other than the draft's is refused at submission (422)."""
    d = desk()
    with pytest.raises(ValidationFailed) as refused:
        d.submit(structured_submission({**CONDITION, element: value}))
    codes = {f.code for f in refused.value.findings}
    assert "policy.owned-field-differs" in codes


def test_a_recorder_other_than_the_approving_clinician_blocks_approval() -> None:
    """A recorder other than the approving clinician blocks approval."""
    d = desk()
    other = {**CONDITION, "recorder": {"reference": "Practitioner/someone-else"}}
    draft_id = d.submit(structured_submission(other))  # the clinician is not known yet
    with pytest.raises(ValidationFailed):
        d.approve(draft_id)
    assert d.records(draft_id) == []
    mine = {**CONDITION, "recorder": {"reference": CLINICIAN}}
    draft_id = d.submit(structured_submission(mine))
    d.approve(draft_id)
    assert len(d.parts(draft_id)) == 1


# -- retraction ---------------------------------------------------------------------------


def test_retracting_the_note_marks_its_structured_resources_entered_in_error() -> None:
    """Retracting the note marks its structured resources entered-in-error."""
    d = desk()
    draft_id = d.submit()
    note = d.approve(draft_id)
    d.run()
    d.approvals.retract(d.clinician(), note.id, reason="clinical-error", meta=META)
    retractions = [r for r in d.records(draft_id) if r.kind is WritebackKind.STRUCTURED_RETRACT]
    assert [r.target_type for r in retractions] == WRITE_ORDER
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    (condition,) = d.ehr.all("Condition")
    assert condition["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in condition  # con-5
    (allergy,) = d.ehr.all("AllergyIntolerance")
    assert "clinicalStatus" not in allergy  # ait-2
    assert d.ehr.all("Observation")[0]["status"] == "entered-in-error"
    assert d.ehr.all("MedicationRequest")[0]["status"] == "entered-in-error"
    nullified = [
        p for p in d.ehr.all("Provenance") if p["activity"]["coding"][0]["code"] == "NULLIFY"
    ]
    assert len(nullified) == 5  # the note and its four structured resources
    items = {i["resource_type"]: i for i in d.view(draft_id).structured}
    assert items["Condition"]["retraction"]["state"] == "committed"
    assert items["Condition"]["writeback"]["state"] == "committed"


def test_a_structured_resource_changed_in_the_chart_is_not_overwritten_by_the_retraction() -> None:
    """A structured resource changed in the chart is not overwritten by the retraction."""
    d = desk()
    draft_id = d.submit(structured_submission(CONDITION))
    note = d.approve(draft_id)
    d.run()
    (condition,) = d.ehr.all("Condition")
    changed = {**condition, "note": [{"text": "edited in the EHR"}]}
    d.ehr.update(changed, if_match=condition["meta"]["versionId"], request_id="someone-else")
    d.approvals.retract(d.clinician(), note.id, reason="clinical-error", meta=META)
    d.run()
    retraction = d.records(draft_id)[-1]
    assert retraction.kind is WritebackKind.STRUCTURED_RETRACT
    assert retraction.state is WritebackState.CONFLICT
    (current,) = d.ehr.all("Condition")
    assert current["note"] == [{"text": "edited in the EHR"}]  # never overwritten
    assert d.records(draft_id)[2].state is WritebackState.COMMITTED  # the note's retraction


def test_a_hold_on_the_note_type_holds_its_structured_resources_too() -> None:
    """A kill switch on the note's LOINC type keeps its structured write-backs in the queue."""
    d = desk()
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    d.clock.advance(1)
    d.executor().run_once()  # the note lands
    with d.store.unit() as uow:
        uow.killswitches.add(
            Switch(
                id="ks-1",
                tenant=TENANT,
                scope=Scope.NOTE_TYPE,
                value="11506-3",
                mode=Mode.HOLD_WRITEBACK,
                reason="incident drill",
                set_by="admin:a",
                set_at=d.clock.now(),
            )
        )
    d.run()
    (part,) = d.parts(draft_id)
    assert part.state is WritebackState.QUEUED
    assert d.ehr.all("Condition") == []


def test_a_hold_on_a_resource_type_holds_that_type_and_lets_the_note_go() -> None:
    """A kill switch on Condition keeps the Condition queued; the note is written."""
    d = desk()
    draft_id = d.submit(structured_submission(CONDITION, ALLERGY))
    d.approve(draft_id)
    with d.store.unit() as uow:
        uow.killswitches.add(
            Switch(
                id="ks-2",
                tenant=TENANT,
                scope=Scope.RESOURCE_TYPE,
                value="Condition",
                mode=Mode.HOLD_WRITEBACK,
                reason="incident drill",
                set_by="admin:a",
                set_at=d.clock.now(),
            )
        )
    d.run()
    assert len(d.ehr.all("DocumentReference")) == 1
    assert d.ehr.all("Condition") == []
    assert [p.state for p in d.parts(draft_id)] == [WritebackState.QUEUED] * 2
