"""Amending a note changes its structured resources in the chart (issue 13, ADR 0031).

The amended version's clinician-approved proposals are compared with what the note put in
the chart: new ones are created, changed ones updated (PUT with If-Match, a new mark, their
own Provenance), removed ones marked entered-in-error, unchanged ones left alone; all after
the amendment's own write-back, each exactly once through the same executor.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from chartgate.domain.errors import PolicyDenied, StateConflict
from chartgate.domain.outcomes import Answer, Decision, Step, decide
from chartgate.domain.structured import identity, plan_amendment
from chartgate.domain.submission import Note, VersionEdit
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import CreateGuard, Writeback, WritebackKind, WritebackState
from chartgate.policy import default_policy_bytes, load_policy_bytes
from chartgate.service.writeback import CRASH_POINTS
from structured_desk import LEASE, META, Desk, WorkerDied, desk, die_at
from structured_items import (
    ALLERGY,
    CONDITION,
    MEDICATION_REQUEST,
    OBSERVATION,
    STRUCTURED_NOTE,
    structured_submission,
)

FEVER = {
    **OBSERVATION,
    "valueQuantity": {**OBSERVATION["valueQuantity"], "value": 38.4},
}


def _edit(*resources: dict[str, Any], text: str = "\nAddendum: reviewed.") -> VersionEdit:
    return VersionEdit(
        note=Note.model_validate(
            {**structured_submission()["note"], "text": STRUCTURED_NOTE + text}
        ),
        resources=tuple(copy.deepcopy(list(resources))),
    )


def _written(d: Desk, *resources: dict[str, Any]) -> tuple[str, Writeback]:
    """A draft with ``resources`` approved, every write-back committed."""
    draft_id = d.submit(structured_submission(*resources))
    note = d.approve(draft_id)
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    return draft_id, note


def _amend(d: Desk, draft_id: str, note: Writeback, *resources: dict[str, Any]) -> Writeback:
    version = d.view(draft_id).draft.current.number
    _, record = d.approvals.amend(
        d.clinician(), note.id, expected_version=version, edit=_edit(*resources), meta=META
    )
    return record


def _queued_by(d: Desk, draft_id: str, approval_id: str) -> list[Writeback]:
    return sorted(
        (r for r in d.records(draft_id) if r.approval_id == approval_id),
        key=lambda r: r.part,
    )


def test_an_amendment_creates_updates_and_retracts_and_leaves_the_rest() -> None:
    """New -> created, changed -> updated, removed -> entered-in-error, unchanged -> untouched."""
    d = desk()
    draft_id, note = _written(d, CONDITION, ALLERGY, OBSERVATION)
    (allergy_before,) = d.ehr.all("AllergyIntolerance")
    amend = _amend(d, draft_id, note, CONDITION, FEVER, MEDICATION_REQUEST)
    queued = _queued_by(d, draft_id, amend.approval_id)
    assert [(r.kind, r.target_type) for r in queued] == [
        (WritebackKind.AMEND, "DocumentReference"),
        (WritebackKind.STRUCTURED_UPDATE, "Observation"),
        (WritebackKind.STRUCTURED, "MedicationRequest"),
        (WritebackKind.STRUCTURED_RETRACT, "AllergyIntolerance"),
    ]
    assert [r.after_id for r in queued[1:]] == [r.id for r in queued[:-1]]
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    (condition,) = d.ehr.all("Condition")
    assert condition["meta"]["versionId"] == "1"  # unchanged: never written again
    (observation,) = d.ehr.all("Observation")
    assert observation["valueQuantity"]["value"] == 38.4
    assert observation["meta"]["versionId"] == "2"
    assert observation["meta"]["tag"][0]["code"] == queued[1].id  # the update's own mark
    assert len(d.ehr.all("MedicationRequest")) == 1
    (allergy,) = d.ehr.all("AllergyIntolerance")
    assert allergy["id"] == allergy_before["id"]
    assert allergy["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in allergy  # ait-2
    activities = {
        p["meta"]["tag"][0]["code"]: p["activity"]["coding"][0]["code"]
        for p in d.ehr.all("Provenance")
    }
    assert activities[queued[1].id] == "UPDATE"
    assert activities[queued[2].id] == "CREATE"
    assert activities[queued[3].id] == "NULLIFY"
    (update_provenance,) = [
        p for p in d.ehr.all("Provenance") if p["meta"]["tag"][0]["code"] == queued[1].id
    ]
    assert update_provenance["target"][0]["reference"] == (
        f"Observation/{observation['id']}/_history/2"
    )


def test_the_api_shows_each_proposal_with_its_state_after_an_amendment() -> None:
    """GET structured[] pairs each proposal with its create, update, and the removed ones."""
    d = desk()
    draft_id, note = _written(d, CONDITION, ALLERGY, OBSERVATION)
    _amend(d, draft_id, note, CONDITION, FEVER)
    items = d.view(draft_id).structured
    by_type = {i["resource_type"]: i for i in items}
    assert by_type["Observation"]["update"]["state"] == "queued"
    assert by_type["Observation"]["writeback"]["state"] == "committed"
    assert by_type["Condition"]["update"] is None
    assert by_type["Condition"]["writeback"]["state"] == "committed"
    (removed,) = [i for i in items if i["index"] is None]
    assert removed["resource_type"] == "AllergyIntolerance"
    assert removed["fate"].startswith("removed by the amendment")
    assert removed["retraction"]["state"] == "queued"
    d.run()
    items = d.view(draft_id).structured
    assert {i["resource_type"]: i for i in items}["Observation"]["update"]["state"] == ("committed")
    assert next(i for i in items if i["index"] is None)["retraction"]["state"] == "committed"


def test_an_amendment_with_no_structured_change_queues_only_the_note() -> None:
    """Unchanged proposals (even re-ordered) queue nothing but the amended note."""
    d = desk()
    draft_id, note = _written(d, CONDITION, OBSERVATION)
    amend = _amend(d, draft_id, note, OBSERVATION, CONDITION)
    assert [r.kind for r in _queued_by(d, draft_id, amend.approval_id)] == [WritebackKind.AMEND]


def test_nothing_structured_changes_when_the_amended_note_is_refused() -> None:
    """A refused amendment sends none of its structured changes."""
    d = desk()
    draft_id, note = _written(d, CONDITION, OBSERVATION)
    amend = _amend(d, draft_id, note, FEVER)
    d.ehr.fail_next("status", method="POST", resource_type="DocumentReference", status=400)
    d.run()
    parts = _queued_by(d, draft_id, amend.approval_id)[1:]
    assert {p.state for p in parts} == {WritebackState.REJECTED}
    assert d.ehr.all("Observation")[0]["meta"]["versionId"] == "1"
    assert "entered-in-error" not in str(d.ehr.all("Condition")[0])


def test_an_update_is_never_written_over_a_change_made_in_the_ehr() -> None:
    """If-Match: someone else's version in the chart makes the update a conflict."""
    d = desk()
    draft_id, note = _written(d, OBSERVATION)
    (current,) = d.ehr.all("Observation")
    changed = {**current, "note": [{"text": "edited in the EHR"}]}
    d.ehr.update(changed, if_match=current["meta"]["versionId"], request_id="someone-else")
    amend = _amend(d, draft_id, note, FEVER)
    d.run()
    (update,) = _queued_by(d, draft_id, amend.approval_id)[1:]
    assert update.kind is WritebackKind.STRUCTURED_UPDATE
    assert update.state is WritebackState.CONFLICT
    assert d.ehr.all("Observation")[0]["note"] == [{"text": "edited in the EHR"}]


