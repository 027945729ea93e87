"""One holder at a time for a background duty that must not run twice at once.

Most duties are safe on every replica by their own rows (write-back claims, the audit-sink
and webhook cursors' leases, the ledger head lock under checkpoint signing). A retention run
is not: it writes archive files and crypto-shreds keys, so ``chartgate retention run`` fired
by cron on every host must do the work on one of them and let the others step aside.

* PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection held for the run; a
  crashed holder's connection closes and the server releases the lock by itself.
* SQLite (one host by nature): an exclusive ``flock`` on a file beside the database; the
  kernel releases it when the holder dies.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url


def lock_key(name: str) -> int:
    """The advisory-lock key of a duty: the first 8 bytes of SHA-256 of its name, signed."""
    return int.from_bytes(hashlib.sha256(f"chartgate:{name}".encode()).digest()[:8], signed=True)


class DutyLock:
    """``exclusive()`` yields True to the one holder, False to everyone else (no waiting)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        """Hold the duty for the ``with`` block if nobody else does."""
        if self._engine.dialect.name == "postgresql":
            with self._postgres() as held:
                yield held
        else:
            with self._file() as held:
                yield held

    @contextmanager
    def _postgres(self) -> Iterator[bool]:
        key = lock_key(self._name)
        with self._engine.connect() as conn:
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()  # the lock is the session's; no transaction stays open meanwhile
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    @contextmanager
    def _file(self) -> Iterator[bool]:
        database = make_url(self._engine.url).database
        if not database or database == ":memory:":
            yield True  # an in-memory database has one process by definition
            return
        path = Path(f"{database}.{self._name}.lock")
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
