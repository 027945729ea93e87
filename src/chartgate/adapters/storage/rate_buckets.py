"""The rate governor's buckets in the store: one row per tenant EHR, taken atomically.

Every ``take`` is one short transaction that locks the row (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` of every write transaction, see ``engine.py``),
so two workers in two processes can never both spend the last token. The row is created on
a bucket's first use only (``INSERT … ON CONFLICT DO NOTHING``, then the locked read again):
a take is the locked read and one update.
"""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from chartgate.adapters.ehr.rate import Bucket, take_up_to
from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import writer_lock
from chartgate.domain.vendor_profile import RateLimit

_c = t.ehr_rate_buckets.c
# Run before every EHR request: built once per process (issue 20).
_LOCKED_READ = (
    select(_c.tokens, _c.updated_at, _c.blocked_until)
    .where(_c.bucket == bindparam("r_bucket"))
    .with_for_update()
)
_WRITE = (
    update(t.ehr_rate_buckets)
    .where(_c.bucket == bindparam("r_bucket"))
    .values(
        tokens=bindparam("r_tokens"),
        updated_at=bindparam("r_updated_at"),
        blocked_until=bindparam("r_blocked_until"),
    )
)


class SqlRateBuckets:
    """``RateBuckets`` over ``ehr_rate_buckets``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def take(self, key: str, *, limit: RateLimit, now: float) -> float:
        """Take one token: 0.0 when taken, else the seconds to wait."""
        return self._change(key, now=now, limit=limit, until=None)[1]

    def take_up_to(
        self, key: str, *, limit: RateLimit, now: float, count: int
    ) -> tuple[int, float]:
        """Take up to ``count`` tokens in one transaction: (taken, 0.0) or (0, wait)."""
        return self._change(key, now=now, limit=limit, until=None, count=count)

    def block(self, key: str, *, until: float) -> None:
        """Hand out no token before ``until``; a longer block already set stays."""
        self._change(key, now=until, limit=None, until=until)

    def _change(
        self,
        key: str,
        *,
        now: float,
        limit: RateLimit | None,
        until: float | None,
        count: int = 1,
    ) -> tuple[int, float]:
        lock = writer_lock(self._engine)
        if lock is not None:
            lock.acquire()
        try:
            with self._engine.begin() as conn:
                key_of = {"r_bucket": key}
                row = conn.execute(_LOCKED_READ, key_of).first()
                if row is None:  # first use of the bucket: create it, then lock it
                    dialect_insert = (
                        pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
                    )
                    tokens = float(limit.burst) if limit is not None else 0.0
                    conn.execute(
                        dialect_insert(t.ehr_rate_buckets)
                        .values(bucket=key, tokens=tokens, updated_at=now, blocked_until=0.0)
                        .on_conflict_do_nothing(index_elements=["bucket"])
                    )
                    row = conn.execute(_LOCKED_READ, key_of).one()
                bucket = Bucket(row.tokens, row.updated_at, row.blocked_until)
                wait, taken = 0.0, 0
                if limit is not None:
                    bucket, taken, wait = take_up_to(bucket, limit=limit, now=now, count=count)
                elif until is not None and until > bucket.blocked_until:
                    bucket = Bucket(bucket.tokens, bucket.updated_at, until)
                conn.execute(
                    _WRITE,
                    {
                        **key_of,
                        "r_tokens": bucket.tokens,
                        "r_updated_at": bucket.updated_at,
                        "r_blocked_until": bucket.blocked_until,
                    },
                )
                return taken, wait
        finally:
            if lock is not None:
                lock.release()