def test_an_amendment_waits_until_every_structured_write_back_is_settled() -> None:
    """While a structured write-back may still change the chart, an amendment is refused."""
    d = desk(CreateGuard.NONE)
    draft_id = d.submit(structured_submission(CONDITION))
    note = d.approve(draft_id)
    d.ehr.fail_next("hold", method="POST", resource_type="Condition")
    d.run(rounds=5)
    (part,) = d.parts(draft_id)
    assert part.state is WritebackState.NEEDS_PERSON
    before = len(d.records(draft_id))
    with pytest.raises(StateConflict, match="not settled"):
        _amend(d, draft_id, note, FEVER)
    assert len(d.records(draft_id)) == before


def test_removing_a_resource_the_policy_cannot_roll_back_refuses_the_amendment() -> None:
    """No entered-in-error rollback for the type: the amendment is refused, nothing queued."""
    data = yaml.safe_load(default_policy_bytes())
    for kind in ("Condition", "Observation"):
        data["resources"][kind].update(
            mode="clinician-approved", ehr_profiles=["generic-r4"], rollback=["entered-in-error"]
        )
    data["resources"]["Condition"]["rollback"] = ["amend-replaces"]
    d = desk(policy=load_policy_bytes(yaml.safe_dump(data).encode(), source="test"))
    draft_id, note = _written(d, CONDITION, OBSERVATION)
    before = len(d.records(draft_id))
    with pytest.raises(PolicyDenied, match="entered-in-error"):
        _amend(d, draft_id, note, OBSERVATION)
    assert len(d.records(draft_id)) == before


