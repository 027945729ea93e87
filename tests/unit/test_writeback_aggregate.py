"""The write-back aggregate: kinds, marks and the one place draft and write-back states change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from builders import draft_in
from chartgate.domain.chart_write import ChartWrite
from chartgate.domain.drafts import Draft
from chartgate.domain.errors import StateConflict
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.outcomes import Decision
from chartgate.domain.writeback import (
    Writeback,
    WritebackKind,
    WritebackState,
    carries_mark,
    mark,
)

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
WB = "11111111-1111-4111-8111-111111111111"


def _draft(state: DraftState) -> Draft:
    draft: Draft = draft_in(state, approved_version=1)
    return draft


def _writeback(kind: WritebackKind, **values: Any) -> Writeback:
    payload: dict[str, Any] = {"resourceType": "DocumentReference"}
    if not kind.creates_document:
        payload["meta"] = {"versionId": "1"}
    base: dict[str, Any] = {
        "tenant": "clinic-a",
        "id": WB,
        "draft_id": "d-1",
        "approval_id": "a-1",
        "kind": kind,
        "state": WritebackState.SENDING,
        "may_have_landed": False,
        "payload": payload,
        "payload_hash": "sha256:x",
        "correlation_id": "c-1",
        "attempts": 1,
        "next_attempt_at": NOW,
    }
    base.update(values)
    return Writeback(**base)


@pytest.mark.parametrize(
    ("kind", "creates", "doc_status", "activity"),
    [
        (WritebackKind.APPROVE, True, "preliminary", "CREATE"),
        (WritebackKind.AMEND, True, "amended", "CREATE"),
        (WritebackKind.FINALIZE, False, "final", "UPDATE"),
        (WritebackKind.RETRACT, False, "entered-in-error", "NULLIFY"),
    ],
)
def test_each_kind_carries_what_differs_about_it(
    kind: WritebackKind, creates: bool, doc_status: str, activity: str
) -> None:
    """A kind says whether it creates a document, the docStatus it writes and its activity."""
    assert kind.creates_document is creates
    assert kind.doc_status == doc_status
    assert kind.activity == activity


def test_stored_strings_come_back_as_the_enums() -> None:
    """A row read from the store (plain strings) becomes a kind and a state."""
    wb = replace(_writeback(WritebackKind.APPROVE), kind="finalize", state="needs_person")
    assert wb.kind is WritebackKind.FINALIZE
    assert wb.state is WritebackState.NEEDS_PERSON


def test_a_mark_replaces_an_earlier_write_backs_mark() -> None:
    """An update carries the id of the write-back that made it, never the creator's."""
    first = mark({"resourceType": "DocumentReference", "meta": {"versionId": "1"}}, "old")
    second = mark(first, WB)
    assert carries_mark(second, WB)
    assert not carries_mark(second, "old")
    assert second["meta"]["versionId"] == "1"
    assert carries_mark(first, "old")  # the input is not changed


def test_an_update_has_landed_only_once_the_version_moved_past_the_one_matched() -> None:
    """For finalize/retract, the chart version the clinician reviewed is not "landed"."""
    wb = _writeback(WritebackKind.FINALIZE, document_id="doc", document_version="1")
    assert not wb.document_landed
    wb.document_version = "2"
    assert wb.document_landed


def test_committing_an_approve_commits_the_draft_as_preliminary() -> None:
    """PROCEED on every step: write-back committed, draft committed, docStatus preliminary."""
    draft = _draft(DraftState.SENDING)
    wb = _writeback(WritebackKind.APPROVE, document_id="doc", may_have_landed=True)
    settled = ChartWrite(draft, wb).settle(Decision.PROCEED)
    assert settled.state is WritebackState.COMMITTED
    assert draft.state is DraftState.COMMITTED
    assert draft.doc_status == "preliminary"
    assert not wb.may_have_landed


def test_a_partial_approve_leaves_the_draft_committed_and_not_editable() -> None:
    """The note landed, its Provenance was refused: the draft is committed, never rejected."""
    draft = _draft(DraftState.SENDING)
    wb = _writeback(WritebackKind.APPROVE, document_id="doc")
    settled = ChartWrite(draft, wb).settle(Decision.PARTIAL)
    assert settled.state is WritebackState.PARTIAL
    assert draft.state is DraftState.COMMITTED
    with pytest.raises(StateConflict):
        draft.transition(Action.EDIT)


