"""Four processes append to one tenant's ledger at once on PostgreSQL: no gap, no fork.

Replicas share the store and nothing else; the per-tenant head row is the only sequencer. Each
process appends its own events (and cuts checkpoints) concurrently with the others; afterwards
the sequence is gap-free, every event is there exactly once, and the whole log verifies.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.migrate import upgrade
from chartgate.bootstrap.ledger import open_ledger
from chartgate.domain.events import AuditRecord, EventType
from chartgate.service.audit_verify import verify_store
from chartgate.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

PROCESSES = 4
EACH = 40
TENANT = "clinic-a"


def _append(database_url: str, key_file: str, replica: int) -> None:
    settings = Settings(database_url=database_url, key_file=key_file)
    ledger, engine = open_ledger(settings)
    try:
        for i in range(EACH):
            ledger.audit.record(
                AuditRecord(
                    type=EventType.DRAFT_VIEWED,
                    tenant=TENANT,
                    at=datetime.now(UTC),
                    correlation_id=f"replica-{replica}",
                    actor=f"clinician:replica-{replica}",
                    data={"n": i},
                )
            )
            if i % 10 == 9:
                ledger.checkpointer.checkpoint(TENANT)
    finally:
        engine.dispose()


def test_four_replicas_appending_at_once_leave_one_gap_free_verifiable_log(
    postgres_url: str, tmp_path: Path
) -> None:
    """4 processes x 40 events on one tenant: seq 0..159 once each, checkpoints verify."""
    key_file = str(tmp_path / "kek.key")
    migrating = make_engine(postgres_url)
    upgrade(migrating)  # the keys' registry is a table: the schema comes first
    migrating.dispose()
    ledger, engine = open_ledger(Settings(database_url=postgres_url, key_file=key_file))
    ledger.checkpointer.checkpoint(TENANT)  # creates the shared signing key before the race
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=_append, args=(postgres_url, key_file, r)) for r in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=150)
        assert process.exitcode == 0
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.audit_events.c.seq, t.audit_events.c.correlation_id)
                .where(t.audit_events.c.tenant == TENANT)
                .order_by(t.audit_events.c.seq)
            ).all()
        appended = [r for r in rows if r.correlation_id.startswith("replica-")]
        assert len(appended) == PROCESSES * EACH
        assert [r.seq for r in rows] == list(range(len(rows)))  # gap-free, no duplicates
        ledger.checkpointer.checkpoint(TENANT)
        with ledger.unit(read_only=True) as unit:
            report = verify_store(
                unit.ledger,
                TENANT,
                ledger.key.verifier,
                ledger.audit.origin(TENANT),
                anchor_note=ledger.anchor.latest(TENANT),
            )
        assert report.ok, report.describe()
        assert report.unsigned_tail == 0
    finally:
        engine.dispose()
