"""Drift in who may act and on what grounds: scopes granted, roles acting, grants relied on.

Part of ``chartgate drift`` (issue 15): a launch review wants to see when approvals start
arriving with a scope they never carried, when a role starts acting that did not before, or
when approvals lean on the operator's care-team grants instead of the EHR's launch context.
Counts only, from ledger events: the approval's ``scopes`` and ``binding`` (``launch`` or
``grant``), and the role part of every event's actor. No person is named.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class _Event(Protocol):
    """What is read of a ledger event (``reports.LedgerEvent``)."""

    @property
    def type(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class AccessLine:
    """One access signal: how often it was seen in the baseline and in the window."""

    group: str  # "scope", "role" or "grant"
    name: str
    baseline: int
    window: int

    @property
    def added(self) -> bool:
        """Seen in the window and never in the baseline: the line a reviewer must look at."""
        return self.window > 0 and self.baseline == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "group": self.group,
            "name": self.name,
            "baseline": self.baseline,
            "window": self.window,
            "added": self.added,
        }


def _in(span: tuple[datetime, datetime], at: datetime) -> bool:
    return span[0] <= at < span[1]


def _signals(event: _Event) -> Iterator[tuple[str, str, str | None]]:
    """(group, name, who) for each access fact an event carries; ``who`` counts distinct."""
    role = event.actor.split(":", 1)[0] or "unknown"
    yield ("role", f"{role} (distinct actors)", event.actor)
    if event.type != "draft.approved":
        return
    for scope in event.data.get("scopes") or ():
        yield ("scope", f"{scope} (approvals carrying it)", None)
    if event.data.get("binding") == "grant":
        yield ("grant", "approvals on a care-team grant", None)
        yield ("grant", "practitioners approving on a grant (distinct)", event.actor)


def access_drift(
    events: Iterable[_Event],
    *,
    baseline: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
) -> list[AccessLine]:
    """Every access signal seen in either span, with its count in each (added ones first)."""
    counts: dict[tuple[str, str], list[int]] = {}
    seen: dict[tuple[str, str, int], set[str]] = {}
    for event in events:
        spans = [i for i, span in enumerate((baseline, window)) if _in(span, event.at)]
        for group, name, who in _signals(event):
            for index in spans:
                row = counts.setdefault((group, name), [0, 0])
                if who is None:
                    row[index] += 1
                    continue
                actors = seen.setdefault((group, name, index), set())
                if who not in actors:
                    actors.add(who)
                    row[index] += 1
    lines = [AccessLine(g, n, b, w) for (g, n), (b, w) in counts.items()]
    return sorted(lines, key=lambda line: (not line.added, line.group, line.name))
