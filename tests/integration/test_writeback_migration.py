"""Migration 0005 keeps every approval and write-back of a store in use, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.migrate import upgrade

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _approval(approval_id: str, kind: str, writeback_id: str) -> dict[str, object]:
    return {
        "tenant": "clinic-a",
        "id": approval_id,
        "draft_id": "d-1",
        "version": 1,
        "kind": kind,
        "content_hash": "sha256:x",
        "approver": {"subject": "dr"},
        "approved_at": NOW,
        "diff_blob": b"x",
        "policy_hash": "sha256:p",
        "writeback_id": writeback_id,
    }


def _writeback(writeback_id: str, approval_id: str, kind: str) -> dict[str, object]:
    return {
        "tenant": "clinic-a",
        "id": writeback_id,
        "draft_id": "d-1",
        "approval_id": approval_id,
        "kind": kind,
        "state": "committed",
        "may_have_landed": False,
        "payload_blob": b"x",
        "payload_hash": "sha256:y",
        "correlation_id": "c-1",
        "attempts": 1,
        "next_attempt_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_a_store_in_use_keeps_its_rows_and_may_approve_a_follow_up_again(
    database_url: str,
) -> None:
    """Rows written at 0003 survive; a second finalize approval fits, a second approve not."""
    engine = make_engine(database_url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO drafts (tenant, id, patient, encounter, origin, baseline,"
                " correlation_id, state, created_at, updated_at, row_version)"
                " VALUES ('clinic-a', 'd-1', 'Patient/p', 'Encounter/e', '{}', '{}', 'c-1',"
                " 'committed', :at, :at, 1)"
            ),
            {"at": NOW},
        )
        conn.execute(insert(t.approvals).values(**_approval("a-1", "approve", "w-1")))
        conn.execute(insert(t.writebacks).values(**_writeback("w-1", "a-1", "approve")))
        conn.execute(insert(t.approvals).values(**_approval("a-2", "finalize", "w-2")))
        conn.execute(insert(t.writebacks).values(**_writeback("w-2", "a-2", "finalize")))
    upgrade(engine)
    try:
        with engine.connect() as conn:
            kept = conn.execute(select(t.writebacks.c.id).order_by(t.writebacks.c.id)).all()
            assert [r.id for r in kept] == ["w-1", "w-2"]
            escalated = conn.execute(select(t.writebacks.c.escalated_at)).scalars().all()
            assert escalated == [None, None]
        with engine.begin() as conn:
            conn.execute(insert(t.approvals).values(**_approval("a-3", "finalize", "w-3")))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(t.approvals).values(**_approval("a-4", "approve", "w-4")))
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    finally:
        engine.dispose()
