"""The SQLite writer lock: one writer at a time, handed over fairly between processes.

SQLite lets one connection write at a time. In one process a lock queues the writers before
they reach SQLite. Across processes (``chartgate serve`` and ``chartgate worker`` on one
file) SQLite's own busy handler does not queue anyone: a process that finds the file locked
sleeps 1, 2, 5 ... up to 100 ms and tries again, while the holder's next thread takes the
lock again at once. Under load that starved the worker: committed write-backs fell to a
quarter of the approvals (issue 20, "no starvation").

So a writer also takes an ``flock`` on ``<db>.writer-lock`` (the kernel wakes a waiting
process the moment it is released), and hands over fairly: a process waiting for it holds a
shared ``flock`` on ``<db>.writer-queue`` while it waits, and a process about to write first
lets every such waiter have its turn (it waits, for at most ``YIELD_SECONDS``, until it can
take the queue file exclusively, i.e. until the waiters hold the writer lock). The bound keeps
a stopped or stuck waiter from holding everyone up; mutual exclusion never depends on it
(SQLite's own lock stays underneath). Locks are taken per process, re-opened after a fork.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Self

YIELD_SECONDS = 0.05
"""How long a process about to write lets waiting processes go first, at most."""
_YIELD_POLL_SECONDS = 0.0005


class WriterLock:
    """Re-entrant in its thread; across processes an ``flock`` with a fair hand-over.

    ``database``: the SQLite file, beside which the lock files live (None: this process only,
    e.g. an in-memory database).
    """

    def __init__(self, database: Path | None) -> None:
        self._local = threading.RLock()
        self._path = database
        self._depth = 0  # guarded by _local
        self._files: tuple[int, int, int] | None = None  # (pid, lock fd, queue fd)
        self._closer: weakref.finalize[..., WriterLock] | None = None

    def acquire(self) -> bool:
        """Wait until this thread is the store's only writer (in every process)."""
        self._local.acquire()
        if self._depth == 0 and self._path is not None:
            try:
                self._take(self._path)
            except BaseException:
                self._local.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        """Give the writer's turn back (to this process's next writer, or a waiting one)."""
        self._depth -= 1
        if self._depth == 0 and self._files is not None:
            fcntl.flock(self._files[1], fcntl.LOCK_UN)
        self._local.release()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _take(self, database: Path) -> None:
        lock_fd, queue_fd = self._open(database)
        _let_waiters_go_first(queue_fd)
        if _try(lock_fd, fcntl.LOCK_EX):
            return
        fcntl.flock(queue_fd, fcntl.LOCK_SH)  # "a process is waiting": the holder yields next
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        finally:
            fcntl.flock(queue_fd, fcntl.LOCK_UN)

    def _open(self, database: Path) -> tuple[int, int]:
        """This process's descriptors (a forked child opens its own: flock is per open file).

        The files take the database file's permissions, as SQLite's ``-wal`` and ``-shm`` do.
        """
        pid = os.getpid()
        if self._files is None or self._files[0] != pid:
            try:
                mode = database.stat().st_mode & 0o666
            except FileNotFoundError:
                mode = 0o600
            if self._closer is not None:
                self._closer()  # a forked child closes the descriptors it inherited
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            lock_fd = os.open(f"{database}.writer-lock", flags, mode)
            queue_fd = os.open(f"{database}.writer-queue", flags, mode)
            self._files = (pid, lock_fd, queue_fd)
            # Closed with the lock (its engine gone), so engines that come and go leak nothing.
            self._closer = weakref.finalize(self, _close, lock_fd, queue_fd)
        return self._files[1], self._files[2]


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _let_waiters_go_first(queue_fd: int) -> None:
    """Wait (bounded) until no other process is waiting for the writer lock."""
    deadline = time.monotonic() + YIELD_SECONDS
    while not _try(queue_fd, fcntl.LOCK_EX):
        if time.monotonic() >= deadline:
            return
        time.sleep(_YIELD_POLL_SECONDS)
    fcntl.flock(queue_fd, fcntl.LOCK_UN)
