"""The draft aggregate as business sentences: versions, freezing, approval, finalize."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from builders import ENCOUNTER, PATIENT, TENANT, submission
from chartgate.domain.drafts import Approval, Approver, Draft, DraftVersion, hash_content
from chartgate.domain.errors import StateConflict, VersionMismatch
from chartgate.domain.hashing import content_hash
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.submission import DraftSubmission, Note, VersionContent

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
POLICY_HASH = "sha256:" + "ab" * 32
OLD = "Return if symptoms worsen."
NEW = "Return if fever develops or symptoms last 10 days."
CONDITION = {
    "resourceType": "Condition",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J20.9"}]},
}


def _submission() -> DraftSubmission:
    return DraftSubmission.model_validate(submission())


def new_draft() -> Draft:
    """A scribe's draft for the synthetic encounter, as submitted."""
    sub = _submission()
    return Draft.submit(
        draft_id="draft-1",
        tenant=TENANT,
        patient=sub.patient,
        encounter=sub.encounter,
        origin=sub.origin,
        content=sub.content(),
        baseline={"DocumentReference/doc-9": "3"},
        correlation_id="corr-1",
        author="scribe:scribe-test-client",
        at=T0,
    )


def edited(content: VersionContent, old: str = OLD, new: str = NEW) -> VersionContent:
    """The content with one sentence of the note replaced."""
    note = content.note.model_copy(update={"text": content.note.text.replace(old, new)})
    return VersionContent(note=note, resources=content.resources)


def approver() -> Approver:
    return Approver(
        subject="clinician-test",
        fhir_user="Practitioner/prac-001",
        amr=("pwd", "otp"),
        acr="urn:chartgate:acr:mfa",
        auth_time=T0,
    )


def approve(draft: Draft, version: int | None = None, n: int = 1) -> Approval:
    """Approve the draft's current version (or name another, to be refused)."""
    return draft.approve(
        approval_id=f"approval-{n}",
        writeback_id=f"writeback-{n}",
        expected_version=draft.current.number if version is None else version,
        approver=approver(),
        policy_hash=POLICY_HASH,
        at=T0 + timedelta(minutes=5),
    )


def edit(
    draft: Draft, content: VersionContent | None = None, expected: int | None = None
) -> DraftVersion:
    return draft.save_version(
        content or edited(draft.current.content),
        expected_version=draft.current.number if expected is None else expected,
        author="clinician:clinician-test",
        at=T0 + timedelta(minutes=1),
    )


def removed_lines(unified: str) -> list[str]:
    """The ``-`` lines of a unified diff, without its file header."""
    return [ln for ln in unified.splitlines() if ln.startswith("-") and not ln.startswith("---")]


def added_lines(unified: str) -> list[str]:
    """The ``+`` lines of a unified diff, without its file header."""
    return [ln for ln in unified.splitlines() if ln.startswith("+") and not ln.startswith("+++")]


def committed_draft() -> Draft:
    """A draft edited once, approved, queued, sent and committed by the EHR."""
    draft = new_draft()
    edit(draft)
    approve(draft)
    for action in (Action.QUEUE, Action.SEND, Action.COMMIT):
        draft.transition(action)
    draft.doc_status = "preliminary"
    return draft


# -- submission ----------------------------------------------------------------------------


def test_version_one_is_what_the_ai_proposed() -> None:
    """A new draft holds one version: exactly the scribe's content, authored by the scribe."""
    sub = _submission()
    draft = new_draft()
    assert draft.state is DraftState.IN_REVIEW
    assert len(draft.versions) == 1
    assert draft.original is draft.current
    assert draft.original.number == 1
    assert draft.original.content == sub.content()
    assert draft.original.author == "scribe:scribe-test-client"
    assert draft.original.created_at == T0
    assert draft.patient == PATIENT
    assert draft.encounter == ENCOUNTER
    assert draft.approved_version is None


def test_the_baseline_is_copied_not_shared() -> None:
    """Changing the caller's baseline dict afterwards does not change the draft."""
    baseline = {"DocumentReference/doc-9": "3"}
    sub = _submission()
    draft = Draft.submit(
        draft_id="d",
        tenant=TENANT,
        patient=sub.patient,
        encounter=sub.encounter,
        origin=sub.origin,
        content=sub.content(),
        baseline=baseline,
        correlation_id="c",
        author="scribe:s",
        at=T0,
    )
    baseline["DocumentReference/doc-9"] = "4"
    assert draft.baseline == {"DocumentReference/doc-9": "3"}


# -- content addressing --------------------------------------------------------------------


