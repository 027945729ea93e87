"""Engines for SQLite (embedded default, WAL, one writer at a time) and PostgreSQL.

SQLite allows one writer; letting several threads race for the write lock pushes p99
latency past a second, so writes take ``BEGIN IMMEDIATE`` (the lock is taken up front, no
upgrade deadlocks) and a writer lock serialises writers before they reach SQLite: in the
process a lock, across processes (``serve`` and ``worker`` on one file) an ``flock`` handed
over fairly (``adapters/storage/writer_lock.py``), so one process cannot starve the other.
Connections are pooled and long-lived (issue 20): a fresh connection per transaction paid
four PRAGMAs and a commit on a new file handle (1-9 ms) where a held one commits in ~15 us.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool

from chartgate.adapters.storage.writer_lock import WriterLock
from chartgate.domain.errors import SchemaNotCurrent

POSTGRES_TIMEOUTS = (
    "-c statement_timeout=30000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000"
)
"""Server-side bounds (ms) so one stuck statement or transaction cannot stall a replica: a
statement over 30 s, a lock wait over 10 s, or a transaction idle for 60 s is cancelled (the
request fails cleanly and rolls back). Migrations lift the statement bound (``migrate.py``)."""


SQLITE_POOL_SIZE = 8
SQLITE_POOL_OVERFLOW = 24
"""Held SQLite connections (a worker with many write-backs in flight reads on several)."""


def is_sqlite(url: str) -> bool:
    """True when ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Create the engine for ``url`` with the per-backend settings chartgate relies on.

    ``create=False`` (commands that only look at a store) refuses an SQLite file that does
    not exist instead of leaving an empty database (and its folder) behind.

    Raises:
        SchemaNotCurrent: ``create`` is off and there is no SQLite database at the path.
    """
    url = normalise_url(url)
    if not is_sqlite(url):
        return create_engine(
            url,
            # A connection the server dropped (restart, pg_terminate_backend) is replaced
            # before use instead of failing the next request.
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            connect_args={"options": POSTGRES_TIMEOUTS},
        )
    database = make_url(url).database
    on_disk = bool(database) and database != ":memory:"
    if on_disk and not create and not Path(str(database)).exists():
        raise SchemaNotCurrent("there is no chartgate store here: run `chartgate db upgrade`")
    if on_disk:
        Path(str(database)).parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"check_same_thread": False, "timeout": 30}
    if on_disk:
        # Long-lived connections: one writer at a time (the lock below), readers beside it.
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_OVERFLOW,
            connect_args=connect_args,
        )
    else:
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # noqa: ANN401 - DBAPI
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:  # noqa: ANN401 - SQLAlchemy connection
        read_only = connection.get_execution_options().get("chartgate_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    engine.info_writer_lock = WriterLock(  # type: ignore[attr-defined]
        Path(str(database)) if on_disk else None
    )
    return engine


def writer_lock(engine: Engine) -> WriterLock | None:
    """The writer lock of a SQLite engine (None for PostgreSQL)."""
    lock: WriterLock | None = getattr(engine, "info_writer_lock", None)
    return lock