def test_a_rejected_approve_makes_the_draft_editable_again() -> None:
    """Nothing landed: the clinician may edit and approve again."""
    draft = _draft(DraftState.SENDING)
    ChartWrite(draft, _writeback(WritebackKind.APPROVE)).settle(Decision.REJECT)
    assert draft.state is DraftState.REJECTED


@pytest.mark.parametrize("decision", [Decision.REJECT, Decision.CONFLICT])
def test_a_refused_follow_up_leaves_the_draft_committed(decision: Decision) -> None:
    """A refused finalize keeps the note (and the draft) as they were in the chart."""
    draft = _draft(DraftState.SENDING)
    draft.doc_status = "preliminary"
    wb = _writeback(WritebackKind.FINALIZE, document_id="doc", document_version="1")
    ChartWrite(draft, wb).settle(decision, chart_version=1)
    assert draft.state is DraftState.COMMITTED
    assert draft.doc_status == "preliminary"


@pytest.mark.parametrize("decision", list(Decision))
@pytest.mark.parametrize("kind", list(WritebackKind))
@pytest.mark.parametrize("state", [DraftState.SENDING, DraftState.AMBIGUOUS, DraftState.QUEUED])
def test_a_settle_that_needs_no_chart_version_ends_the_same_without_one(
    decision: Decision, kind: WritebackKind, state: DraftState
) -> None:
    """Where ``needs_chart_version`` says no, the version given changes nothing settled."""
    ends = []
    for version in (None, 7):
        draft = _draft(state)
        wb = _writeback(kind, document_id="doc", document_version="1")
        write = ChartWrite(draft, wb)
        needed = write.needs_chart_version(decision)
        try:
            settled = write.settle(decision, chart_version=version)
        except StateConflict:
            settled = None
        ends.append((needed, settled, draft, wb))
    (needed, *first), (_, *second) = ends
    if not needed:
        assert first == second


def test_a_refused_follow_up_needs_the_charts_version() -> None:
    """A refused finalize asks for the version in the chart; a clean approve does not."""
    finalize = _writeback(WritebackKind.FINALIZE, document_id="doc", document_version="1")
    assert ChartWrite(_draft(DraftState.SENDING), finalize).needs_chart_version(Decision.REJECT)
    approve = _writeback(WritebackKind.APPROVE, document_id="doc", document_version="1")
    assert not ChartWrite(_draft(DraftState.SENDING), approve).needs_chart_version(Decision.PROCEED)


def test_a_retract_that_lands_ends_the_draft_retracted() -> None:
    """Entered-in-error in the chart: the draft is retracted."""
    draft = _draft(DraftState.SENDING)
    wb = _writeback(WritebackKind.RETRACT, document_id="doc", document_version="2")
    ChartWrite(draft, wb).settle(Decision.PROCEED)
    assert draft.state is DraftState.RETRACTED
    assert draft.doc_status == "entered-in-error"


def test_needing_a_person_before_the_note_landed_keeps_the_draft_ambiguous() -> None:
    """The worker cannot prove the note is absent: nobody may edit it as if it were."""
    draft = _draft(DraftState.SENDING)
    wb = _writeback(WritebackKind.APPROVE)
    ChartWrite(draft, wb).settle(Decision.NEEDS_PERSON)
    assert wb.state is WritebackState.NEEDS_PERSON
    assert draft.state is DraftState.AMBIGUOUS
    assert wb.may_have_landed


def test_a_person_pointing_at_the_document_lets_the_worker_send_the_rest() -> None:
    """Landed: the document is recorded and the write-back is queued for its Provenance."""
    draft = _draft(DraftState.AMBIGUOUS)
    wb = _writeback(WritebackKind.APPROVE, state=WritebackState.NEEDS_PERSON)
    pair = ChartWrite(draft, wb)
    pair.resolve_landed("doc-7", "1")
    assert wb.state is WritebackState.QUEUED
    assert wb.document_landed
    pair.begin(lease_expired=False)
    assert draft.state is DraftState.SENDING
    pair.settle(Decision.PROCEED)
    assert draft.state is DraftState.COMMITTED


