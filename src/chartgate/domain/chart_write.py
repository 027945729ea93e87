"""``ChartWrite``: the one place where a write-back and its draft change together.

Once an approval is queued, the draft's state, the write-back's state, the note's
``docStatus`` and the chart version change here only: the worker decides with the outcome
table (``domain/outcomes.py``) and hands the decision to ``ChartWrite.settle``; a person's
resolution goes through the ``resolve_*`` methods, each of which records a
``writeback.resolved`` domain event on the draft (ADR 0033). A structured part settles its own state
only (``settle_part``: the draft follows its note).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chartgate.domain.draft_events import WritebackResolved
from chartgate.domain.errors import StateConflict
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.outcomes import Decision
from chartgate.domain.writeback import (
    RESOLVABLE_STATES,
    Writeback,
    WritebackKind,
    WritebackState,
)

if TYPE_CHECKING:
    from chartgate.domain.drafts import Draft

__all__ = ["ChartWrite", "Settled", "settle_part"]


@dataclass(frozen=True, slots=True)
class Settled:
    """What settling one attempt did: the write-back's new state and the event to record."""

    state: WritebackState
    event: str
    retry: bool


_PART_SETTLED = {
    Decision.PROCEED: (WritebackState.COMMITTED, "writeback.committed", False),
    Decision.PARTIAL: (WritebackState.PARTIAL, "writeback.partial", False),
    Decision.NEEDS_PERSON: (WritebackState.NEEDS_PERSON, "writeback.needs_person", False),
    Decision.CONFLICT: (WritebackState.CONFLICT, "writeback.conflict", False),
    Decision.REJECT: (WritebackState.REJECTED, "writeback.rejected", False),
    Decision.RECONCILE: (WritebackState.AMBIGUOUS, "writeback.ambiguous", True),
}


def settle_part(wb: Writeback, decision: Decision) -> Settled:
    """Settle a structured write-back: its own state only (the draft follows its note)."""
    if decision is Decision.RETRY:
        wb.state = WritebackState.AMBIGUOUS if wb.may_have_landed else WritebackState.QUEUED
        event = "writeback.ambiguous" if wb.may_have_landed else "writeback.retry_scheduled"
        return Settled(wb.state, event, retry=True)
    if decision not in _PART_SETTLED:
        raise StateConflict(f"{decision.value} does not end an attempt")  # SEND
    wb.state, event, retry = _PART_SETTLED[decision]
    if decision in (Decision.RECONCILE, Decision.NEEDS_PERSON):
        wb.may_have_landed = decision is Decision.RECONCILE or not wb.document_landed
    elif decision in (Decision.PROCEED, Decision.PARTIAL):
        wb.may_have_landed = False
    wb.last_reason = None if decision is Decision.PROCEED else wb.last_reason
    return Settled(wb.state, event, retry=retry)