def test_content_hash_is_stable_across_key_order() -> None:
    """The same structured content hashes the same whatever order its keys arrived in."""
    forward = {"resourceType": "Condition", "code": {"text": "bronchitis", "coding": []}}
    backward = {"code": {"coding": [], "text": "bronchitis"}, "resourceType": "Condition"}
    note = _submission().note
    one = VersionContent(note=note, resources=(forward,))
    two = VersionContent(note=note, resources=(backward,))
    assert hash_content(one) == hash_content(two)
    assert content_hash(forward) == content_hash(backward)


def test_content_hash_is_a_sha256_of_the_canonical_json() -> None:
    """A version's hash is ``sha256:`` plus 64 hex digits, and it is recomputable."""
    draft = new_draft()
    digest = draft.current.content_hash
    assert digest.startswith("sha256:")
    assert len(digest.removeprefix("sha256:")) == 64
    assert digest == hash_content(draft.current.content)


def test_a_one_word_change_changes_the_content_hash() -> None:
    """Any edit to the note gives a different content address."""
    draft = new_draft()
    assert hash_content(edited(draft.current.content)) != draft.current.content_hash


# -- saving versions -----------------------------------------------------------------------


def test_saving_an_edit_adds_a_new_version_and_keeps_the_old_one() -> None:
    """An edit appends version 2 by the clinician; version 1 stays exactly as the AI wrote it."""
    draft = new_draft()
    original = draft.current
    version = edit(draft)
    assert version.number == 2
    assert draft.current is version
    assert draft.original is original
    assert OLD in draft.original.content.note.text
    assert NEW in draft.current.content.note.text
    assert version.author == "clinician:clinician-test"
    assert draft.state is DraftState.IN_REVIEW


def test_saving_with_a_stale_version_raises_version_mismatch() -> None:
    """A clinician who edited version 1 after someone saved version 2 is told so, not merged."""
    draft = new_draft()
    edit(draft)
    with pytest.raises(VersionMismatch) as stale:
        edit(draft, expected=1)
    assert stale.value.expression == "If-Match"
    assert len(draft.versions) == 2


def test_saving_with_a_future_version_raises_version_mismatch() -> None:
    """Naming a version that does not exist yet is refused too."""
    draft = new_draft()
    with pytest.raises(VersionMismatch):
        edit(draft, expected=2)


def test_versions_are_immutable() -> None:
    """A saved version cannot be changed in place."""
    draft = new_draft()
    with pytest.raises(dataclasses.FrozenInstanceError):
        draft.current.number = 7  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        draft.current.content.note.text = "rewritten"  # type: ignore[misc]


def test_approved_version_cannot_be_edited() -> None:
    """Once approved, a version is frozen: saving a new version is a state conflict."""
    draft = new_draft()
    approve(draft)
    with pytest.raises(StateConflict) as refused:
        edit(draft)
    assert not isinstance(refused.value, VersionMismatch)
    assert len(draft.versions) == 1
    assert draft.state is DraftState.APPROVED


@pytest.mark.parametrize(
    "state",
    [s for s in DraftState if s not in {DraftState.IN_REVIEW, DraftState.REJECTED}],
    ids=lambda s: s.value,
)
def test_only_a_draft_in_review_or_rejected_takes_an_edit(state: DraftState) -> None:
    """Queued, sending, committed and terminal drafts refuse edits and keep their versions."""
    draft = new_draft()
    draft.state = state
    with pytest.raises(StateConflict):
        edit(draft)
    assert len(draft.versions) == 1


def test_a_rejected_draft_can_be_edited_back_into_review() -> None:
    """After the EHR rejects a note the clinician fixes it as a new version and reviews again."""
    draft = new_draft()
    approve(draft)
    for action in (Action.QUEUE, Action.SEND, Action.REJECT):
        draft.transition(action)
    version = edit(draft)
    assert version.number == 2
    assert draft.state is DraftState.IN_REVIEW


# -- approval ------------------------------------------------------------------------------


def test_approval_freezes_the_current_version() -> None:
    """Approving records which version was approved and moves the draft to approved."""
    draft = new_draft()
    edit(draft)
    approval = approve(draft)
    assert draft.state is DraftState.APPROVED
    assert draft.approved_version == 2
    assert approval.version == 2
    assert approval.content_hash == draft.version(2).content_hash
    assert approval.kind == "approve"


def test_approval_carries_the_diff_and_the_policy_hash() -> None:
    """The approval stores what changed since the AI's version 1, and the policy in force."""
    draft = new_draft()
    edit(draft)
    approval = approve(draft)
    assert approval.policy_hash == POLICY_HASH
    assert approval.diff.from_version == 1
    assert approval.diff.to_version == 2
    assert approval.diff.lines_added == 1
    assert approval.diff.lines_removed == 1
    assert removed_lines(approval.diff.unified) == ["-Supportive care with fluids and rest. " + OLD]
    assert added_lines(approval.diff.unified) == ["+Supportive care with fluids and rest. " + NEW]
    assert approval.diff.json_patch == []


