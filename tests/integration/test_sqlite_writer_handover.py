"""Two processes writing one SQLite store take turns: a busy one cannot starve the other.

``chartgate serve`` and ``chartgate worker`` share the SQLite file. Before the writer lock
was handed over across processes, a process that found the file locked slept in SQLite's
busy handler (1, 2, 5 ... 100 ms) while the other process's next thread took the lock again
at once: under submit + approve load the worker committed almost nothing (issue 20, "no
starvation"). Here another process holds the store while this one starts to write, then
commits and at once asks to write again: this process's write must come first. And a
worker's look for due write-backs, which every commit wakes, takes no writer's turn at all.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from sqlalchemy import text

from chartgate.adapters.storage.engine import make_engine, writer_lock
from chartgate.worker import _poll
from stack import running_stack

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sqlalchemy import text
    from chartgate.adapters.storage.engine import make_engine, writer_lock

    engine = make_engine(sys.argv[1])
    lock = writer_lock(engine)
    other_waits = Path(sys.argv[2])
    with lock, engine.begin() as conn:
        conn.execute(text("INSERT INTO turns VALUES ('holder, first')"))
        print("holding", flush=True)
        while not other_waits.exists():
            time.sleep(0.01)
        time.sleep(0.5)  # the other process is waiting for the store by now
    with lock, engine.begin() as conn:  # at once, as a busy process's next thread does
        conn.execute(text("INSERT INTO turns VALUES ('holder, again')"))
    """
)


def test_a_process_waiting_to_write_goes_before_the_holders_next_write(tmp_path: Path) -> None:
    """The holder commits and asks again at once: the process that was waiting writes first."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE turns (who TEXT NOT NULL)"))
    waiting = tmp_path / "waiting"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(waiting)], stdout=subprocess.PIPE, text=True
    )
    lock = writer_lock(engine)
    assert lock is not None
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        waiting.touch()
        with lock, engine.begin() as conn:
            conn.execute(text("INSERT INTO turns VALUES ('waiter')"))
        assert holder.wait(timeout=30) == 0
        with engine.connect() as conn:
            turns = [row[0] for row in conn.execute(text("SELECT who FROM turns ORDER BY rowid"))]
    finally:
        if holder.poll() is None:
            holder.kill()
        engine.dispose()
    # SQLite's busy handler alone: the waiter sleeps (up to 100 ms a try) while the holder
    # takes the store again in microseconds, so "holder, again" came before "waiter".
    assert turns == ["holder, first", "waiter", "holder, again"]


def test_the_lock_is_reentrant_in_its_thread_and_exclusive_between_threads(
    tmp_path: Path,
) -> None:
    """A thread may take the writer lock inside itself; another thread waits for the outer one."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    lock = writer_lock(engine)
    assert lock is not None
    order: list[str] = []
    with lock:
        with lock:
            order.append("inner")

        def other_writer() -> None:
            with lock:
                order.append("other")

        other = threading.Thread(target=other_writer)
        other.start()
        time.sleep(0.05)
        order.append("outer")
    other.join(timeout=5)
    engine.dispose()
    assert order == ["inner", "outer", "other"]


def test_a_worker_looking_for_due_write_backs_takes_no_writers_turn(tmp_path: Path) -> None:
    """With nothing due, a worker turn ends while another thread holds the writer lock.

    The worker is woken by every commit of any process; each look used to be a write
    transaction, so it queued for the writer lock (and the API handed it a turn) for nothing.
    """
    with running_stack(f"sqlite:///{tmp_path / 'store.sqlite3'}", tmp_path) as stack:
        lock = writer_lock(stack.app.engine)
        assert lock is not None
        executor = stack.app.executor(owner="looker")
        looked: list[int] = []
        with lock:  # this thread is the writer now
            other = threading.Thread(target=lambda: looked.append(executor.run_once()))
            other.start()
            other.join(timeout=10)
            finished = not other.is_alive()
        other.join()
    assert finished
    assert looked == [0]


def test_an_idle_worker_turn_waits_for_no_other_processs_write(tmp_path: Path) -> None:
    """With nothing due, a whole worker turn ends while another process is writing.

    Every commit wakes the worker; its turn used to open write transactions (the due
    write-backs, the due webhook endpoints) that waited in SQLite's busy handler behind the
    API's writes.
    """
    database = tmp_path / "store.sqlite3"
    with running_stack(f"sqlite:///{database}", tmp_path) as stack:
        executor = stack.app.executor(owner="looker")
        _poll(stack.app, executor)  # cuts the first checkpoints: a real write, not measured
        other_process = sqlite3.connect(database, isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        turns: list[int] = []
        try:
            worker = threading.Thread(target=lambda: turns.append(_poll(stack.app, executor)))
            worker.start()
            worker.join(timeout=10)
            finished = not worker.is_alive()
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
        worker.join()
    assert finished
    assert turns == [0]


def test_engines_that_come_and_go_leave_no_lock_files_open(tmp_path: Path) -> None:
    """The writer lock's two descriptors are closed once its engine is gone."""
    import gc  # noqa: PLC0415 - only this test

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    gc.collect()
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(20):
        engine = make_engine(url)
        with writer_lock(engine) or threading.RLock():
            pass
        engine.dispose()
        del engine
    gc.collect()
    assert len(list(Path("/proc/self/fd").iterdir())) - before < 5
