"""The audit sink's cursors: one row per (tenant, sink URL), leased by one pusher at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import writer_lock
from chartgate.domain.utc import as_utc
from chartgate.service.audit_sink import NOTHING_PUSHED, SinkCursor

_ERROR_CHARS = 200


class SqlSinkCursors:
    """``SinkCursors`` over ``audit_sink_cursors``; every method is its own short transaction.

    No transaction stays open while the sink is called: the lease (owner + expiry, like the
    write-back outbox) keeps a second pusher off the same range instead.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(
        self, tenant: str, sink: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> int | None:
        """Take the lease if it is free, expired or already ours; return ``last_seq``."""
        c = t.audit_sink_cursors.c
        lock = writer_lock(self._engine)
        if lock is not None:
            lock.acquire()
        try:
            with self._engine.begin() as conn:
                dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
                # A concurrent first push may create the row too; the lease decides below.
                conn.execute(
                    dialect_insert(t.audit_sink_cursors)
                    .values(
                        tenant=tenant, sink=sink, last_seq=NOTHING_PUSHED, pushed=0, updated_at=now
                    )
                    .on_conflict_do_nothing(index_elements=["tenant", "sink"])
                )
                taken = conn.execute(
                    update(t.audit_sink_cursors)
                    .where(
                        c.tenant == tenant,
                        c.sink == sink,
                        or_(
                            c.lease_owner.is_(None),
                            c.lease_owner == owner,
                            and_(c.lease_until.is_not(None), c.lease_until < now),
                        ),
                    )
                    .values(lease_owner=owner, lease_until=lease_until)
                )
                if taken.rowcount != 1:
                    return None
                return int(
                    conn.execute(
                        select(c.last_seq).where(c.tenant == tenant, c.sink == sink)
                    ).scalar_one()
                )
        finally:
            if lock is not None:
                lock.release()

    def advance(
        self,
        tenant: str,
        sink: str,
        *,
        owner: str,
        last_seq: int,
        pushed: int,
        now: datetime,
        error: str | None,
    ) -> bool:
        """Record progress and release the lease, only while ``owner`` still holds it."""
        c = t.audit_sink_cursors.c
        lock = writer_lock(self._engine)
        if lock is not None:
            lock.acquire()
        try:
            with self._engine.begin() as conn:
                current = conn.execute(
                    select(c.last_seq).where(
                        c.tenant == tenant, c.sink == sink, c.lease_owner == owner
                    )
                ).scalar_one_or_none()
                if current is None:
                    return False
                result = conn.execute(
                    update(t.audit_sink_cursors)
                    .where(c.tenant == tenant, c.sink == sink, c.lease_owner == owner)
                    .values(
                        last_seq=max(int(current), last_seq),
                        pushed=c.pushed + pushed,
                        last_error=error[:_ERROR_CHARS] if error else None,
                        lease_owner=None,
                        lease_until=None,
                        updated_at=now,
                    )
                )
                return result.rowcount == 1
        finally:
            if lock is not None:
                lock.release()

    def all(self) -> list[SinkCursor]:
        """Every cursor, by tenant and sink."""
        c = t.audit_sink_cursors.c
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            rows = conn.execute(select(t.audit_sink_cursors).order_by(c.tenant, c.sink)).all()
        return [
            SinkCursor(
                tenant=row.tenant,
                sink=row.sink,
                last_seq=int(row.last_seq),
                pushed=int(row.pushed),
                last_error=row.last_error,
                updated_at=as_utc(row.updated_at),
            )
            for row in rows
        ]