def test_approval_records_who_approved_and_how_strongly() -> None:
    """The approver's identity, MFA evidence and time travel with the approval."""
    draft = new_draft()
    approval = approve(draft)
    assert approval.approver == approver()
    assert approval.approved_at == T0 + timedelta(minutes=5)
    assert approval.writeback_id == "writeback-1"
    assert approval.draft_id == draft.id


def test_approving_the_ai_version_unchanged_stores_an_empty_diff() -> None:
    """A clinician who changes nothing approves a diff that says so."""
    approval = approve(new_draft())
    assert approval.version == 1
    assert not approval.diff.changed


def test_approving_a_stale_version_raises_version_mismatch() -> None:
    """A clinician cannot approve version 1 when version 2 is current (they did not see it)."""
    draft = new_draft()
    edit(draft)
    with pytest.raises(VersionMismatch):
        approve(draft, version=1)
    assert draft.state is DraftState.IN_REVIEW
    assert draft.approved_version is None


def test_a_draft_cannot_be_approved_twice() -> None:
    """A second approval of an approved draft is a state conflict."""
    draft = new_draft()
    approve(draft)
    with pytest.raises(StateConflict):
        approve(draft, n=2)


def test_a_discarded_draft_cannot_be_approved() -> None:
    """Discard ends a draft: approving it afterwards is refused."""
    draft = new_draft()
    draft.transition(Action.DISCARD)
    with pytest.raises(StateConflict):
        approve(draft)
    assert draft.approved_version is None


def test_a_structured_edit_shows_up_in_the_approvals_json_patch() -> None:
    """Adding a Condition before approving is recorded as a JSON Patch add."""
    draft = new_draft()
    content = draft.current.content
    edit(draft, VersionContent(note=content.note, resources=(CONDITION,)))
    approval = approve(draft)
    assert approval.diff.json_patch == [{"op": "add", "path": "/resources/0", "value": CONDITION}]
    assert approval.diff.unified == ""


# -- finalize ------------------------------------------------------------------------------


def finalize(draft: Draft) -> Approval:
    return draft.finalize(
        approval_id="approval-f",
        writeback_id="writeback-f",
        approver=approver(),
        policy_hash=POLICY_HASH,
        at=T0 + timedelta(hours=1),
    )


def test_finalize_needs_a_committed_approved_version() -> None:
    """A draft still in review, or approved but not yet in the chart, cannot be finalized."""
    in_review = new_draft()
    with pytest.raises(StateConflict):
        finalize(in_review)
    queued = new_draft()
    approve(queued)
    queued.transition(Action.QUEUE)
    with pytest.raises(StateConflict):
        finalize(queued)
    assert queued.state is DraftState.QUEUED


def test_finalize_resends_the_same_approved_content() -> None:
    """Finalizing a committed note approves the same version and content hash again."""
    draft = committed_draft()
    approval = finalize(draft)
    assert approval.kind == "finalize"
    assert approval.version == draft.approved_version == 2
    assert approval.content_hash == draft.version(2).content_hash
    assert approval.policy_hash == POLICY_HASH
    assert draft.state is DraftState.QUEUED


def test_a_final_note_cannot_be_finalized_again() -> None:
    """Once the chart's note is final, a second finalize is a state conflict."""
    draft = committed_draft()
    draft.doc_status = "final"
    with pytest.raises(StateConflict):
        finalize(draft)
    assert draft.state is DraftState.COMMITTED


# -- reading -------------------------------------------------------------------------------


def test_asking_for_a_version_that_does_not_exist_is_refused() -> None:
    """Version numbers start at 1 and stop at the newest."""
    draft = new_draft()
    for number in (0, 2, -1):
        with pytest.raises(StateConflict):
            draft.version(number)


def test_the_default_diff_runs_from_the_ai_version_to_the_current_one() -> None:
    """Without arguments the diff shows everything the clinician changed."""
    draft = new_draft()
    edit(draft)
    edit(draft, edited(draft.current.content, NEW, "Return in one week."))
    diff = draft.diff()
    assert (diff.from_version, diff.to_version) == (1, 3)
    assert OLD in removed_lines(diff.unified)[0]
    assert added_lines(diff.unified)[0].endswith("Return in one week.")


def test_a_diff_to_version_zero_is_refused_not_silently_the_current_version() -> None:
    """Asking for the diff to version 0 names a version that does not exist."""
    draft = new_draft()
    edit(draft)
    with pytest.raises(StateConflict):
        draft.diff(to_version=0)


def test_a_note_must_have_a_loinc_shaped_type() -> None:
    """A note type that is not LOINC-shaped is refused before a draft exists."""
    with pytest.raises(ValueError, match="pattern"):
        Note(type="progress", title="Progress note", text="x")
