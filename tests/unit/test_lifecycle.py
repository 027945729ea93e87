"""The life of a draft: every (state, action) pair, legal or refused, against the spec table."""

from __future__ import annotations

import itertools

import pytest

from chartgate.domain.errors import StateConflict
from chartgate.domain.lifecycle import (
    EDITABLE,
    TERMINAL,
    TRANSITIONS,
    Action,
    DraftState,
    allowed_actions,
    next_state,
)

S, A = DraftState, Action

# The lifecycle of ARCHITECTURE.md ("The life of a draft"), written out independently of the
# code so that a change to the table in src/ has to be made here too, on purpose.
SPEC: dict[tuple[DraftState, Action], DraftState] = {
    (S.IN_REVIEW, A.EDIT): S.IN_REVIEW,
    (S.IN_REVIEW, A.APPROVE): S.APPROVED,
    (S.IN_REVIEW, A.DISCARD): S.DISCARDED,
    (S.APPROVED, A.QUEUE): S.QUEUED,
    (S.QUEUED, A.SEND): S.SENDING,
    (S.SENDING, A.COMMIT): S.COMMITTED,
    (S.SENDING, A.CONFIRM_RETRACT): S.RETRACTED,
    (S.SENDING, A.FOLLOW_UP_FAILED): S.COMMITTED,
    (S.SENDING, A.CONFLICT): S.CONFLICT,
    (S.SENDING, A.REJECT): S.REJECTED,
    (S.SENDING, A.LOSE_ANSWER): S.AMBIGUOUS,
    (S.SENDING, A.RETRY): S.QUEUED,
    (S.AMBIGUOUS, A.RECONCILE): S.SENDING,
    (S.CONFLICT, A.REBASE): S.IN_REVIEW,
    (S.CONFLICT, A.DISCARD): S.DISCARDED,
    (S.REJECTED, A.EDIT): S.IN_REVIEW,
    (S.REJECTED, A.DISCARD): S.DISCARDED,
    (S.COMMITTED, A.FINALIZE): S.QUEUED,
    # Finalize, amend and retract are write-backs of their own: back through the queue.
    (S.COMMITTED, A.AMEND): S.QUEUED,
    (S.COMMITTED, A.RETRACT): S.QUEUED,
}

ALL_PAIRS = list(itertools.product(DraftState, Action))
LEGAL = [pair for pair in ALL_PAIRS if pair in SPEC]
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in SPEC]


def _id(pair: tuple[DraftState, Action]) -> str:
    state, action = pair
    return f"{state.value}-{action.value}"


def test_the_code_table_is_exactly_the_documented_lifecycle() -> None:
    """The transition table in src/ holds the documented transitions and nothing more."""
    assert TRANSITIONS == SPEC


def test_every_pair_is_either_legal_or_illegal() -> None:
    """The parametrised cases below cover the whole product of states and actions."""
    assert len(LEGAL) + len(ILLEGAL) == len(DraftState) * len(Action)
    assert len(LEGAL) == len(SPEC)


@pytest.mark.parametrize(("state", "action"), LEGAL, ids=[_id(p) for p in LEGAL])
def test_a_legal_action_moves_the_draft_to_the_tables_next_state(
    state: DraftState, action: Action
) -> None:
    """A legal (state, action) pair yields the next state the lifecycle names."""
    assert next_state(state, action) is SPEC[(state, action)]


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[_id(p) for p in ILLEGAL])
def test_an_illegal_action_is_refused_with_a_state_conflict(
    state: DraftState, action: Action
) -> None:
    """Any pair outside the table raises StateConflict naming the action and the state."""
    with pytest.raises(StateConflict) as refused:
        next_state(state, action)
    assert action.value in refused.value.message
    assert state.value in refused.value.message
    assert refused.value.expression == "state"


@pytest.mark.parametrize("state", sorted(TERMINAL), ids=lambda s: s.value)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_a_terminal_state_allows_no_action(state: DraftState, action: Action) -> None:
    """Retracted and discarded drafts cannot be moved by any action."""
    with pytest.raises(StateConflict):
        next_state(state, action)


def test_the_terminal_states_are_retracted_and_discarded() -> None:
    """Exactly the end states of the lifecycle are terminal, and nothing leaves them."""
    assert frozenset({S.RETRACTED, S.DISCARDED}) == TERMINAL
    for state in TERMINAL:
        assert allowed_actions(state) == frozenset()


def test_every_non_terminal_state_has_a_way_forward() -> None:
    """No state outside TERMINAL is a dead end."""
    for state in set(DraftState) - TERMINAL:
        assert allowed_actions(state), state


@pytest.mark.parametrize("state", list(DraftState), ids=lambda s: s.value)
def test_allowed_actions_lists_exactly_the_legal_actions(state: DraftState) -> None:
    """The hints the API and UI show match what next_state accepts."""
    expected = frozenset(action for (s, action) in SPEC if s is state)
    assert allowed_actions(state) == expected


def test_only_drafts_in_review_or_rejected_are_editable() -> None:
    """A clinician may save a version only before approval or after the EHR rejected it."""
    assert frozenset({S.IN_REVIEW, S.REJECTED}) == EDITABLE
    for state in DraftState:
        assert (state in EDITABLE) == ((state, A.EDIT) in SPEC)


def test_a_note_is_retracted_only_once_the_ehr_confirms_it() -> None:
    """Retract queues a write-back; only the EHR's confirmation makes the draft retracted."""
    assert next_state(S.COMMITTED, A.RETRACT) is S.QUEUED
    assert {s for (s, a) in SPEC if SPEC[(s, a)] is S.RETRACTED} == {S.SENDING}


def test_a_sent_draft_can_no_longer_be_discarded() -> None:
    """Once queued for the chart, a draft can only be amended or retracted, never discarded."""
    for state in (S.APPROVED, S.QUEUED, S.SENDING, S.AMBIGUOUS, S.COMMITTED):
        assert A.DISCARD not in allowed_actions(state)


def test_an_unknown_outcome_is_never_resent_without_reconciling() -> None:
    """From ambiguous the only ways back to the queue or the chart go through reconciliation."""
    assert allowed_actions(S.AMBIGUOUS) == frozenset({A.RECONCILE})
    assert A.SEND not in allowed_actions(S.AMBIGUOUS)
    assert A.RETRY not in allowed_actions(S.AMBIGUOUS)