def test_retracting_after_an_amendment_retracts_the_newest_version_of_each() -> None:
    """The note's retraction PUTs entered-in-error on the amended (newest) version."""
    d = desk()
    draft_id, note = _written(d, OBSERVATION)
    amend = _amend(d, draft_id, note, FEVER)
    d.run()
    d.approvals.retract(d.clinician(), amend.id, reason="clinical-error", meta=META)
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    (observation,) = d.ehr.all("Observation")
    assert observation["status"] == "entered-in-error"
    assert observation["valueQuantity"]["value"] == 38.4
    assert observation["meta"]["versionId"] == "3"


# The amendment's note takes 2 sends (document, Provenance); the 3rd/4th is the update.
CRASHES = [(point, nth) for point in CRASH_POINTS for nth in (3, 4)]


@pytest.mark.parametrize(("point", "nth"), CRASHES, ids=[f"{p}-{n}" for p, n in CRASHES])
def test_a_worker_killed_during_a_structured_update_never_writes_it_twice(
    point: str, nth: int
) -> None:
    """A worker killed around the update's PUT or its Provenance: one update, one Provenance."""
    d = desk()
    draft_id, note = _written(d, OBSERVATION)
    amend = _amend(d, draft_id, note, FEVER)
    dying = d.executor("w1", crash=die_at(point, nth))
    try:
        for _ in range(6):
            d.clock.advance(1)
            dying.run_once()
    except WorkerDied:
        d.clock.advance(LEASE.total_seconds() + 1)
    d.run(d.executor("w2"))
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    (observation,) = d.ehr.all("Observation")
    assert observation["meta"]["versionId"] == "2"
    (update,) = _queued_by(d, draft_id, amend.approval_id)[1:]
    mine = [p for p in d.ehr.all("Provenance") if p["meta"]["tag"][0]["code"] == update.id]
    assert len(mine) == 1


def test_a_lost_answer_to_the_update_is_read_back() -> None:
    """A dropped answer to the PUT: the chart read finds our mark, nothing is sent twice."""
    d = desk()
    draft_id, note = _written(d, OBSERVATION)
    _amend(d, draft_id, note, FEVER)
    d.ehr.fail_next("drop", method="PUT", resource_type="Observation")
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    assert d.ehr.all("Observation")[0]["meta"]["versionId"] == "2"
    assert tenant_events(d).count("writeback.reconciled") >= 1


def tenant_events(d: Desk) -> list[str]:
    """The ledger's event types, in order."""
    return list(d.store.events())


