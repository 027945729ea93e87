"""Several ledger appends in one transaction read the tenant's head once (issue 20).

The head row is locked (PostgreSQL) or the store is (SQLite) until the transaction ends, so
later appends of that transaction reuse the size and range they wrote. These tests show the
log stays gap-free and its stored head matches its leaves, on SQLite and PostgreSQL, and
that a new transaction (or another connection) reads the head again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.ledger import SqlLedger
from chartgate.domain.events import AuditRecord, EventType
from chartgate.ledger.merkle import root_from_leaf_hashes
from chartgate.service.audit import range_from_bytes

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[Engine]:
    built = create_engine(migrated_database_url)
    yield built
    built.dispose()


def record(tenant: str, n: int) -> AuditRecord:
    return AuditRecord(
        tenant=tenant,
        type=EventType.DRAFT_RECEIVED,
        at=AT,
        correlation_id=f"c-{n}",
        actor="scribe:s",
        request_id=f"r-{n}",
        draft_id=f"d-{n}",
    )


def head_reads(engine: Engine) -> list[str]:
    """Collects every statement that reads a head row (a listener on ``engine``)."""
    seen: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ledger_heads" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return seen


def stored(engine: Engine, tenant: str) -> tuple[list[int], bytes, bytes]:
    """The tenant's seqs, the root of its stored leaves, and the root of its stored head."""
    e, h = t.audit_events.c, t.ledger_heads.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.seq, e.leaf_hash).where(e.tenant == tenant).order_by(e.seq)
        ).all()
        head = conn.execute(select(h.next_seq, h.compact_range).where(h.tenant == tenant)).one()
    leaves = [bytes(r.leaf_hash) for r in rows]
    compact = range_from_bytes(head.compact_range, int(head.next_seq))
    return [int(r.seq) for r in rows], root_from_leaf_hashes(leaves), compact.root()


def test_appends_in_one_transaction_read_each_head_once_and_stay_gap_free(
    engine: Engine,
) -> None:
    """Five appends over two tenants: two head reads; seqs 0.. with heads matching leaves."""
    reads = head_reads(engine)
    with engine.begin() as conn:
        ledger = SqlLedger(conn)
        seqs = [ledger.append(record(tenant, n)) for n, tenant in enumerate("aabab")]
    assert seqs == [0, 1, 0, 2, 1]
    assert len(reads) == 4  # per tenant: the read, the insert of the new head, the read again
    for tenant, count in (("a", 3), ("b", 2)):
        numbers, leaves_root, head_root = stored(engine, tenant)
        assert numbers == list(range(count))
        assert head_root == leaves_root


def test_a_new_transaction_and_another_connection_read_the_head_again(engine: Engine) -> None:
    """Appends from two connections, transaction after transaction, never reuse a stale head."""
    with engine.connect() as first, engine.connect() as second:
        with first.begin():
            assert SqlLedger(first).append(record("a", 1)) == 0
        with second.begin():
            assert SqlLedger(second).append(record("a", 2)) == 1
        reads = head_reads(engine)
        with first.begin():
            ledger = SqlLedger(first)
            assert [ledger.append(record("a", 3)), ledger.append(record("a", 4))] == [2, 3]
        assert len(reads) == 1
    numbers, leaves_root, head_root = stored(engine, "a")
    assert numbers == [0, 1, 2, 3]
    assert head_root == leaves_root


def test_a_rolled_back_transaction_leaves_nothing_to_reuse(engine: Engine) -> None:
    """Appends rolled back are gone; the next transaction on that connection starts at 0."""
    with engine.connect() as conn:
        with conn.begin() as transaction:
            SqlLedger(conn).append(record("a", 1))
            transaction.rollback()
        with conn.begin():
            assert SqlLedger(conn).append(record("a", 2)) == 0
    assert stored(engine, "a")[0] == [0]


def test_appends_inside_a_rolled_back_savepoint_leave_no_stale_head(
    migrated_postgres_url: str,
) -> None:
    """Append, append in a savepoint that rolls back, append again: seqs 0, 1 (gap-free)."""
    engine = create_engine(migrated_postgres_url)
    try:
        with engine.begin() as conn:
            ledger = SqlLedger(conn)
            assert ledger.append(record("a", 1)) == 0
            savepoint = conn.begin_nested()
            assert ledger.append(record("a", 2)) == 1
            savepoint.rollback()
            assert ledger.append(record("a", 3)) == 1
        numbers, leaves_root, head_root = stored(engine, "a")
        assert numbers == [0, 1]
        assert head_root == leaves_root
    finally:
        engine.dispose()
