"""What ``structured[]`` shows of a draft's structured proposals (``GET /v1/drafts/{id}``, page).

Each proposal of the approved (else current) version with its fate under the write-back
matrix and the write-backs that put it in the chart, changed it (an amendment's
``structured-update``) or took it out (``structured-retract``); a resource an amendment
removed is listed after the proposals. Read-only: the writing is ``structured_writes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chartgate.domain.structured import identity, write_order
from chartgate.domain.writeback import Writeback, WritebackKind
from chartgate.service.structured_writes import fates

if TYPE_CHECKING:
    from chartgate.domain.drafts import Approval, Draft
    from chartgate.domain.policy import WritebackPolicy
    from chartgate.domain.vendor_profile import VendorProfile
    from chartgate.service.ports import JsonObject

__all__ = ["REMOVED", "structured_view"]


def structured_view(
    draft: Draft,
    approvals: list[Approval],
    records: list[Writeback],
    policy: WritebackPolicy,
    profile: VendorProfile,
) -> list[JsonObject]:
    """Every proposal of the approved (else current) version, its fate and its write-backs.

    The version is that of the newest approval or amendment. Each written proposal is shown
    with the resource it is in the chart (``writeback``: the create; ``update``: the newest
    amendment's change to it; ``retraction``), paired by identity (``plan_amendment``'s
    rule): first the write-backs that approval queued, then the resources it left as they
    were. A resource that approval removed from the chart is shown after the proposals
    (``index`` None, ``fate`` "removed by the amendment").
    """
    version, newest = draft.current, None
    for approval in reversed(approvals):
        if approval.kind in ("approve", "amend"):
            version, newest = draft.version(approval.version), approval
            break
    resources = version.content.resources
    fated = fates(resources, policy, profile)
    lines = _lines(records)
    order = [i for i in write_order(resources) if fated[i].fate.written]
    amendments = {a.id for a in approvals if a.kind == "amend"}
    paired = _pair(resources, order, lines, newest, amendments)
    out = [
        f.public(line.create, line.retraction, update=line.update)
        if (line := paired.get(f.index)) is not None
        else f.public(None)
        for f in fated
    ]
    if newest is not None and newest.kind == "amend":
        taken = {line.create.id for line in paired.values()}
        out += [_removed(line) for line in lines if _removed_by(line, newest, taken)]
    return out


def _pair(
    resources: tuple[JsonObject, ...],
    order: list[int],
    lines: list[_Line],
    newest: Approval | None,
    amendments: set[str],
) -> dict[int, _Line]:
    """Each written proposal's resource: one ``newest`` queued first, then one it left alone.

    A resource left alone is one in the chart that no amendment removed (the note's own
    retraction keeps it paired: it shows as the item's ``retraction``).
    """
    mine = {ln.create.id for ln in lines if newest is not None and ln.touched_by(newest.id)}
    kept = {
        ln.create.id
        for ln in lines
        if ln.create.document_landed
        and (ln.retraction is None or ln.retraction.approval_id not in amendments)
    }
    paired: dict[int, _Line] = {}
    taken: set[str] = set()
    for first in (True, False):
        for index in order:
            key = identity(resources[index])
            for line in lines:
                ours = line.create.id in mine
                usable = ours if first else (not ours and line.create.id in kept)
                if index in paired or line.create.id in taken or line.identity != key:
                    continue
                if usable:
                    paired[index] = line
                    taken.add(line.create.id)
    return paired


def _removed_by(line: _Line, amendment: Approval, taken: set[str]) -> bool:
    """True for a resource the amendment retracted (no proposal of it is left)."""
    retraction = line.retraction
    return (
        retraction is not None
        and retraction.approval_id == amendment.id
        and line.create.id not in taken
    )


def _removed(line: _Line) -> JsonObject:
    """A resource an amendment removed from the chart, as ``structured[]`` shows it."""
    return {
        "index": None,
        "resource_type": line.create.target_type,
        "written": True,
        "fate": REMOVED,
        "writeback": line.create.public(),
        "update": line.update.public() if line.update is not None else None,
        "retraction": line.retraction.public() if line.retraction is not None else None,
    }


REMOVED = "removed by the amendment (entered-in-error in the chart)"
"""The fate shown for a resource in the chart that the amended note no longer proposes."""


@dataclass(slots=True)
class _Line:
    """One structured resource of the note: its create and what was written to it since."""

    create: Writeback
    update: Writeback | None = None
    retraction: Writeback | None = None
    updates: list[Writeback] | None = None

    @property
    def identity(self) -> tuple[str, str]:
        """What it is about now: the newest landed (else the create's) payload's identity."""
        current = self.create
        for update in self.updates or []:
            if update.document_landed:
                current = update
        return identity(current.payload)

    def touched_by(self, approval_id: str) -> bool:
        """True when ``approval_id`` created or updated it."""
        return self.create.approval_id == approval_id or any(
            u.approval_id == approval_id for u in self.updates or []
        )


def _lines(records: list[Writeback]) -> list[_Line]:
    """The note's structured resources, each with its updates and newest retraction."""
    lines: list[_Line] = []
    by_document: dict[str, _Line] = {}
    for record in records:
        if record.kind is WritebackKind.STRUCTURED:
            line = _Line(record, updates=[])
            lines.append(line)
            if record.document_id is not None:
                by_document[record.document_id] = line
            continue
        line_of = by_document.get(str(record.document_id))
        if line_of is None:
            continue
        if record.kind is WritebackKind.STRUCTURED_UPDATE:
            line_of.update = record
            (line_of.updates or []).append(record)
        elif record.kind is WritebackKind.STRUCTURED_RETRACT:
            line_of.retraction = record
    return lines
