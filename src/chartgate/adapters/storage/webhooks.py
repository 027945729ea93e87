"""Webhook endpoints, their ledger cursors and the delivery log in the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import writer_lock
from chartgate.domain.utc import as_utc
from chartgate.service.webhooks import Delivery, Endpoint


def _endpoint(row: Any) -> Endpoint:  # noqa: ANN401 - RowMapping
    return Endpoint(
        tenant=row["tenant"],
        id=row["id"],
        url=row["url"],
        secret_name=row["secret_name"],
        events=list(row["events"]),
        created_by=row["created_by"],
        created_at=as_utc(row["created_at"]) or datetime.now(UTC),
        last_seq=row["last_seq"],
        failures=row["failures"],
        next_attempt_at=as_utc(row["next_attempt_at"]),
        delivered=row["delivered"],
        disabled_at=as_utc(row["disabled_at"]),
    )


class SqlWebhooks:
    """``WebhookStore`` over the engine; each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (behind the SQLite writer lock, as every writer)."""
        lock = writer_lock(self._engine)
        if lock is not None:
            lock.acquire()
        try:
            with self._engine.begin() as conn:
                yield conn
        finally:
            if lock is not None:
                lock.release()

    def add(self, endpoint: Endpoint) -> None:
        """Store a new endpoint."""
        with self._write() as conn:
            conn.execute(
                insert(t.webhook_endpoints).values(
                    tenant=endpoint.tenant,
                    id=endpoint.id,
                    url=endpoint.url,
                    secret_name=endpoint.secret_name,
                    events=endpoint.events,
                    created_by=endpoint.created_by,
                    created_at=endpoint.created_at,
                    last_seq=endpoint.last_seq,
                    failures=0,
                    next_attempt_at=endpoint.next_attempt_at or endpoint.created_at,
                    delivered=0,
                )
            )

    def for_tenant(self, tenant: str) -> list[Endpoint]:
        """A tenant's endpoints, oldest first."""
        c = t.webhook_endpoints.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.webhook_endpoints).where(c.tenant == tenant).order_by(c.created_at, c.id)
            ).mappings()
            return [_endpoint(row) for row in rows]

    def get(self, tenant: str, endpoint_id: str) -> Endpoint | None:
        """One endpoint."""
        c = t.webhook_endpoints.c
        with self._engine.connect() as conn:
            row = (
                conn.execute(
                    select(t.webhook_endpoints).where(c.tenant == tenant, c.id == endpoint_id)
                )
                .mappings()
                .first()
            )
        return None if row is None else _endpoint(row)

    def disable(self, tenant: str, endpoint_id: str, at: datetime) -> bool:
        """Stop deliveries; False when it was not active."""
        c = t.webhook_endpoints.c
        with self._write() as conn:
            result = conn.execute(
                update(t.webhook_endpoints)
                .where(c.tenant == tenant, c.id == endpoint_id, c.disabled_at.is_(None))
                .values(disabled_at=at)
            )
        return result.rowcount == 1

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """Active endpoints whose next attempt has come.

        A read (every worker turn asks): on SQLite it waits for no writer, in this process or
        another (``claim`` decides who pushes).
        """
        c = t.webhook_endpoints.c
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            rows = conn.execute(
                select(c.tenant, c.id)
                .where(c.disabled_at.is_(None), c.next_attempt_at <= now)
                .order_by(c.next_attempt_at)
            ).all()
        return [(r.tenant, r.id) for r in rows]

    def claim(
        self, tenant: str, endpoint_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> Endpoint | None:
        """Take the lease if it is free, expired or ours."""
        c = t.webhook_endpoints.c
        with self._write() as conn:
            taken = conn.execute(
                update(t.webhook_endpoints)
                .where(
                    c.tenant == tenant,
                    c.id == endpoint_id,
                    c.disabled_at.is_(None),
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
            row = (
                conn.execute(
                    select(t.webhook_endpoints).where(c.tenant == tenant, c.id == endpoint_id)
                )
                .mappings()
                .one()
            )
            return _endpoint(row)

    def advance(
        self,
        tenant: str,
        endpoint_id: str,
        *,
        owner: str,
        last_seq: int,
        delivered: int,
        failures: int,
        next_attempt_at: datetime,
    ) -> bool:
        """Move the cursor (never back) and release the lease, while ``owner`` holds it."""
        c = t.webhook_endpoints.c
        with self._write() as conn:
            current = conn.execute(
                select(c.last_seq).where(
                    c.tenant == tenant, c.id == endpoint_id, c.lease_owner == owner
                )
            ).scalar_one_or_none()
            if current is None:
                return False
            result = conn.execute(
                update(t.webhook_endpoints)
                .where(c.tenant == tenant, c.id == endpoint_id, c.lease_owner == owner)
                .values(
                    last_seq=max(int(current), last_seq),
                    delivered=c.delivered + delivered,
                    failures=failures,
                    next_attempt_at=next_attempt_at,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            return result.rowcount == 1

    def log(self, delivery: Delivery) -> None:
        """One line of the delivery log."""
        with self._write() as conn:
            conn.execute(
                insert(t.webhook_deliveries).values(
                    tenant=delivery.tenant,
                    id=delivery.id,
                    endpoint_id=delivery.endpoint_id,
                    event_id=delivery.event_id,
                    event_type=delivery.event_type,
                    attempt=delivery.attempt,
                    status=delivery.status,
                    error=(delivery.error or None) and delivery.error[:200],
                    at=delivery.at,
                )
            )

    def deliveries(self, tenant: str, endpoint_id: str, *, limit: int) -> list[Delivery]:
        """The newest attempts first."""
        c = t.webhook_deliveries.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.webhook_deliveries)
                .where(c.tenant == tenant, c.endpoint_id == endpoint_id)
                .order_by(c.at.desc(), c.id.desc())
                .limit(limit)
            ).mappings()
            return [
                Delivery(
                    tenant=row["tenant"],
                    id=row["id"],
                    endpoint_id=row["endpoint_id"],
                    event_id=row["event_id"],
                    event_type=row["event_type"],
                    attempt=row["attempt"],
                    status=row["status"],
                    error=row["error"],
                    at=as_utc(row["at"]) or datetime.now(UTC),
                )
                for row in rows
            ]
