"""The store's side of retention: find what is due, delete it with its ledger event.

Every deletion re-checks, inside its own write transaction, that the draft is still
settled and unchanged since the cutoff (a clinician may have touched it after planning),
and appends its ledger event through ``SqlLedger`` on the same connection: the rows and
the record of their deletion commit together or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
)

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import writer_lock
from chartgate.adapters.storage.ledger import SqlLedger
from chartgate.domain.events import AuditRecord
from chartgate.domain.utc import as_utc
from chartgate.service.retention_ports import DraftCandidate, RecordFor

SETTLED_STATES = ("committed", "conflict", "rejected", "retracted", "discarded")
"""Draft states in which nothing is in flight; ``in_review`` counts for never-approved ones."""
IN_FLIGHT = ("approved", "queued", "sending", "ambiguous")
"""Write-back states that still need their rows (the exactly-once claim, the payload)."""
NEVER_APPROVED_STATES = ("in_review", "discarded")
CONTENT_TABLES = ("writebacks", "approvals", "draft_versions", "drafts")
"""Delete order: children first (foreign keys)."""
TENANT_TABLES = (
    *CONTENT_TABLES,
    "idempotency_keys",
    "scribe_sessions",
    "consent_records",
    "tenant_keys",
)
"""Every table an offboarded tenant's shredding empties (the data key last)."""


