"""Wrapped per-tenant data keys, stored beside the data they protect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import writer_lock


class SqlDataKeyStore:
    """``DataKeyStore`` over the ``tenant_keys`` table (only wrapped keys are stored)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get_wrapped(self, tenant: str) -> bytes | None:
        """The tenant's wrapped data key, or None before its first use."""
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            value = conn.execute(
                select(t.tenant_keys.c.wrapped_key).where(t.tenant_keys.c.tenant == tenant)
            ).scalar_one_or_none()
        return bytes(value) if value is not None else None

    def put_wrapped(self, tenant: str, blob: bytes) -> None:
        """Store a new wrapped key; a concurrent first use by another process wins quietly."""
        lock = writer_lock(self._engine)
        try:
            if lock is not None:
                lock.acquire()
            with self._engine.begin() as conn:
                conn.execute(
                    insert(t.tenant_keys).values(
                        tenant=tenant, wrapped_key=blob, created_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            return
        finally:
            if lock is not None:
                lock.release()

    def tenants(self) -> list[str]:
        """Every tenant with a stored data key."""
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            found = conn.execute(select(t.tenant_keys.c.tenant).order_by(t.tenant_keys.c.tenant))
            return [str(tenant) for tenant in found.scalars()]

    def replace_wrapped(self, tenant: str, old: bytes, new: bytes) -> bool:
        """Swap the tenant's wrapped key from ``old`` to ``new`` (compare and set).

        False when the row no longer holds ``old``: someone else changed it first.
        """
        keys = t.tenant_keys
        lock = writer_lock(self._engine)
        try:
            if lock is not None:
                lock.acquire()
            with self._engine.begin() as conn:
                done = conn.execute(
                    update(keys)
                    .where(keys.c.tenant == tenant, keys.c.wrapped_key == old)
                    .values(wrapped_key=new)
                )
                return done.rowcount == 1
        finally:
            if lock is not None:
                lock.release()
