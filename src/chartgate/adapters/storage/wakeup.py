"""Waking the worker when work may be due, instead of polling (issue 20).

An approval committed by any process should reach a waiting worker in milliseconds, not at
its next poll. PostgreSQL: the transaction that queues a write-back sends ``NOTIFY`` on
``chartgate_writebacks`` (delivered only if it commits); the worker ``LISTEN``s on a
connection of its own. SQLite has no notifications, but ``PRAGMA data_version`` on a held
connection changes whenever another connection (any process) commits: the worker reads it
every few milliseconds, which costs microseconds, and wakes on a change.

Either way the wait is bounded by the poll interval, so retries scheduled for later and a
lost notification are still picked up; a wake-up is only ever a hint to look now.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

CHANNEL = "chartgate_writebacks"
SQLITE_CHECK_SECONDS = 0.002


class Wakeup(Protocol):
    """What the worker waits on between turns."""

    def wait(self, timeout: float) -> bool:
        """Return when work may be due (True) or after ``timeout`` seconds (False)."""
        ...

    def close(self) -> None:
        """Release the connection held for waiting."""
        ...


def notify_writebacks(conn: Connection) -> None:
    """Tell waiting workers, when this transaction commits, that a write-back is due."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class SqliteWakeup:
    """Wakes when another connection commits to the database file (``data_version``)."""

    def __init__(self, database: str, *, check_seconds: float = SQLITE_CHECK_SECONDS) -> None:
        self._database = database
        self._check = check_seconds
        self._conn: sqlite3.Connection | None = None
        self._seen: int | None = None

    def _version(self) -> int | None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self._database, check_same_thread=False, timeout=1)
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            self.close()
            return None
        return int(row[0])

    def wait(self, timeout: float) -> bool:
        """Poll ``data_version`` every ``check_seconds`` up to ``timeout``."""
        deadline = time.monotonic() + timeout
        start = self._version()
        if self._seen is not None and start is not None and start != self._seen:
            self._seen = start
            return True  # committed since the last wait returned: look now
        self._seen = start
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(self._check, left))
            now = self._version()
            if now is not None and now != self._seen:
                self._seen = now
                return True
        return False

    def close(self) -> None:
        """Close the held connection."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None


class PostgresWakeup:
    """``LISTEN chartgate_writebacks`` on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._raw: Any = None

    def _listening(self) -> Any:  # noqa: ANN401 - a psycopg connection
        if self._raw is None:
            import psycopg  # noqa: PLC0415 - only PostgreSQL deployments need it

            url = self._engine.url.set(drivername="postgresql")
            self._raw = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            self._raw.execute(f"LISTEN {CHANNEL}")
        return self._raw

    def wait(self, timeout: float) -> bool:
        """Wait for one notification (draining any others) up to ``timeout``."""
        import psycopg  # noqa: PLC0415

        try:
            conn = self._listening()
            woke = False
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                woke = True
            if woke:
                # Several approvals commit in a burst: one turn takes all that is due.
                for _ in conn.notifies(timeout=0.0):
                    pass
        except psycopg.Error:
            self.close()
            time.sleep(timeout)
            return False
        return woke

    def close(self) -> None:
        """Close the listening connection."""
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = None


class SleepWakeup:
    """No wake-ups (an in-memory store): sleep the whole interval."""

    def wait(self, timeout: float) -> bool:
        """Sleep ``timeout`` seconds."""
        time.sleep(timeout)
        return False

    def close(self) -> None:
        """Nothing held."""


def wakeup_for(engine: Engine) -> Wakeup:
    """The wake-up that fits ``engine``'s backend."""
    url = make_url(str(engine.url))
    if url.get_backend_name() == "postgresql":
        return PostgresWakeup(engine)
    if url.database and url.database != ":memory:":
        return SqliteWakeup(url.database)
    return SleepWakeup()