def test_a_person_cannot_resend_a_note_that_is_in_the_chart() -> None:
    """Resend is only for a note the chart does not hold."""
    draft = _draft(DraftState.COMMITTED)
    wb = _writeback(WritebackKind.APPROVE, state=WritebackState.NEEDS_PERSON, document_id="doc")
    with pytest.raises(StateConflict):
        ChartWrite(draft, wb).resolve_resend()


def test_only_a_parked_write_back_can_be_resolved() -> None:
    """A committed write-back has nothing for a person to decide."""
    draft = _draft(DraftState.COMMITTED)
    wb = _writeback(WritebackKind.APPROVE, state=WritebackState.COMMITTED, document_id="d")
    pair = ChartWrite(draft, wb)
    for resolve in (pair.resolve_resend, pair.resolve_retry_follow_up):
        with pytest.raises(StateConflict):
            resolve()
    with pytest.raises(StateConflict):
        pair.resolve_landed("doc", "1")


def test_a_lease_that_ran_out_mid_request_means_it_may_have_landed() -> None:
    """A worker that takes over from a dead one reads the chart before sending."""
    draft = _draft(DraftState.SENDING)
    wb = _writeback(WritebackKind.APPROVE)
    ChartWrite(draft, wb).begin(lease_expired=True)
    assert wb.may_have_landed
    assert wb.state is WritebackState.SENDING


def test_a_write_back_of_another_draft_is_refused() -> None:
    """The pair must belong together."""
    with pytest.raises(StateConflict):
        ChartWrite(_draft(DraftState.SENDING), _writeback(WritebackKind.APPROVE, draft_id="x"))


def _parked_finalize() -> tuple[Draft, Writeback]:
    """A finalize whose PUT landed (version 2) and whose Provenance waits for a person."""
    draft = _draft(DraftState.COMMITTED)
    wb = _writeback(
        WritebackKind.FINALIZE,
        state=WritebackState.NEEDS_PERSON,
        document_id="doc",
        document_version="2",
    )
    return draft, wb


def test_a_parked_finalize_can_be_marked_landed_on_its_own_document() -> None:
    """``landed`` works for a finalize: the note is the one it names; read before sending."""
    draft, wb = _parked_finalize()
    ChartWrite(draft, wb).resolve_landed("doc", "2")
    assert wb.state is WritebackState.QUEUED
    assert wb.may_have_landed  # the Provenance may have landed late: read first


def test_a_parked_finalize_cannot_be_pointed_at_another_document() -> None:
    """A finalize changes the document it names; any other one is refused."""
    draft, wb = _parked_finalize()
    with pytest.raises(StateConflict, match="another document"):
        ChartWrite(draft, wb).resolve_landed("someone-elses", "5")


def test_a_follow_up_found_in_the_chart_completes_the_write_back() -> None:
    """The person's chart read found our Provenance: committed, nothing more is sent."""
    draft, wb = _parked_finalize()
    ChartWrite(draft, wb).resolve_follow_up_found("prov-1")
    assert wb.state is WritebackState.COMMITTED
    assert wb.provenance_id == "prov-1"
    assert draft.state is DraftState.COMMITTED


def test_a_follow_up_cannot_be_found_for_a_note_not_in_the_chart() -> None:
    """Completing needs the note in the chart: a parked create without it is refused."""
    draft = _draft(DraftState.AMBIGUOUS)
    wb = _writeback(WritebackKind.APPROVE, state=WritebackState.NEEDS_PERSON)
    with pytest.raises(StateConflict):
        ChartWrite(draft, wb).resolve_follow_up_found("prov-1")


def test_a_marked_payload_shares_nothing_with_what_it_was_marked_from() -> None:
    """``mark`` copies deeply: changing the original's nested parts leaves the marked one."""
    original = {
        "resourceType": "DocumentReference",
        "meta": {"tag": [{"system": "urn:other", "code": "x"}]},
        "content": [{"attachment": {"data": "YQ=="}}],
        "extension": ({"url": "urn:e", "valueString": "v"},),
    }
    marked = mark(original, "wb-1")
    original["content"][0]["attachment"]["data"] = "Yg=="
    original["meta"]["tag"].append({"system": "urn:more", "code": "y"})
    original["extension"][0]["valueString"] = "changed"
    assert marked["content"][0]["attachment"]["data"] == "YQ=="
    assert [t["code"] for t in marked["meta"]["tag"]] == ["x", "wb-1"]
    assert marked["extension"][0]["valueString"] == "v"
