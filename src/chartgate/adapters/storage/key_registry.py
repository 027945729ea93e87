"""The key registry (``key_registry``): which KEKs and ledger keys this store is under."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from chartgate.adapters.keys.registry import KeyRow
from chartgate.adapters.storage import tables as t

REG = t.key_registry


class SqlKeyRegistry:
    """Reads and records the deployment's keys; rows are never deleted."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def rows(self, purpose: str | None = None) -> list[KeyRow]:
        """Every registered key (of one purpose), current first, then newest first."""
        query = select(REG).order_by(REG.c.current.desc(), REG.c.created_at.desc())
        if purpose is not None:
            query = query.where(REG.c.purpose == purpose)
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            found = conn.execute(query).mappings().all()
        return [
            KeyRow(
                purpose=r["purpose"],
                key_id=r["key_id"],
                provider=r["provider"],
                public=r["public"],
                current=bool(r["current"]),
                created_at=r["created_at"],
            )
            for r in found
        ]

    def current(self, purpose: str) -> KeyRow | None:
        """The current key of ``purpose``, or None before ``keys init``."""
        return next((row for row in self.rows(purpose) if row.current), None)

    def add(
        self, purpose: str, key_id: str, *, provider: str, public: str | None, now: datetime
    ) -> None:
        """Register a new current key of ``purpose``; the previous current one is retired."""
        with self._engine.begin() as conn:
            conn.execute(
                update(REG)
                .where(REG.c.purpose == purpose, REG.c.current.is_(True))
                .values(current=False, retired_at=now)
            )
            conn.execute(
                insert(REG).values(
                    purpose=purpose,
                    key_id=key_id,
                    provider=provider,
                    public=public,
                    current=True,
                    created_at=now,
                )
            )