class ChartWrite:
    """A draft and one of its write-backs: the one place their states change together."""

    def __init__(self, draft: Draft, writeback: Writeback) -> None:
        if draft.id != writeback.draft_id or draft.tenant != writeback.tenant:
            raise StateConflict("the write-back does not belong to this draft")
        self.draft = draft
        self.writeback = writeback

    def begin(self, *, lease_expired: bool) -> None:
        """A worker took the write-back: it is sending (and may have landed, if it was).

        ``lease_expired``: the previous worker's lease ran out mid-request, so its request may
        have landed: read the chart first.
        """
        wb = self.writeback
        if lease_expired:
            wb.may_have_landed = True
        wb.state = WritebackState.SENDING
        if not wb.kind.writes_note:
            return  # a structured resource never moves the draft
        if self.draft.state is DraftState.QUEUED:
            self.draft.transition(Action.SEND)
        elif self.draft.state is DraftState.AMBIGUOUS:
            self.draft.transition(Action.RECONCILE)

    def needs_chart_version(self, decision: Decision) -> bool:
        """Whether ``settle(decision)`` reads its ``chart_version`` (a refused follow-up).

        The caller reads the chart's version from the store only then: a clean write-back
        settles without it (issue 20).
        """
        return (
            self.writeback.kind.writes_note
            and self.writeback.kind.follow_up
            and decision in (Decision.CONFLICT, Decision.REJECT)
            and self.draft.state is DraftState.SENDING
        )

    def settle(  # noqa: C901, PLR0911, PLR0912 - one branch per decision, kept together
        self, decision: Decision, *, chart_version: int | None = None
    ) -> Settled:
        """Apply the attempt's final decision to both the write-back and the draft.

        ``chart_version`` is the approved version whose document is in the chart now (after a
        refused amendment, the one before it).
        """
        wb, draft = self.writeback, self.draft
        if not wb.kind.writes_note:
            return settle_part(wb, decision)
        landed = wb.document_landed
        sending = draft.state is DraftState.SENDING
        if decision is Decision.PROCEED:  # every step done
            wb.state = WritebackState.COMMITTED
            wb.last_reason = None
            self._chart_changed()
            return Settled(wb.state, "writeback.committed", retry=False)
        if decision is Decision.PARTIAL:
            wb.state = WritebackState.PARTIAL
            self._chart_changed()
            return Settled(wb.state, "writeback.partial", retry=False)
        if decision is Decision.NEEDS_PERSON:
            wb.state = WritebackState.NEEDS_PERSON
            if landed:
                self._chart_changed()
            elif sending:
                wb.may_have_landed = True
                draft.transition(Action.LOSE_ANSWER)
            return Settled(wb.state, "writeback.needs_person", retry=False)
        if decision in (Decision.CONFLICT, Decision.REJECT):
            conflict = decision is Decision.CONFLICT
            wb.state = WritebackState.CONFLICT if conflict else WritebackState.REJECTED
            if sending and wb.kind.follow_up:
                # The chart's note is as it was: the draft stays committed with it.
                draft.transition(Action.FOLLOW_UP_FAILED)
                draft.approved_version = chart_version
            elif sending:
                draft.transition(Action.CONFLICT if conflict else Action.REJECT)
            event = "writeback.conflict" if conflict else "writeback.rejected"
            return Settled(wb.state, event, retry=False)
        if decision is Decision.RECONCILE:
            wb.state = WritebackState.AMBIGUOUS
            wb.may_have_landed = True
            if sending:
                draft.transition(Action.LOSE_ANSWER)
            return Settled(wb.state, "writeback.ambiguous", retry=True)
        if decision is Decision.RETRY:
            wb.state = WritebackState.AMBIGUOUS if wb.may_have_landed else WritebackState.QUEUED
            if sending:
                draft.transition(Action.LOSE_ANSWER if wb.may_have_landed else Action.RETRY)
            event = "writeback.ambiguous" if wb.may_have_landed else "writeback.retry_scheduled"
            return Settled(wb.state, event, retry=True)
        raise StateConflict(f"{decision.value} does not end an attempt")  # SEND

    def _chart_changed(self) -> None:
        if not self.writeback.kind.writes_note:
            self.writeback.may_have_landed = False
            return
        self._note_changed()

    def _note_changed(self) -> None:
        """The note in the chart is now what this write-back made it."""
        wb, draft = self.writeback, self.draft
        wb.may_have_landed = False
        if draft.state is DraftState.SENDING:
            if wb.kind is WritebackKind.RETRACT:
                draft.transition(Action.CONFIRM_RETRACT)
            else:
                draft.transition(Action.COMMIT)
            # What landed says (a signed approval on a final-only EHR writes "final").
            draft.doc_status = str(wb.payload.get("docStatus") or wb.kind.doc_status)
        elif draft.state is DraftState.AMBIGUOUS:
            # A person pointed at the document while the draft waited: it is in the chart.
            draft.transition(Action.RECONCILE)
            self._note_changed()

    def resolve_resend(self) -> None:
        """A person checked the chart: the note is not there; send it again."""
        wb = self.writeback
        if wb.state is not WritebackState.NEEDS_PERSON or wb.document_landed:
            raise StateConflict(
                f"only a write-back whose note is not in the chart can be re-sent "
                f"(this one is {wb.state.value})",
                expression="action",
            )
        wb.state = WritebackState.QUEUED
        wb.may_have_landed = False
        self._resolved("resend", WritebackState.NEEDS_PERSON)

    def resolve_landed(self, document_id: str, version_id: str | None) -> None:
        """A person pointed at the document this write-back made: carry on from there."""
        wb = self.writeback
        # A finalize or retraction changes the document it already names: the person can only
        # point at that one (its current version carries this write-back's mark).
        other_document = not wb.kind.creates_document and document_id != wb.document_id
        if wb.state is not WritebackState.NEEDS_PERSON or other_document:
            raise StateConflict(
                f"cannot mark a {wb.kind.value} write-back that is {wb.state.value} as landed"
                + (" on another document" if other_document else ""),
                expression="action",
            )
        # The Provenance is only ever sent once the document is recorded: if it was not, the
        # Provenance cannot have been in flight, so send it; if it was, the Provenance may
        # have landed late, so read the chart before anything is sent.
        wb.may_have_landed = wb.document_landed
        wb.document_id = document_id
        wb.document_version = version_id
        wb.state = WritebackState.QUEUED
        self._resolved(
            "landed", WritebackState.NEEDS_PERSON, ehr_resource=f"{wb.target_type}/{document_id}"
        )

    def resolve_follow_up_found(self, provenance_id: str) -> None:
        """A chart read, asked for by a person, found this write-back's Provenance: complete."""
        wb = self.writeback
        if wb.state not in RESOLVABLE_STATES or not wb.document_landed:
            raise StateConflict(
                f"only a parked write-back whose note is in the chart can be completed "
                f"(this one is {wb.state.value})",
                expression="action",
            )
        previous = wb.state
        wb.provenance_id = provenance_id
        self.settle(Decision.PROCEED)
        self._resolved("retry-follow-up", previous, provenance_found=f"Provenance/{provenance_id}")

    def resolve_retry_follow_up(self) -> None:
        """The note is in the chart; send its refused or unproven follow-up (the Provenance)."""
        wb = self.writeback
        if wb.state not in RESOLVABLE_STATES or not wb.document_landed:
            raise StateConflict(
                f"only a write-back whose note is in the chart can retry its follow-up "
                f"(this one is {wb.state.value})",
                expression="action",
            )
        previous = wb.state
        wb.state = WritebackState.QUEUED
        wb.may_have_landed = False
        self._resolved("retry-follow-up", previous)

    def _resolved(
        self,
        action: str,
        previous: WritebackState,
        *,
        ehr_resource: str | None = None,
        provenance_found: str | None = None,
    ) -> None:
        """Record the person's decision on the draft, for the ledger (one event per decision)."""
        self.draft.writeback_resolved(
            WritebackResolved(
                writeback_id=self.writeback.id,
                action=action,
                previous_state=previous.value,
                state=self.writeback.state.value,
                ehr_resource=ehr_resource,
                provenance_found=provenance_found,
            )
        )
