"""Post-launch reports from the audit ledger: how write-back is doing, and how it drifts.

The seed asks to "monitor write-back success rates, conflict rates, approval latency,
rollback frequency, and audit-log completeness" per specialty, provider and template, and
to look for drift. Everything here is computed from ledger events and the drafts' origin
(model, template) in memory: no PHI goes in (the clinician is a keyed pseudonym, the
patient is never read) and only counts, rates and durations come out.

* success / conflict / rejection rate: of the write-backs *queued* in the window, the share
  that ended committed / conflict / rejected (still open ones are counted as open);
* ambiguous rate: the share that went ambiguous at least once (the EHR's answer was lost);
* approval latency: draft received → approved (the clinician's review time), and
  approve → committed (the EHR's side, the SLO);
* rollback frequency: amend and retract approvals per approve;
* audit completeness: a committed write-back whose chain lacks any of received, approval,
  queued, EHR request, EHR response or committed is *incomplete* (ARCHITECTURE.md:
  "log the full event chain, not just the final write").
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chartgate.service.access_drift import AccessLine, access_drift

APPROVAL_EVENTS = {
    "draft.approved": "approve",
    "draft.finalize_approved": "finalize",
    "draft.amend_approved": "amend",
    "draft.retract_approved": "retract",
}
TERMINAL = {
    "writeback.committed": "committed",
    "writeback.conflict": "conflict",
    "writeback.rejected": "rejected",
}
REQUIRED_CHAIN = ("received", "approval", "writeback.queued", "ehr.request", "ehr.response")
DIMENSIONS = ("note_type", "template", "model", "clinician")


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One ledger entry as a report reads it (no patient field)."""

    tenant: str
    type: str
    at: datetime
    draft_id: str | None
    writeback_id: str | None
    actor: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DraftOrigin:
    """What produced a draft: note type, prompt template, model (name@version)."""

    note_type: str = "unknown"
    template: str = "unknown"
    model: str = "unknown"


@dataclass
class _Writeback:
    """One write-back's story, assembled from its events."""

    id: str
    kind: str
    draft_id: str | None
    queued_at: datetime | None = None
    approved_at: datetime | None = None
    received_at: datetime | None = None
    clinician: str = "unknown"
    outcome: str = "open"
    committed_at: datetime | None = None
    went_ambiguous: bool = False
    seen: set[str] = field(default_factory=set)
    acknowledged: int = 0
    edited: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a report table: a group and its figures."""

    group: str
    writebacks: int
    committed: int
    conflict: int
    rejected: int
    open: int
    ambiguous: int
    rollbacks: int
    review_p50_s: float | None
    commit_p50_s: float | None
    commit_p95_s: float | None
    incomplete: int

    def rate(self, count: int) -> float:
        """``count`` as a share of this group's write-backs (0 when there are none)."""
        return count / self.writebacks if self.writebacks else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """The post-launch report over one window."""

    start: datetime
    end: datetime
    total: Row
    by: dict[str, list[Row]]
    daily: list[tuple[str, int, int, int]]  # day, committed, conflict+rejected, ambiguous
    commit_seconds: list[float]
    incomplete: list[tuple[str, list[str]]]  # write-back id, missing links

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "total": _row_dict(self.total),
            "by": {dim: [_row_dict(r) for r in rows] for dim, rows in self.by.items()},
            "daily": [
                {"day": d, "committed": c, "failed": f, "ambiguous": a} for d, c, f, a in self.daily
            ],
            "incomplete": [{"writeback_id": w, "missing": m} for w, m in self.incomplete],
        }


def _row_dict(row: Row) -> dict[str, Any]:
    return {
        "group": row.group,
        "writebacks": row.writebacks,
        "committed": row.committed,
        "conflict": row.conflict,
        "rejected": row.rejected,
        "open": row.open,
        "ambiguous": row.ambiguous,
        "rollbacks": row.rollbacks,
        "success_rate": round(row.rate(row.committed), 4),
        "conflict_rate": round(row.rate(row.conflict), 4),
        "rejection_rate": round(row.rate(row.rejected), 4),
        "ambiguous_rate": round(row.rate(row.ambiguous), 4),
        "rollback_rate": round(row.rate(row.rollbacks), 4),
        "review_p50_seconds": row.review_p50_s,
        "commit_p50_seconds": row.commit_p50_s,
        "commit_p95_seconds": row.commit_p95_s,
        "audit_incomplete": row.incomplete,
    }


