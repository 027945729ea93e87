"""The web-stack baseline of ``bench/load.py``: FastAPI on uvicorn, one plain approve transaction.

``POST /approve/{n}`` runs what an approval must at least do to the store — one read, one
update and four inserts of ~2 KB (the draft, the approval, the outbox row, two ledger rows) —
in one transaction through SQLAlchemy, with none of chartgate's logic: no token check, no EHR
read, no validation, no ledger hashing. The same server (uvicorn), framework (FastAPI, a sync
route on its thread pool) and store settings as ``chartgate serve`` (SQLite: WAL,
``synchronous=NORMAL``, a held connection pool). The store URL comes from ``PLAIN_DB_URL``;
``create()`` makes the table before the servers start.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    update,
)

ROWS = Table(
    "bench_plain_web",
    MetaData(),
    Column("id", String(36), primary_key=True),
    Column("state", String(20)),
    Column("blob", LargeBinary),
)
BLOB = b"x" * 2048
FIRST = "00000000-0000-0000-0000-000000000000"


def engine_for(url: str) -> Engine:
    """The store, set up as chartgate's engine is for SQLite (WAL, NORMAL, busy timeout)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=16)
    made = create_engine(url, pool_size=16, connect_args={"check_same_thread": False})

    @event.listens_for(made, "connect")
    def _pragmas(conn: Any, _: object) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return made


def create(url: str) -> None:
    """Create the table and its one read row."""
    engine = engine_for(url)
    ROWS.create(engine, checkfirst=True)
    with engine.begin() as conn:
        if conn.execute(select(ROWS.c.id).where(ROWS.c.id == FIRST)).first() is None:
            conn.execute(insert(ROWS).values(id=FIRST, state="in_review", blob=BLOB))
    engine.dispose()


app = FastAPI()
_engine = engine_for(os.environ["PLAIN_DB_URL"]) if "PLAIN_DB_URL" in os.environ else None


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Up."""
    return {"status": "ok"}


@app.post("/approve/{n}")
def approve(n: int) -> dict[str, int]:
    """One read, one update, four inserts, one commit."""
    assert _engine is not None
    with _engine.begin() as conn:
        conn.execute(select(ROWS.c.state).where(ROWS.c.id == FIRST)).first()
        conn.execute(update(ROWS).where(ROWS.c.id == FIRST).values(state=f"s{n % 7}"))
        for _ in range(4):
            conn.execute(insert(ROWS).values(id=str(uuid.uuid4()), state="row", blob=BLOB))
    return {"n": n}