class SqlRetentionStore:
    """``RetentionStore`` over the SQLAlchemy tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        lock = writer_lock(self._engine)
        if lock is not None:
            lock.acquire()
        try:
            with self._engine.begin() as conn:
                yield conn
        finally:
            if lock is not None:
                lock.release()

    def _read(self) -> Connection:
        return self._engine.connect().execution_options(chartgate_read_only=True)

    # -- drafts ---------------------------------------------------------------------------

    @staticmethod
    def _due(cutoff: datetime, *, approved: bool) -> ColumnElement[bool]:
        d, a, w = t.drafts.c, t.approvals.c, t.writebacks.c
        has_approval = exists().where(a.tenant == d.tenant, a.draft_id == d.id)
        recent_or_busy = exists().where(
            w.tenant == d.tenant,
            w.draft_id == d.id,
            or_(w.state.in_(IN_FLIGHT), w.updated_at >= cutoff),
        )
        if approved:
            return and_(
                d.updated_at < cutoff,
                d.state.in_(SETTLED_STATES),
                has_approval,
                not_(recent_or_busy),
            )
        return and_(d.updated_at < cutoff, d.state.in_(NEVER_APPROVED_STATES), not_(has_approval))

    def expired_drafts(self, cutoff: datetime, *, approved: bool) -> list[DraftCandidate]:
        """Drafts due under the rule, oldest first."""
        d = t.drafts.c
        with self._read() as conn:
            rows = conn.execute(
                select(d.tenant, d.id, d.correlation_id, d.state, d.updated_at, d.patient)
                .where(self._due(cutoff, approved=approved))
                .order_by(d.updated_at)
            ).all()
        return [
            DraftCandidate(
                tenant=r.tenant,
                draft_id=r.id,
                correlation_id=r.correlation_id,
                state=r.state,
                last_change=as_utc(r.updated_at),
                patient=r.patient,
            )
            for r in rows
        ]

    def delete_draft(
        self, candidate: DraftCandidate, cutoff: datetime, *, approved: bool, record: RecordFor
    ) -> Mapping[str, int] | None:
        """Delete one draft's rows (if still due) and append its event, in one transaction."""
        d = t.drafts.c
        with self._write() as conn:
            still_due = conn.execute(
                select(d.id)
                .where(
                    d.tenant == candidate.tenant,
                    d.id == candidate.draft_id,
                    self._due(cutoff, approved=approved),
                )
                # Locked: a second replica's run waits here, then finds the draft gone (no
                # second delete, no second event). SQLite's BEGIN IMMEDIATE already serialises.
                .with_for_update(of=t.drafts)
            ).first()
            if still_due is None:
                return None
            rows: dict[str, int] = {}
            for name in CONTENT_TABLES:
                table = t.metadata.tables[name]
                key = table.c.id if name == "drafts" else table.c.draft_id
                result = conn.execute(
                    delete(table).where(
                        table.c.tenant == candidate.tenant, key == candidate.draft_id
                    )
                )
                rows[name] = int(result.rowcount)
            SqlLedger(conn).append(record(rows))
        return rows

    # -- idempotency answers --------------------------------------------------------------

    def expired_idempotency(self, cutoff: datetime) -> dict[str, int]:
        """Stored answers older than ``cutoff``, per tenant."""
        c = t.idempotency_keys.c
        with self._read() as conn:
            rows = conn.execute(
                select(c.tenant, func.count())
                .where(c.created_at < cutoff, c.state == "done")
                .group_by(c.tenant)
            ).all()
        return {r[0]: int(r[1]) for r in rows}

    def delete_idempotency(self, tenant: str, cutoff: datetime, record: RecordFor) -> int:
        """Delete the tenant's answers older than ``cutoff`` with their event."""
        c = t.idempotency_keys.c
        with self._write() as conn:
            result = conn.execute(
                delete(t.idempotency_keys).where(
                    c.tenant == tenant, c.created_at < cutoff, c.state == "done"
                )
            )
            count = int(result.rowcount)
            if count:
                SqlLedger(conn).append(record({"idempotency_keys": count}))
        return count

    # -- scribe sessions and consent records (issue 17) ----------------------------------

    @staticmethod
    def _rows_due(record_class: str, cutoff: datetime) -> tuple[Table, ColumnElement[bool]]:
        """The table of ``record_class`` and which of its rows are due at ``cutoff``."""
        if record_class == "scribe_sessions":
            s = t.scribe_sessions.c
            # Ended (expired, or closed early) before the cutoff.
            return t.scribe_sessions, or_(s.expires_at < cutoff, s.closed_at < cutoff)
        if record_class == "consent_records":
            c, d = t.consent_records.c, t.drafts.c
            # Old enough, and no draft of the encounter left (held drafts keep it).
            draft_left = exists().where(d.tenant == c.tenant, d.encounter == c.encounter)
            return t.consent_records, and_(c.recorded_at < cutoff, not_(draft_left))
        msg = f"no row rule for {record_class}"
        raise ValueError(msg)

    def expired_rows(self, record_class: str, cutoff: datetime) -> dict[str, int]:
        """Per tenant, how many rows of ``record_class`` are due."""
        table, due = self._rows_due(record_class, cutoff)
        with self._read() as conn:
            rows = conn.execute(
                select(table.c.tenant, func.count()).where(due).group_by(table.c.tenant)
            ).all()
        return {r[0]: int(r[1]) for r in rows}

    def delete_rows(
        self, record_class: str, tenant: str, cutoff: datetime, record: RecordFor
    ) -> int:
        """Delete the tenant's due rows (re-checked in the transaction) with their event."""
        table, due = self._rows_due(record_class, cutoff)
        with self._write() as conn:
            result = conn.execute(delete(table).where(table.c.tenant == tenant, due))
            count = int(result.rowcount)
            if count:
                SqlLedger(conn).append(record({record_class: count}))
        return count

    # -- tenants --------------------------------------------------------------------------

    def tenant_rows(self, tenant: str) -> dict[str, int]:
        """The tenant's rows outside the ledger, per table, and whether it has a data key."""
        with self._read() as conn:
            return self._counts(conn, tenant)

    @staticmethod
    def _counts(conn: Connection, tenant: str) -> dict[str, int]:
        counts = {}
        for name in TENANT_TABLES:
            table = t.metadata.tables[name]
            counts[name] = int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.tenant == tenant)
                ).scalar_one()
            )
        return counts

    def shred_tenant(
        self, tenant: str, records: Callable[[Mapping[str, int], str], list[AuditRecord]]
    ) -> Mapping[str, int]:
        """Delete every row of the tenant outside the ledger and its wrapped data key.

        The wrapped DEK row is the tenant's only key material in the store; once it is gone
        no copy of the tenant's ciphertext can be opened again (ADR 0012).
        """
        with self._write() as conn:
            counts = self._counts(conn, tenant)
            wrapped = conn.execute(
                select(t.tenant_keys.c.wrapped_key).where(t.tenant_keys.c.tenant == tenant)
            ).scalar_one_or_none()
            key_id = bytes(wrapped)[1:9].hex() if wrapped is not None else ""
            for name in TENANT_TABLES:
                table = t.metadata.tables[name]
                conn.execute(delete(table).where(table.c.tenant == tenant))
            ledger = SqlLedger(conn)
            for event in records(counts, key_id):
                ledger.append(event)
        return counts
