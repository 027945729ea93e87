"""Queueing an approval's write-backs in its transaction: the note's, then its parts.

One id names the note's outbox row, the business identifier of a new document and the
Provenance tag (reconciliation searches by it). A clinician-approved structured resource
gets its own write-back (``service/structured_writes.py``), queued in the same transaction:
either the approval and all its write-backs are recorded, or nothing is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chartgate.domain.writeback import Writeback, WritebackKind
from chartgate.service.queued import queued_writeback
from chartgate.service.structured_amend import queue_amendment
from chartgate.service.structured_writes import (
    fates,
    queue_retractions,
    queue_structured,
)

if TYPE_CHECKING:
    from datetime import datetime

    from chartgate.domain.drafts import Approval, Draft
    from chartgate.service.context import Context
    from chartgate.service.ports import JsonObject, UnitOfWork

__all__ = ["queue_amendment_of", "queue_parts", "queue_retractions_of", "queue_write"]


def queue_write(
    uow: UnitOfWork, draft: Draft, approval: Approval, payload: JsonObject, now: datetime
) -> Writeback:
    """The approval, its outbox row and the draft's new state, in ``uow``."""
    record = queued_writeback(
        draft,
        approval_id=approval.id,
        writeback_id=approval.writeback_id,
        kind=WritebackKind(approval.kind),
        payload=payload,
        now=now,
    )
    uow.approvals.add(draft.tenant, approval)
    uow.writebacks.add(record)
    uow.drafts.save(draft, at=now)
    return record


def queue_parts(
    ctx: Context,
    uow: UnitOfWork,
    draft: Draft,
    approval: Approval,
    note: Writeback,
    now: datetime,
) -> list[Writeback]:
    """The approved version's clinician-approved structured resources, after the note."""
    resources = draft.version(approval.version).content.resources
    if not resources:
        return []
    fated = fates(resources, ctx.policy.policy, ctx.ehr.profile(draft.tenant))
    return queue_structured(
        uow, draft=draft, approval=approval, note=note, fated=fated, ids=ctx.ids, now=now
    )


def queue_retractions_of(
    ctx: Context,
    uow: UnitOfWork,
    draft: Draft,
    approval: Approval,
    note: Writeback,
    now: datetime,
) -> list[Writeback]:
    """With the note's retraction: its structured resources in the chart, entered-in-error."""
    return queue_retractions(
        uow,
        draft=draft,
        approval=approval,
        note=note,
        policy=ctx.policy.policy,
        profile=ctx.ehr.profile(draft.tenant),
        ids=ctx.ids,
        now=now,
    )


def queue_amendment_of(
    ctx: Context,
    uow: UnitOfWork,
    draft: Draft,
    approval: Approval,
    note: Writeback,
    now: datetime,
) -> list[Writeback]:
    """With an amendment: its structured resources created, updated or retracted, after it."""
    return queue_amendment(
        uow,
        draft=draft,
        approval=approval,
        note=note,
        policy=ctx.policy.policy,
        profile=ctx.ehr.profile(draft.tenant),
        ids=ctx.ids,
        now=now,
    )
