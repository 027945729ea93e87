"""An amendment's structured changes: what the amended note proposes against what is in the chart.

``queue_amendment`` runs in the amendment's transaction (ADR 0031): new proposals are created,
changed ones updated (``structured-update``), removed ones marked entered-in-error, unchanged
ones left alone, each after the one before and all after the amendment's note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chartgate.domain.documents import note_type_of
from chartgate.domain.errors import PolicyDenied, StateConflict
from chartgate.domain.structured import (
    SETTLED_STATES,
    build_structured,
    fate_of,
    plan_amendment,
    update_of_structured,
    write_order,
)
from chartgate.domain.writeback import Writeback, WritebackKind
from chartgate.service.queued import queued_writeback
from chartgate.service.structured_writes import (
    WRITABLE_TYPES,
    fates,
    in_chart,
    queue_chart_retractions,
    rolls_back,
    structured_write,
)

if TYPE_CHECKING:
    from datetime import datetime

    from chartgate.domain.drafts import Approval, Draft
    from chartgate.domain.policy import WritebackPolicy
    from chartgate.domain.vendor_profile import VendorProfile
    from chartgate.service.ports import IdSource, UnitOfWork

__all__ = ["queue_amendment", "unsettled"]


def unsettled(records: list[Writeback]) -> list[Writeback]:
    """Structured write-backs not settled yet (queued, sending, ambiguous, needs a person).

    An amendment cannot be compared with the chart while one of them may still change it.
    """
    return [r for r in records if not r.kind.writes_note and r.state.value not in SETTLED_STATES]


def queue_amendment(
    uow: UnitOfWork,
    *,
    draft: Draft,
    approval: Approval,
    note: Writeback,
    policy: WritebackPolicy,
    profile: VendorProfile,
    ids: IdSource,
    now: datetime,
) -> list[Writeback]:
    """With an amendment: its structured proposals against what the note put in the chart.

    New ones are created (``structured``), changed ones updated (``structured-update``: PUT
    with If-Match on the version in the chart, a new mark and its own Provenance), removed
    ones marked entered-in-error (``structured-retract``), unchanged ones left alone; in
    that order, each after the one before, the first after the amendment's note. Only types
    the amendment writes are compared: a resource of a type no longer written (policy or
    profile) is left as it is. Refused (nothing queued) when a structured write-back is
    still unsettled, or when a removed resource's type cannot be rolled back by policy.
    """
    records = uow.writebacks.for_draft(draft.tenant, draft.id)
    pending = unsettled(records)
    if pending:
        raise StateConflict(
            f"{len(pending)} structured write-back(s) of this note are not settled yet "
            "(resolve or wait for them before amending)",
            expression="structured",
        )
    resources = draft.version(approval.version).content.resources
    fated = fates(resources, policy, profile)
    written = {f.index for f in fated if f.fate.written}
    order = [i for i in write_order(resources) if i in written]
    chart = {
        str(r.document_id): r for r in in_chart(records) if _writes(policy, profile, r.target_type)
    }
    plan = plan_amendment(resources, order, [(k, r.payload) for k, r in chart.items()])
    removed = [chart[k] for k in plan.removed]
    for record in removed:
        if not rolls_back(policy, profile, record.target_type):
            raise PolicyDenied(
                f"the amendment removes a {record.target_type} from the chart, and the "
                "policy allows no entered-in-error for it",
                expression="resources",
            )
    queued: list[Writeback] = []
    before = note
    updates = dict(plan.updated)
    for part, index in enumerate((i for i in order if i in plan.created or i in updates), start=1):
        writeback_id = ids.new_id()
        if index in updates:
            current = chart[updates[index]]
            original = _created_by(records, current)
            payload = update_of_structured(
                resources[index],
                structured_write(draft, approval, original),
                resource_id=str(current.document_id),
                version_id=str(current.document_version),
            )
            extra: dict[str, object] = {
                "document_id": current.document_id,
                "document_version": current.document_version,
            }
            kind = WritebackKind.STRUCTURED_UPDATE
        else:
            payload = build_structured(
                resources[index], structured_write(draft, approval, writeback_id)
            )
            extra, kind = {}, WritebackKind.STRUCTURED
        record = queued_writeback(
            draft,
            approval_id=approval.id,
            writeback_id=writeback_id,
            kind=kind,
            payload=payload,
            now=now,
            part=part,
            after_id=before.id,
            note_type=note_type_of(note.payload) or note.note_type,
            **extra,
        )
        uow.writebacks.add(record)
        if kind is WritebackKind.STRUCTURED_UPDATE:
            uow.writebacks.save_progress(record, now=now)
        queued.append(record)
        before = record
    queued += queue_chart_retractions(
        uow,
        draft=draft,
        approval=approval,
        after=before,
        chart=removed,
        ids=ids,
        now=now,
        note_type=note_type_of(note.payload) or note.note_type,
        first_part=len(queued) + 1,
    )
    return queued


def _writes(policy: WritebackPolicy, profile: VendorProfile, kind: str) -> bool:
    """Whether a proposal of this type is written now (the fate ``fates`` gives it)."""
    decision = policy.decide_resource(kind, vendor=profile.name)
    return fate_of(
        allowed=decision.allowed and decision.requires_approval,
        may_draft=decision.may_draft,
        writable=kind in profile.writable_types and kind in WRITABLE_TYPES,
    ).written


def _created_by(records: list[Writeback], current: Writeback) -> str:
    """The id of the write-back that created the resource ``current`` last wrote."""
    for record in records:
        if record.kind is WritebackKind.STRUCTURED and record.document_id == current.document_id:
            return record.id
    return current.id
