"""Wrapped per-tenant data keys, stored beside the data they protect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select
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
