"""The life of a draft: the one transition table.

Every state change in chartgate goes through ``next_state``; anything not in the table is
refused with ``StateConflict`` (the API answers 409). See ARCHITECTURE.md, "The life of a
draft".
"""

from __future__ import annotations

from enum import StrEnum

from chartgate.domain.errors import StateConflict


class DraftState(StrEnum):
    """Where a draft is; the reviewer page's banner is derived from this."""

    IN_REVIEW = "in_review"
    APPROVED = "approved"
    QUEUED = "queued"
    SENDING = "sending"
    COMMITTED = "committed"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    AMBIGUOUS = "ambiguous"
    RETRACTED = "retracted"
    DISCARDED = "discarded"


class Action(StrEnum):
    """Everything that can happen to a draft."""

    EDIT = "edit"  # clinician saves a new version
    APPROVE = "approve"  # clinician approves a version for the chart (freezes it)
    QUEUE = "queue"  # the approval's outbox row is written
    SEND = "send"  # a worker claims the write-back and sends it
    COMMIT = "commit"  # the EHR confirmed the write
    CONFIRM_RETRACT = "confirm_retract"  # the EHR confirmed the note is entered-in-error
    FOLLOW_UP_FAILED = "follow_up_failed"  # finalize/amend/retract refused: note unchanged
    CONFLICT = "conflict"  # the chart changed since the baseline (409/412)
    REJECT = "reject"  # the EHR (or validation) said no, for a reason
    LOSE_ANSWER = "lose_answer"  # timeout / dropped connection after the request left
    RETRY = "retry"  # a transient refusal that cannot have landed: back to the queue
    RECONCILE = "reconcile"  # a worker takes an ambiguous write-back: read the chart first
    FINALIZE = "finalize"  # step-up approved second write-back: docStatus final
    REBASE = "rebase"  # new version against the chart's new baseline
    AMEND = "amend"  # a new approved version will replace the committed note (relatesTo)
    RETRACT = "retract"  # the committed note will be marked entered-in-error
    DISCARD = "discard"  # ends a draft that was never sent


S, A = DraftState, Action

TRANSITIONS: dict[tuple[DraftState, Action], DraftState] = {
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
    # Reconciliation happens while sending: the chart is read before anything is sent, and
    # only what is missing is sent (ARCHITECTURE.md, "Exactly-once write-back", rule 4).
    (S.AMBIGUOUS, A.RECONCILE): S.SENDING,
    (S.CONFLICT, A.REBASE): S.IN_REVIEW,
    (S.CONFLICT, A.DISCARD): S.DISCARDED,
    (S.REJECTED, A.EDIT): S.IN_REVIEW,
    (S.REJECTED, A.DISCARD): S.DISCARDED,
    (S.COMMITTED, A.FINALIZE): S.QUEUED,
    (S.COMMITTED, A.AMEND): S.QUEUED,
    (S.COMMITTED, A.RETRACT): S.QUEUED,
}
"""(state, action) -> next state. The whole lifecycle, in one place.

Finalize, amend and retract are write-backs of their own: each goes back through the queue
(``committed -> queued -> sending -> ...``). An amended note is a draft that is committed again
with ``doc_status = amended`` (its new DocumentReference replaces the old one); a retracted
note ends in ``retracted``.
"""

TERMINAL: frozenset[DraftState] = frozenset({S.RETRACTED, S.DISCARDED})
"""States no action leaves."""

EDITABLE: frozenset[DraftState] = frozenset({S.IN_REVIEW, S.REJECTED})
"""States in which a clinician may save a new version."""


def next_state(state: DraftState, action: Action) -> DraftState:
    """Return the state after ``action``, or raise ``StateConflict`` if it is illegal here."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise StateConflict(
            f"cannot {action.value} a draft that is {state.value}", expression="state"
        ) from None


def allowed_actions(state: DraftState) -> frozenset[Action]:
    """Every action the table allows from ``state`` (for the UI and the API's hints)."""
    return frozenset(action for (s, action) in TRANSITIONS if s is state)
