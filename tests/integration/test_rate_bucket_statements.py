"""The rate governor's take is one locked read and one update once the bucket exists (issue 20).

Every EHR request takes a token from the store first (``adapters/storage/rate_buckets.py``):
two per approval (the chart reads). The bucket row is created on its first use only; before,
every take also ran ``INSERT … ON CONFLICT DO NOTHING``. The tokens are what they were.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.rate_buckets import SqlRateBuckets
from chartgate.domain.vendor_profile import RateLimit

LIMIT = RateLimit(requests_per_second=10.0, burst=10)


def test_a_take_on_an_existing_bucket_reads_and_updates_it_only(migrated_database_url: str) -> None:
    """First take: the row is created; later takes: no INSERT; the tokens count down."""
    engine = make_engine(migrated_database_url)
    seen: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()).split(" ")[0])

    event.listen(engine, "before_cursor_execute", before)
    try:
        buckets = SqlRateBuckets(engine)
        first = buckets.take_up_to("ehr:t", limit=LIMIT, now=1000.0, count=3)
        made = list(seen)
        seen.clear()
        second = buckets.take_up_to("ehr:t", limit=LIMIT, now=1000.0, count=3)
        again = list(seen)
        buckets.block("ehr:t", until=1005.0)
        blocked = buckets.take("ehr:t", limit=LIMIT, now=1001.0)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        engine.dispose()
    assert "INSERT" in made
    assert [s for s in again if s != "BEGIN"] == ["SELECT", "UPDATE"]
    assert (first, second) == ((3, 0.0), (3, 0.0))
    assert blocked == 4.0  # the block set by the EHR's pause holds
