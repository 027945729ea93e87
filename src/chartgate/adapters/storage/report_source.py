"""Read what the post-launch reports need: ledger events and the drafts' origins.

Only event types a report uses are read, and the patient column never is. A write-back's
story can start before the window (the draft was received earlier) and end after it (the
commit came later), so events are read from ``LOOKBACK`` before the start to now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from chartgate.adapters.storage import tables as t
from chartgate.domain.utc import as_utc
from chartgate.service.reports import APPROVAL_EVENTS, TERMINAL, DraftOrigin, LedgerEvent

LOOKBACK = timedelta(days=30)
REPORT_EVENTS = (
    "draft.received",
    *APPROVAL_EVENTS,
    *TERMINAL,
    "writeback.queued",
    "writeback.ambiguous",
    "ehr.request",
    "ehr.response",
)


class SqlReportSource:
    """Ledger events and draft origins from the store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def events(self, since: datetime, *, tenant: str | None = None) -> list[LedgerEvent]:
        """Report events at or after ``since - LOOKBACK``, in ledger order per tenant."""
        e = t.audit_events.c
        query = (
            select(e.tenant, e.type, e.at, e.draft_id, e.writeback_id, e.actor, e.event)
            .where(e.at >= since - LOOKBACK, e.type.in_(REPORT_EVENTS))
            .order_by(e.tenant, e.seq)
        )
        if tenant is not None:
            query = query.where(e.tenant == tenant)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            LedgerEvent(
                tenant=str(row.tenant),
                type=str(row.type),
                at=as_utc(row.at),
                draft_id=row.draft_id,
                writeback_id=row.writeback_id,
                actor=str(row.actor),
                data=dict(_data(row.event)),
            )
            for row in rows
        ]

    def origins(self, events: list[LedgerEvent]) -> dict[str, DraftOrigin]:
        """Note type (from draft.received), template and model (the draft's origin)."""
        note_types = {
            ev.draft_id: str(ev.data.get("note_type") or "unknown")
            for ev in events
            if ev.type == "draft.received" and ev.draft_id
        }
        wanted = {ev.draft_id for ev in events if ev.draft_id}
        d = t.drafts.c
        found: dict[str, DraftOrigin] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(select(d.id, d.origin)):
                if row.id not in wanted:
                    continue
                origin: dict[str, Any] = row.origin or {}
                model = origin.get("model") or {}
                found[row.id] = DraftOrigin(
                    note_type=note_types.get(row.id, "unknown"),
                    template=str(origin.get("prompt_template") or "unknown"),
                    model=f"{model.get('name', 'unknown')}@{model.get('version', '?')}",
                )
        return found


def _data(event: Any) -> dict[str, Any]:  # noqa: ANN401 - the JSON column
    data = event.get("data") if isinstance(event, dict) else None
    return data if isinstance(data, dict) else {}
