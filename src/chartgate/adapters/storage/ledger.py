"""The audit ledger in the store: sealed events, per-tenant heads and signed checkpoints.

``SqlLedger`` appends each event in the caller's transaction (the business change and its
event commit or roll back together): it locks the tenant's head row, takes its tree size
as the event's gap-free 0-based ``seq``, seals the event (RFC 8785 bytes with tenant and
seq inside, RFC 9162 leaf hash), stores bytes and hash, and writes the head's new compact
range back. Each tenant has its own head row, so tenants never wait for each other.
Within one transaction the head is read once: the row is locked (PostgreSQL) or the whole
store is (SQLite) until the transaction ends, so later appends of the same transaction take
the size and range they wrote themselves (kept on the connection, tied to its transaction)
instead of reading them back; statements are built once per process (issue 20).
The store refuses UPDATE and DELETE on ``audit_events`` and ``ledger_checkpoints``
(triggers, migrations 0001 and 0002).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import writer_lock
from chartgate.domain.events import AuditRecord
from chartgate.domain.utc import as_utc
from chartgate.ledger.merkle import CompactRange
from chartgate.ledger.seal import seal
from chartgate.service.audit import (
    EventQuery,
    LedgerHead,
    StoredCheckpoint,
    StoredEntry,
    range_from_bytes,
    range_to_bytes,
)
from chartgate.service.ports import JsonObject

STREAM_BATCH = 5000
"""Rows fetched per round trip when streaming a whole log (verify, export)."""

_HEAD_KEY = "chartgate.ledger_heads"
"""``Connection.info`` key: (the transaction, {tenant: (size, range)}) appended in it."""
_HEAD_SELECT = select(t.ledger_heads.c.next_seq, t.ledger_heads.c.compact_range).where(
    t.ledger_heads.c.tenant == bindparam("head_tenant")
)
_HEAD_SELECT_LOCKED = _HEAD_SELECT.with_for_update()
_HEAD_UPDATE = (
    update(t.ledger_heads)
    .where(t.ledger_heads.c.tenant == bindparam("head_tenant"))
    .values(next_seq=bindparam("head_next"), compact_range=bindparam("head_range"))
)
_EVENT_INSERT = insert(t.audit_events)


def _entry(row: Any) -> StoredEntry:  # noqa: ANN401 - a SQLAlchemy row
    return StoredEntry(
        tenant=row.tenant,
        seq=row.seq,
        canonical=bytes(row.canonical) if row.canonical is not None else None,
        leaf_hash=bytes(row.leaf_hash) if row.leaf_hash is not None else None,
        type=row.type,
        correlation_id=row.correlation_id,
        actor=row.actor,
        at=as_utc(row.at),
        patient=row.patient,
        request_id=row.request_id,
        draft_id=row.draft_id,
        writeback_id=row.writeback_id,
        stored_event=row.event,
    )


_ENTRY_COLUMNS = (
    t.audit_events.c.tenant,
    t.audit_events.c.seq,
    t.audit_events.c.canonical,
    t.audit_events.c.leaf_hash,
    t.audit_events.c.type,
    t.audit_events.c.correlation_id,
    t.audit_events.c.actor,
    t.audit_events.c.at,
    t.audit_events.c.patient,
    t.audit_events.c.request_id,
    t.audit_events.c.draft_id,
    t.audit_events.c.writeback_id,
    t.audit_events.c.event,
)


class SqlLedger:
    """One tenant-scoped view of the ledger on one connection (one transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- appending ------------------------------------------------------------------------

    def _lock_head(self, tenant: str) -> tuple[int, CompactRange]:
        """Lock the tenant's head row (creating it on first use); return size and range.

        A head this transaction already appended to is taken from the connection, not read.
        """
        known = self._appended().get(tenant)
        if known is not None:
            size, compact = known
            return size, compact.copy()  # the caller appends to its own copy
        postgres = self._conn.dialect.name == "postgresql"
        query = _HEAD_SELECT_LOCKED if postgres else _HEAD_SELECT
        row = self._conn.execute(query, {"head_tenant": tenant}).first()
        if row is None:
            dialect_insert = pg_insert if postgres else sqlite_insert
            self._conn.execute(
                dialect_insert(t.ledger_heads)
                .values(tenant=tenant, next_seq=0, compact_range=b"")
                .on_conflict_do_nothing(index_elements=["tenant"])
            )
            row = self._conn.execute(query, {"head_tenant": tenant}).one()
        size = int(row.next_seq)
        return size, range_from_bytes(row.compact_range, size)

    def _appended(self) -> dict[str, tuple[int, CompactRange]]:
        """Heads this connection's current transaction wrote (empty in a new transaction).

        Inside a savepoint nothing is kept (and what was kept is dropped): a savepoint rolled
        back would otherwise leave a head that the store no longer has.
        """
        transaction = self._conn.get_transaction()
        held = self._conn.info.get(_HEAD_KEY)
        if transaction is None or self._conn.in_nested_transaction():
            self._conn.info.pop(_HEAD_KEY, None)
            return {}
        if held is None or held[0] is not transaction:
            held = (transaction, {})
            self._conn.info[_HEAD_KEY] = held
        heads: dict[str, tuple[int, CompactRange]] = held[1]
        return heads

    def append(self, record: AuditRecord) -> int:
        """Seal and store one event in the current transaction; return its ``seq``."""
        heads = self._appended()
        size, compact = self._lock_head(record.tenant)
        entry = seal(record.as_dict(), tenant=record.tenant, seq=size)
        compact.append(entry.leaf_hash)
        heads.pop(record.tenant, None)  # a failed write below must not leave a stale head
        self._conn.execute(
            _HEAD_UPDATE,
            {
                "head_tenant": record.tenant,
                "head_next": size + 1,
                "head_range": range_to_bytes(compact),
            },
        )
        self._conn.execute(
            _EVENT_INSERT,
            {
                "tenant": record.tenant,
                "seq": size,
                "type": record.type.value,
                "at": record.at,
                "correlation_id": record.correlation_id,
                "request_id": record.request_id,
                "actor": record.actor,
                "draft_id": record.draft_id,
                "writeback_id": record.writeback_id,
                "patient": record.patient,
                # The sealed form: what was hashed, with NaN-like values already made text.
                "event": json.loads(entry.canonical),
                "canonical": entry.canonical,
                "leaf_hash": entry.leaf_hash,
            },
        )
        heads[record.tenant] = (size + 1, compact)
        return size

    # -- reading events -------------------------------------------------------------------

    def by_correlation(self, tenant: str, correlation_id: str) -> list[JsonObject]:
        """Every event of one correlation id, in ledger order, read from the sealed bytes.

        Never from the ``event`` JSON column: what a reader is shown must be what was hashed.
        """
        rows = self._conn.execute(
            select(t.audit_events.c.seq, t.audit_events.c.canonical)
            .where(
                t.audit_events.c.tenant == tenant,
                t.audit_events.c.correlation_id == correlation_id,
            )
            .order_by(t.audit_events.c.seq)
        )
        return [{**json.loads(bytes(r.canonical)), "seq": r.seq} for r in rows]

    def count(self, tenant: str) -> int:
        """How many events the tenant's ledger holds."""
        return int(
            self._conn.execute(
                select(func.count())
                .select_from(t.audit_events)
                .where(t.audit_events.c.tenant == tenant)
            ).scalar_one()
        )

    def tenants(self) -> list[str]:
        """Every tenant with a ledger (a head row or any event), sorted."""
        heads = {r[0] for r in self._conn.execute(select(t.ledger_heads.c.tenant))}
        events = {r[0] for r in self._conn.execute(select(t.audit_events.c.tenant).distinct())}
        return sorted(heads | events)

    def head(self, tenant: str, *, lock: bool = False) -> LedgerHead | None:
        """The tenant's head (size and compact range), locked for update when asked."""
        heads = t.ledger_heads.c
        query = select(heads.next_seq, heads.compact_range).where(heads.tenant == tenant)
        if lock and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            return None
        size = int(row.next_seq)
        try:
            compact = range_from_bytes(row.compact_range, size)
        except ValueError:
            compact = None
        return LedgerHead(tenant=tenant, size=size, compact=compact)

    def entries(self, tenant: str, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        """Stream the tenant's rows in seq order, ``start <= seq < end``."""
        c = t.audit_events.c
        query = select(*_ENTRY_COLUMNS).where(c.tenant == tenant, c.seq >= start)
        if end is not None:
            query = query.where(c.seq < end)
        result = self._conn.execute(query.order_by(c.seq).execution_options(yield_per=STREAM_BATCH))
        for row in result:
            yield _entry(row)

    def entry(self, tenant: str, seq: int) -> StoredEntry | None:
        """One row, or None."""
        c = t.audit_events.c
        row = self._conn.execute(
            select(*_ENTRY_COLUMNS).where(c.tenant == tenant, c.seq == seq)
        ).first()
        return _entry(row) if row is not None else None

    def leaf_hashes(self, tenant: str, start: int, end: int) -> list[bytes]:
        """Stored leaf hashes of ``start <= seq < end`` in order (for proofs)."""
        c = t.audit_events.c
        rows = self._conn.execute(
            select(c.leaf_hash)
            .where(c.tenant == tenant, c.seq >= start, c.seq < end)
            .order_by(c.seq)
            .execution_options(yield_per=STREAM_BATCH)
        )
        return [bytes(r[0]) if r[0] is not None else b"" for r in rows]

    def search(self, tenant: str, query: EventQuery) -> list[StoredEntry]:
        """Events matching every given filter, in seq order, at most ``query.limit``."""
        c = t.audit_events.c
        stmt = select(*_ENTRY_COLUMNS).where(c.tenant == tenant, c.seq >= query.after_seq + 1)
        if query.correlation_id is not None:
            stmt = stmt.where(c.correlation_id == query.correlation_id)
        if query.patient is not None:
            stmt = stmt.where(c.patient == query.patient)
        if query.actor is not None:
            stmt = stmt.where(c.actor == query.actor)
        if query.since is not None:
            stmt = stmt.where(c.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(c.at < query.until)
        if query.type is not None:
            stmt = stmt.where(c.type == query.type)
        rows = self._conn.execute(stmt.order_by(c.seq).limit(query.limit))
        return [_entry(row) for row in rows]

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoints(self, tenant: str) -> list[StoredCheckpoint]:
        """Every stored checkpoint of the tenant, smallest tree first."""
        c = t.ledger_checkpoints.c
        rows = self._conn.execute(
            select(t.ledger_checkpoints).where(c.tenant == tenant).order_by(c.size)
        )
        return [self._checkpoint(row) for row in rows]

    def latest_checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        """The newest (largest) checkpoint, or None."""
        c = t.ledger_checkpoints.c
        row = self._conn.execute(
            select(t.ledger_checkpoints).where(c.tenant == tenant).order_by(c.size.desc()).limit(1)
        ).first()
        return self._checkpoint(row) if row is not None else None

    def checkpoint(self, tenant: str, size: int) -> StoredCheckpoint | None:
        """The checkpoint of exactly ``size`` entries, or None."""
        c = t.ledger_checkpoints.c
        row = self._conn.execute(
            select(t.ledger_checkpoints).where(c.tenant == tenant, c.size == size)
        ).first()
        return self._checkpoint(row) if row is not None else None

    @staticmethod
    def _checkpoint(row: Any) -> StoredCheckpoint:  # noqa: ANN401 - a SQLAlchemy row
        return StoredCheckpoint(
            tenant=row.tenant,
            size=row.size,
            root=bytes(row.root),
            note=row.note,
            compact=bytes(row.compact_range),
            signed_at=as_utc(row.signed_at),
        )

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a signed checkpoint (a second one of the same size is refused by the key)."""
        self._conn.execute(
            insert(t.ledger_checkpoints).values(
                tenant=checkpoint.tenant,
                size=checkpoint.size,
                root=checkpoint.root,
                note=checkpoint.note,
                compact_range=checkpoint.compact,
                signed_at=checkpoint.signed_at,
            )
        )

    def checkpoint_status(self) -> list[tuple[str, int, int, datetime | None]]:
        """``(tenant, size, last checkpoint size, last signed at)`` of every head.

        The newest checkpoint is found per tenant by a backward primary-key scan (LIMIT 1),
        so the worker's poll stays O(tenants · log n) however many checkpoints pile up.
        """
        h, c = t.ledger_heads.c, t.ledger_checkpoints.c

        def newest(column: Any) -> Any:  # noqa: ANN401 - a SQLAlchemy column
            return (
                select(column)
                .where(c.tenant == h.tenant)
                .order_by(c.size.desc())
                .limit(1)
                .scalar_subquery()
            )

        rows = self._conn.execute(select(h.tenant, h.next_seq, newest(c.size), newest(c.signed_at)))
        return [(r[0], int(r[1]), int(r[2] or 0), as_utc(r[3])) for r in rows]


class SqlLedgerUnit:
    """One transaction on the ledger alone (audit reads, checkpoints, verification)."""

    ledger: SqlLedger

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        lock = None if self._read_only else writer_lock(self._engine)
        if lock is not None:
            self._stack.enter_context(lock)
        conn = self._engine.connect()
        if self._read_only:
            conn = conn.execution_options(chartgate_read_only=True)
        conn = self._stack.enter_context(conn)
        self._stack.enter_context(conn.begin())
        self.ledger = SqlLedger(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.__exit__(exc_type, exc, tb)
