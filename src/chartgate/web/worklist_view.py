"""The clinician's worklist page: what awaits review, what needs them, what is on its way.

Three lists from the worklist service (``service/worklists.py``, the same access rule as
opening a draft), each newest first with its count: drafts awaiting review; write-backs that
need the clinician (the chart changed, the EHR refused, nobody can tell whether the note
landed, or the note is in the chart but its follow-up — the Provenance — failed), each with what
to do; and notes approved and on their way to the chart. Opened from
an EHR launch, the lists are those of the launched encounter only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chartgate.domain.errors import ChartgateError
from chartgate.domain.patient_context import ContextProblem, PatientContext
from chartgate.service.worklists import DraftItem, Page

MAX_NAMED = 30
"""Encounters named per worklist page: two minimum-necessary EHR reads each (Encounter,
Patient), as the draft page's banner makes. Lines past it keep their references."""
NAMING_THREADS = 4

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


Pair = tuple[str, str]
"""A line's (patient reference, encounter reference)."""
Reader = Callable[[str, str], PatientContext | ContextProblem]


@dataclass(frozen=True, slots=True)
class Named:
    """Who a line is about, as the EHR shows now: the banner's facts, or why there are none.

    ``facts`` holds the name, birth date, MRN and encounter date (read for this page, never
    stored); ``problem`` says what the EHR refuses (a missing encounter, another patient's);
    neither: the EHR could not be read now, or the line is past ``MAX_NAMED``.
    """

    facts: Mapping[str, str | None] | None = None
    problem: str | None = None


def name_lines(sections: Iterable[WorklistSection], read: Reader) -> dict[Pair, Named]:
    """Name the first ``MAX_NAMED`` distinct encounters of the lists, concurrently.

    A clinician cannot pick ``Patient/pat-001`` from a list; each line gets the patient's name,
    birth date and MRN and the encounter's date, from the same reads as the draft page's
    banner. A failed read leaves that line unnamed (the page never fails for it).
    """
    pairs: list[Pair] = []
    for listed in sections:
        for line in listed.lines:
            pair = (line.item.patient, line.item.encounter)
            if pair not in pairs:
                pairs.append(pair)
    pairs = pairs[:MAX_NAMED]
    if not pairs:
        return {}

    def one(pair: Pair) -> Named:
        try:
            judged = read(*pair)
        except ChartgateError:  # the EHR could not be read: the line keeps its references
            return Named()
        if isinstance(judged, ContextProblem):
            return Named(problem=judged.value)
        return Named(facts=judged.banner())

    with ThreadPoolExecutor(min(NAMING_THREADS, len(pairs)), "worklist-names") as pool:
        return dict(zip(pairs, pool.map(one, pairs), strict=True))
