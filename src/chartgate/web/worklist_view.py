"""The clinician's worklist page: what awaits review, what needs them, what is on its way.

Three lists from the worklist service (``service/worklists.py``, the same access rule as
opening a draft), each newest first with its count: drafts awaiting review; write-backs that
need the clinician (the chart changed, the EHR refused, or nobody can tell whether the note
landed), each with what to do; and notes approved and on their way to the chart. Opened from
an EHR launch, the lists are those of the launched encounter only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chartgate.service.worklists import DraftItem, Page

REVIEW_STATES = "in_review"
ATTENTION_STATES = "conflict,ambiguous,rejected"
ON_THE_WAY_STATES = "approved,queued,sending"

_ATTENTION_WORDS = {
    "conflict": "The chart changed: rebase, review and approve again.",
    "ambiguous": "Not confirmed by the EHR: check whether the note reached the chart.",
    "rejected": "Refused by the EHR: edit and approve again, or discard.",
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
        lines=[Line(item=i, words=words(i.state)) for i in items], more=page.next_cursor is not None
    )
