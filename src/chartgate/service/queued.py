"""A write-back as approval queues it: the payload marked with its id and hashed, state queued.

One constructor for the note's write-back (``outbox.py``) and the structured resources'
(``structured_writes.py``), so every outbox row starts the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chartgate.domain.hashing import content_hash
from chartgate.domain.writeback import Writeback, WritebackKind, WritebackState, mark

if TYPE_CHECKING:
    from chartgate.domain.drafts import Draft
    from chartgate.service.ports import JsonObject


def queued_writeback(
    draft: Draft,
    *,
    approval_id: str,
    writeback_id: str,
    kind: WritebackKind,
    payload: JsonObject,
    now: datetime,
    **extra: Any,  # noqa: ANN401 - further Writeback fields (part, after_id, document_id...)
) -> Writeback:
    """A queued write-back of ``draft`` sending ``payload`` (marked with ``writeback_id``).

    Every version chartgate writes carries its own mark, so the worker can always tell its
    own write from someone else's (``domain/writeback.py``); the hash is of the marked payload.
    """
    marked = mark(payload, writeback_id)
    return Writeback(
        tenant=draft.tenant,
        id=writeback_id,
        draft_id=draft.id,
        approval_id=approval_id,
        kind=kind,
        state=WritebackState.QUEUED,
        may_have_landed=False,
        payload=marked,
        payload_hash=content_hash(marked),
        correlation_id=draft.correlation_id,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        **extra,
    )