def _assemble(
    events: Iterable[LedgerEvent], clinician: Callable[[str, str], str]
) -> list[_Writeback]:
    """Group events into write-backs (events must be in ledger order)."""
    received: dict[str, datetime] = {}
    found: dict[str, _Writeback] = {}
    for event in events:
        if event.type == "draft.received" and event.draft_id:
            received[event.draft_id] = event.at
            continue
        if not event.writeback_id:
            continue
        wb = found.get(event.writeback_id)
        if wb is None:
            kind = str(event.data.get("kind") or APPROVAL_EVENTS.get(event.type, "unknown"))
            wb = found[event.writeback_id] = _Writeback(event.writeback_id, kind, event.draft_id)
        _apply(wb, event, clinician)
    for wb in found.values():
        if wb.draft_id in received:
            wb.received_at = received[wb.draft_id]
            wb.seen.add("received")
    return list(found.values())


def _apply(wb: _Writeback, event: LedgerEvent, clinician: Callable[[str, str], str]) -> None:
    wb.seen.add(event.type)
    if event.type in APPROVAL_EVENTS:
        wb.seen.add("approval")
        wb.kind = APPROVAL_EVENTS[event.type]
        wb.approved_at = event.at
        wb.clinician = clinician(event.tenant, event.actor)
        wb.acknowledged = len(event.data.get("warnings_acknowledged") or ())
        wb.edited = any(
            event.data.get(key)
            for key in ("diff_lines_added", "diff_lines_removed", "structured_changes")
        )
    elif event.type == "writeback.queued":
        wb.queued_at = event.at
    elif event.type == "writeback.ambiguous":
        wb.went_ambiguous = True
    elif event.type in TERMINAL:
        wb.outcome = TERMINAL[event.type]
        if wb.outcome == "committed":
            wb.committed_at = event.at


STRUCTURED_KINDS = frozenset({"structured", "structured-retract", "structured-update"})
"""A structured write-back's approval is its note's (``draft.approved`` lists it); one that
rode in its note's transaction Bundle sent nothing itself: the chart read proves it."""


def missing_links(wb: _Writeback) -> list[str]:
    """The links a committed write-back's chain lacks (received applies to approve only)."""
    if wb.outcome != "committed":
        return []
    if wb.kind in STRUCTURED_KINDS:
        missing = [] if "writeback.queued" in wb.seen else ["writeback.queued"]
        if not wb.seen & {"ehr.request", "writeback.reconciled"}:
            missing.append("ehr.request")
        return missing
    required = REQUIRED_CHAIN if wb.kind == "approve" else REQUIRED_CHAIN[1:]
    return [link for link in required if link not in wb.seen]


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 3)


def _row(group: str, items: Sequence[_Writeback]) -> Row:
    outcomes = Counter(wb.outcome for wb in items)
    review = [
        (wb.approved_at - wb.received_at).total_seconds()
        for wb in items
        if wb.kind == "approve" and wb.approved_at and wb.received_at
    ]
    commit = _commit_seconds(items)
    return Row(
        group=group,
        writebacks=len(items),
        committed=outcomes["committed"],
        conflict=outcomes["conflict"],
        rejected=outcomes["rejected"],
        open=outcomes["open"],
        ambiguous=sum(wb.went_ambiguous for wb in items),
        rollbacks=sum(wb.kind in {"amend", "retract"} for wb in items),
        review_p50_s=_percentile(review, 50),
        commit_p50_s=_percentile(commit, 50),
        commit_p95_s=_percentile(commit, 95),
        incomplete=sum(bool(missing_links(wb)) for wb in items),
    )


def _commit_seconds(items: Iterable[_Writeback]) -> list[float]:
    return [
        (wb.committed_at - wb.queued_at).total_seconds()
        for wb in items
        if wb.committed_at and wb.queued_at
    ]


