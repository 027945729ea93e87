"""Migration 0002 seals audit rows written before the ledger existed, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.migrate import upgrade
from chartgate.bootstrap.ledger import open_ledger
from chartgate.ledger.merkle import leaf_hash
from chartgate.ledger.seal import identity
from chartgate.service.audit_verify import verify_store
from chartgate.settings import Settings


def test_rows_from_before_0002_are_sealed_from_seq_0_and_verify(
    database_url: str, tmp_path: Path
) -> None:
    """Old 1-based rows become leaves 0..n-1 with bytes and hashes; appends continue at n."""
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        for seq in (1, 2, 3):
            event = {"type": "draft.viewed", "tenant": "clinic-a", "correlation_id": "c"}
            conn.execute(
                text(
                    "INSERT INTO audit_events (tenant, seq, type, at, correlation_id, actor, event)"
                    " VALUES ('clinic-a', :seq, 'draft.viewed', :at, 'c', 'clinician:x', :event)"
                ),
                {"seq": seq, "at": datetime.now(UTC), "event": json.dumps(event)},
            )
        conn.execute(insert(t.ledger_heads).values(tenant="clinic-a", next_seq=4))
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.audit_events.c.seq, t.audit_events.c.canonical, t.audit_events.c.leaf_hash
            ).order_by(t.audit_events.c.seq)
        ).all()
    engine.dispose()
    assert [r.seq for r in rows] == [0, 1, 2]
    for row in rows:
        assert leaf_hash(row.canonical) == row.leaf_hash
        assert identity(row.canonical)[:2] == ("clinic-a", row.seq)

    settings = Settings(database_url=database_url, key_file=str(tmp_path / "kek.key"))
    ledger, engine = open_ledger(settings)
    try:
        with ledger.unit() as unit:
            head = unit.ledger.head("clinic-a")
            assert head is not None
            # The 3 migrated rows, then key.created: dev mode made this store's KEK just now.
            assert head.size == 4
            made = [json.loads(e.canonical or b"{}") for e in unit.ledger.entries("clinic-a", 3)]
            assert [e["type"] for e in made] == ["key.created"]
        ledger.checkpointer.checkpoint("clinic-a")
        with ledger.unit(read_only=True) as unit:
            report = verify_store(
                unit.ledger, "clinic-a", ledger.key.verifier, ledger.audit.origin("clinic-a")
            )
        assert report.ok, report.describe()
        assert report.verified_size == 4
    finally:
        engine.dispose()


def test_0002_downgrades_and_upgrades_again(database_url: str) -> None:
    """The revision is reversible on both databases (append-only triggers restored)."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        from alembic import command  # noqa: PLC0415

        from chartgate.adapters.storage.migrate import alembic_config  # noqa: PLC0415

        config = alembic_config(engine)
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
            conn.commit()
        with engine.begin() as conn:
            conn.execute(
                insert(t.audit_events).values(
                    tenant="t",
                    seq=1,
                    type="x",
                    at=datetime.now(UTC),
                    correlation_id="c",
                    actor="a",
                    event={},
                )
            )
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))
        upgrade(engine)
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version >= "0002"  # the newest revision (later ones build on 0002)
    finally:
        engine.dispose()
