"""After a conflict: what the chart holds now, read by chartgate, not typed by the clinician.

A write-back that finds the chart changed since the draft's baseline stops as a conflict.
Rebasing used to ask the clinician to type each resource's current FHIR ``versionId`` (and
offered the old one). Here chartgate reads each baseline resource from the tenant's EHR
(``GET [base]/Type/id``, the same gateway the write-back uses) and shows, per resource, the
version the draft was made against, the chart's version now and when it changed, and — read
with ``vread`` of the drafted-against version — what changed field by field in plain words
(``chart_diff``); the rebase form then uses exactly the versions read at the moment it is
posted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chartgate.domain.errors import ChartgateError
from chartgate.service.ports import EhrGateway
from chartgate.web.chart_diff import ChartDiff, field_changes


@dataclass(frozen=True, slots=True)
class ChartNow:
    """One baseline resource: drafted against, in the chart now, when it changed."""

    ref: str
    drafted: str
    current: str | None
    updated: datetime | None
    changes: tuple[str, ...] = ()
    error: str | None = None
    diff: ChartDiff | None = None
    """What changed since the drafted-against version (None: unchanged, or not readable)."""
    diff_unavailable: bool = False
    """The version changed but the EHR did not give the drafted-against version (no vread)."""


def _updated(resource: Mapping[str, object] | None) -> datetime | None:
    meta = resource.get("meta") if resource else None
    value = meta.get("lastUpdated") if isinstance(meta, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _changes(resource: Mapping[str, object] | None) -> tuple[str, ...]:
    """What the chart's current version says about itself (status, docStatus)."""
    if not resource:
        return ()
    return tuple(
        f"{key} {resource[key]}"
        for key in ("status", "docStatus")
        if isinstance(resource.get(key), str)
    )


def read_chart(
    gateway: EhrGateway, baseline: Mapping[str, str], *, request_id: str
) -> list[ChartNow]:
    """Read every baseline resource's current version (a failed read is shown, not raised)."""
    found = []
    for ref, drafted in sorted(baseline.items()):
        kind, _, ident = ref.partition("/")
        try:
            answer = gateway.read(kind, ident, request_id=request_id)
        except ChartgateError as e:
            found.append(ChartNow(ref, drafted, None, None, error=e.message))
            continue
        if not answer.ok or not answer.version_id:
            error = f"the EHR answered {answer.status}" if not answer.ok else "no version"
            found.append(ChartNow(ref, drafted, None, None, error=error))
            continue
        diff = None
        if answer.version_id != drafted and answer.resource is not None:
            diff = _diff(gateway, kind, ident, drafted, answer.resource, request_id)
        found.append(
            ChartNow(
                ref,
                drafted,
                answer.version_id,
                _updated(answer.resource),
                _changes(answer.resource),
                diff=diff,
                diff_unavailable=answer.version_id != drafted and diff is None,
            )
        )
    return found


def _diff(
    gateway: EhrGateway,
    kind: str,
    ident: str,
    drafted: str,
    now: Mapping[str, object],
    request_id: str,
) -> ChartDiff | None:
    """The field changes since ``drafted`` (None when the EHR cannot give that version)."""
    try:
        earlier = gateway.vread(kind, ident, drafted, request_id=request_id)
    except (ChartgateError, ValueError):  # an EHR error, or a version id that is no FHIR id
        return None
    if not earlier.ok or earlier.resource is None:
        return None
    return field_changes(earlier.resource, now)


def current_baseline(now: list[ChartNow]) -> dict[str, str] | None:
    """The versions to rebase on; None when any resource could not be read."""
    if any(c.current is None for c in now):
        return None
    return {c.ref: c.current for c in now if c.current is not None}