def build_report(
    events: Iterable[LedgerEvent],
    origins: dict[str, DraftOrigin],
    *,
    start: datetime,
    end: datetime,
    clinician: Callable[[str, str], str],
) -> Report:
    """The report over write-backs queued in ``[start, end)``."""
    everything = _assemble(events, clinician)
    items = [wb for wb in everything if wb.queued_at is not None and start <= wb.queued_at < end]
    groups: dict[str, dict[str, list[_Writeback]]] = {d: defaultdict(list) for d in DIMENSIONS}
    for wb in items:
        origin = origins.get(wb.draft_id or "", DraftOrigin())
        groups["note_type"][origin.note_type].append(wb)
        groups["template"][origin.template].append(wb)
        groups["model"][origin.model].append(wb)
        groups["clinician"][wb.clinician].append(wb)
    by = {
        dim: [_row(name, members) for name, members in sorted(found.items())]
        for dim, found in groups.items()
    }
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for wb in items:
        assert wb.queued_at is not None
        day = days[wb.queued_at.date().isoformat()]
        day[0] += wb.outcome == "committed"
        day[1] += wb.outcome in {"conflict", "rejected"}
        day[2] += wb.went_ambiguous
    return Report(
        start=start,
        end=end,
        total=_row("all", items),
        by=by,
        daily=[(d, *days[d]) for d in sorted(days)],  # type: ignore[misc]
        commit_seconds=_commit_seconds(items),
        incomplete=[(wb.id, missing_links(wb)) for wb in items if missing_links(wb)],
    )


# -- drift --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriftLine:
    """One signal compared between the baseline and the recent window."""

    signal: str
    baseline: float
    window: float
    baseline_n: int
    window_n: int

    @property
    def change(self) -> float:
        """Window minus baseline (shares: percentage points as a fraction)."""
        return self.window - self.baseline


@dataclass(frozen=True, slots=True)
class Drift:
    """Drift of human-oversight signals between two windows."""

    lines: list[DriftLine]
    exceptions_by_template: list[tuple[str, int, int]]  # template, baseline, window
    access: list[AccessLine] = field(default_factory=list)  # scopes, roles, grants

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "signals": [
                {
                    "signal": line.signal,
                    "baseline": round(line.baseline, 4),
                    "window": round(line.window, 4),
                    "change": round(line.change, 4),
                    "baseline_n": line.baseline_n,
                    "window_n": line.window_n,
                }
                for line in self.lines
            ],
            "exceptions_by_template": [
                {"template": t, "baseline": b, "window": w}
                for t, b, w in self.exceptions_by_template
            ],
            "access": [line.as_dict() for line in self.access],
        }


def build_drift(
    events: Sequence[LedgerEvent],
    origins: dict[str, DraftOrigin],
    *,
    baseline: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
    clinician: Callable[[str, str], str],
) -> Drift:
    """Compare oversight signals of approvals in ``baseline`` with those in ``window``.

    * auto-accept share: approvals of a draft exactly as the AI wrote it (no edit at all);
    * acknowledged-warning overrides: approvals that overrode at least one warning;
    * exceptions per template: conflicts, rejections and ambiguous outcomes;
    * access: scopes granted, roles acting, approvals on care-team grants (``access_drift``);
    * models: approvals per model version, a version first seen in the window flagged as added.
    """
    everything = _assemble(events, clinician)

    def approvals(span: tuple[datetime, datetime]) -> list[_Writeback]:
        return [
            wb
            for wb in everything
            if wb.kind == "approve" and wb.approved_at and span[0] <= wb.approved_at < span[1]
        ]

    old, new = approvals(baseline), approvals(window)

    def share(items: list[_Writeback], test: Callable[[_Writeback], bool]) -> float:
        return sum(test(wb) for wb in items) / len(items) if items else 0.0

    signals = [
        ("auto-accept share (approved unedited)", lambda wb: not wb.edited),
        ("acknowledged-warning overrides", lambda wb: wb.acknowledged > 0),
        ("conflict or rejection share", lambda wb: wb.outcome in {"conflict", "rejected"}),
        ("ambiguous share", lambda wb: wb.went_ambiguous),
    ]
    lines = [
        DriftLine(name, share(old, test), share(new, test), len(old), len(new))
        for name, test in signals
    ]
    exceptions: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for index, items in enumerate((old, new)):
        for wb in items:
            template = origins.get(wb.draft_id or "", DraftOrigin()).template
            exceptions[template][index] += wb.outcome in {"conflict", "rejected"} or bool(
                wb.went_ambiguous
            )
    models: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for index, items in enumerate((old, new)):
        for wb in items:
            models[origins.get(wb.draft_id or "", DraftOrigin()).model][index] += 1
    access = access_drift(events, baseline=baseline, window=window) + [
        AccessLine("model", f"{model} (approvals)", *models[model]) for model in sorted(models)
    ]
    return Drift(
        lines=lines,
        exceptions_by_template=[(t, *exceptions[t]) for t in sorted(exceptions)],  # type: ignore[misc]
        access=sorted(access, key=lambda line: (not line.added, line.group, line.name)),
    )