@pytest.mark.parametrize(
    ("answer", "chart", "decision"),
    [
        (Answer.SUCCESS, None, Decision.PROCEED),
        (Answer.VERSION_CONFLICT, None, Decision.RECONCILE),
        (Answer.NO_ANSWER, None, Decision.RECONCILE),
        (Answer.REFUSED, None, Decision.REJECT),
        (Answer.GONE, None, Decision.CONFLICT),
    ],
)
def test_a_structured_update_is_decided_by_the_update_rows_of_the_outcome_table(
    answer: Answer, chart: None, decision: Decision
) -> None:
    """structured-update is a PUT with If-Match: the table's update_document rows decide it."""
    del chart
    assert not WritebackKind.STRUCTURED_UPDATE.creates_document
    assert not WritebackKind.STRUCTURED_UPDATE.writes_note
    assert WritebackKind.STRUCTURED_UPDATE.activity == "UPDATE"
    assert decide(Step.UPDATE_DOCUMENT, answer) is decision


def test_the_plan_pairs_by_what_a_proposal_is_about() -> None:
    """Same type and code pair (first with first); content decides changed or unchanged."""
    chart = [("c1", CONDITION), ("o1", OBSERVATION), ("a1", ALLERGY)]
    proposals = [FEVER, CONDITION, MEDICATION_REQUEST]
    plan = plan_amendment(proposals, [1, 0, 2], chart)
    assert plan.created == (2,)
    assert plan.updated == ((0, "o1"),)
    assert plan.unchanged == ((1, "c1"),)
    assert plan.removed == ("a1",)
    assert identity(CONDITION) == ("Condition", "http://snomed.info/sct|10509002")


def test_after_an_amendment_and_the_notes_retraction_every_item_keeps_its_resource() -> None:
    """Unchanged, updated and removed items all show their resource and its retraction."""
    d = desk()
    draft_id, note = _written(d, CONDITION, OBSERVATION, ALLERGY)
    amend = _amend(d, draft_id, note, CONDITION, FEVER)
    d.run()
    d.approvals.retract(d.clinician(), amend.id, reason="clinical-error", meta=META)
    d.run()
    items = d.view(draft_id).structured
    shown = {(i["resource_type"], i["index"] is None): i for i in items}
    for kind in ("Condition", "Observation"):
        item = shown[kind, False]
        assert item["writeback"]["state"] == "committed", kind
        assert item["retraction"]["state"] == "committed", kind
    assert shown["Observation", False]["update"]["state"] == "committed"
    assert shown["AllergyIntolerance", True]["retraction"]["state"] == "committed"
    assert len(items) == 3


@pytest.mark.parametrize("guard", [CreateGuard.CONDITIONAL, CreateGuard.NONE])
@pytest.mark.parametrize("mode", [ProvenanceMode.TRANSACTION, ProvenanceMode.HEADER])
def test_an_amendment_travels_with_its_provenance_where_the_profile_says(
    guard: CreateGuard, mode: ProvenanceMode
) -> None:
    """Bundle or header: the amendment's update and new create each land once, never parked.

    Only a first approval's note carries its parts in its Bundle: an amendment's new
    structured resource is not taken for one that rode along (a read first, then a person
    where no create guard exists).
    """
    d = desk(guard, provenance_mode=mode)
    draft_id, note = _written(d, OBSERVATION)
    amend = _amend(d, draft_id, note, FEVER, CONDITION)
    d.run()
    queued = _queued_by(d, draft_id, amend.approval_id)
    assert [r.kind for r in queued] == [
        WritebackKind.AMEND,
        WritebackKind.STRUCTURED,
        WritebackKind.STRUCTURED_UPDATE,
    ]
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    assert len(d.ehr.all("Condition")) == 1
    assert d.ehr.all("Observation")[0]["valueQuantity"]["value"] == 38.4
    for record in queued[1:]:
        mine = [p for p in d.ehr.all("Provenance") if p["meta"]["tag"][0]["code"] == record.id]
        assert len(mine) == 1, record.kind
