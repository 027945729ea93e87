"""The clinician's worklist page: what awaits review, what needs them, what is on its way.

Three lists from the worklist service (``service/worklists.py``, the same access rule as
opening a draft), each newest first with its count: drafts awaiting review; write-backs that
need the clinician (the chart changed, the EHR refused, nobody can tell whether the note
landed, or the note is in the chart but its follow-up — the Provenance — failed), each with what
to do; and notes approved and on their way to the chart. Opened from
an EHR launch, the lists are those of the launched encounter only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chartgate.service.worklists import DraftItem, Page

REVIEW_STATES = "in_review"
ATTENTION_STATES = "conflict,ambiguous,rejected"
ATTENTION_WRITEBACKS = "partial,needs_person"
"""Write-backs of the clinician's own drafts that wait for a person, whatever the draft's
state (a failed follow-up leaves the draft committed)."""
ON_THE_WAY_STATES = "approved,queued,sending"

_ATTENTION_WORDS = {
    "conflict": "The chart changed: rebase, review and approve again.",
    "ambiguous": "Not confirmed by the EHR: check whether the note reached the chart.",
    "rejected": "Refused by the EHR: edit and approve again, or discard.",
    # write-back states (``ATTENTION_WRITEBACKS``), shown before the draft's own state
    "partial": (
        "Follow-up failed: the note is in the chart, its provenance record is not. "
        "Open it to see why; once the cause is fixed, the follow-up can be retried."
    ),
    "needs_person": (
        "Needs a person: chartgate cannot tell whether the note reached the chart. "
        "Look for it in the EHR, then tell chartgate."
    ),
}
_STATE_WORDS = {
    "in_review": "Draft — not in the chart",
    "approved": "Approved — queued",
    "queued": "Approved — queued",
    "sending": "Being written to the chart",
}


@dataclass(frozen=True, slots=True)
class Line:
    """One worklist line."""

    item: DraftItem
    words: str


@dataclass(frozen=True, slots=True)
class WorklistSection:
    """One list, newest first, and whether more exist than are shown."""

    lines: list[Line]
    more: bool

    @property
    def count(self) -> str:
        """``3`` or ``50+``."""
        return f"{len(self.lines)}{'+' if self.more else ''}"


def section(page: Page[DraftItem], *, attention: bool = False) -> WorklistSection:
    """A page of drafts as a list, newest first."""
    words: Callable[[str], str] = (
        (lambda s: _ATTENTION_WORDS.get(s, s)) if attention else (lambda s: _STATE_WORDS.get(s, s))
    )
    items = sorted(page.items, key=lambda i: (i.created_at, i.id), reverse=True)
    return WorklistSection(
        lines=[Line(item=i, words=words(i.writeback_state or i.state)) for i in items],
        more=page.next_cursor is not None,
    )
