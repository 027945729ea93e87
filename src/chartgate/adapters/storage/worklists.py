"""The worklist queries: keyset pages over drafts and write-backs, read only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, and_, false, or_, select, true, tuple_

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.killswitches import held_writebacks
from chartgate.domain.utc import as_utc
from chartgate.service.worklists import ESCALATED, HELD, Cursor, DraftItem, WritebackItem

ACTIVE = ("queued", "ambiguous", "sending")
"""Write-back states a worker will still take (held and escalated are among these)."""


def _after(
    created: ColumnElement[datetime], ident: ColumnElement[str], after: Cursor | None
) -> ColumnElement[bool]:
    if after is None:
        return true()
    return tuple_(created, ident) > tuple_(after[0], after[1])


class SqlWorklists:
    """``WorklistQueries`` over the store."""

    def __init__(self, engine: Engine, *, ehr_vendors: Mapping[str, str] | None = None) -> None:
        self._engine = engine
        self._ehr_vendors = dict(ehr_vendors or {})

    def drafts(
        self,
        tenant: str,
        *,
        states: frozenset[str],
        encounters: frozenset[str] | None,
        patients: frozenset[str],
        after: Cursor | None,
        limit: int,
        writeback_states: frozenset[str] = frozenset(),
    ) -> list[DraftItem]:
        """Drafts in ``states`` (or with a write-back in ``writeback_states``), oldest first.

        Only those of these encounters or patients (``encounters`` None: any encounter).
        """
        d = t.drafts.c
        wb = t.writebacks.c
        seen = or_(
            d.encounter.in_(sorted(encounters)) if encounters is not None else true(),
            d.patient.in_(sorted(patients)) if patients else false(),
        )
        # The newest of the draft's write-backs that waits for a person (None: none asked/any).
        waiting = (
            select(wb.state)
            .where(
                wb.tenant == d.tenant,
                wb.draft_id == d.id,
                wb.state.in_(sorted(writeback_states)) if writeback_states else false(),
            )
            .order_by(wb.created_at.desc(), wb.id.desc())
            .limit(1)
            .correlate(t.drafts)
            .scalar_subquery()
        )
        wanted = or_(d.state.in_(sorted(states)), waiting.is_not(None))
        query = (
            select(
                d.id,
                d.state,
                d.patient,
                d.encounter,
                d.created_at,
                d.updated_at,
                waiting.label("writeback_state"),
            )
            .where(d.tenant == tenant, wanted, seen)
            .where(_after(d.created_at, d.id, after))
            .order_by(d.created_at, d.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            DraftItem(
                id=r.id,
                state=r.state,
                patient=r.patient,
                encounter=r.encounter,
                created_at=as_utc(r.created_at),
                updated_at=as_utc(r.updated_at),
                writeback_state=r.writeback_state,
            )
            for r in rows
        ]

    def writebacks(
        self, tenant: str, *, states: frozenset[str], after: Cursor | None, limit: int
    ) -> list[WritebackItem]:
        """Write-backs in ``states`` (stored states, plus held and escalated), oldest first."""
        wb = t.writebacks.c
        held = held_writebacks(self._ehr_vendors)
        stored = sorted(states - {HELD, ESCALATED})
        wanted: list[ColumnElement[bool]] = [wb.state.in_(stored)] if stored else []
        if HELD in states:
            wanted.append(and_(wb.state.in_(ACTIVE), held))
        if ESCALATED in states:
            wanted.append(and_(wb.state.in_(ACTIVE), wb.escalated_at.is_not(None)))
        query = (
            select(
                wb.id,
                wb.draft_id,
                wb.kind,
                wb.state,
                wb.attempts,
                wb.escalated_at,
                wb.last_status,
                wb.created_at,
                wb.updated_at,
                and_(wb.state.in_(ACTIVE), held).label("held"),
            )
            .where(wb.tenant == tenant, or_(false(), *wanted))
            .where(_after(wb.created_at, wb.id, after))
            .order_by(wb.created_at, wb.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            WritebackItem(
                id=r.id,
                draft_id=r.draft_id,
                kind=r.kind,
                state=r.state,
                attempts=r.attempts,
                escalated=r.escalated_at is not None,
                held=bool(r.held),
                last_status=r.last_status,
                created_at=as_utc(r.created_at),
                updated_at=as_utc(r.updated_at),
            )
            for r in rows
        ]
