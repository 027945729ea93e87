"""Worker benchmarks: what one clean write-back costs the store, and how fast a worker drains.

* cost: SQL statements, transactions (BEGIN) and commits per clean write-back, counted on the
  engine while one executor drains a backlog of approved notes (submit and approve are not
  counted), on SQLite and PostgreSQL.
* drain: write-backs/s of one worker process draining a backlog of N approved notes against
  a near-zero-cost stub EHR and one that answers every request after 300 ms (both
  ``bench/stub_ehr.py``), one at a time and ``CHARTGATE_BENCH_IN_FLIGHT`` (64) in flight,
  beside the stub's own floor (sequential direct PUTs, two per write-back).

Run alone with ``.venv/bin/python bench/worker.py`` (``CHARTGATE_BENCH_DRAIN_N`` sets the
backlog, default 300; ``CHARTGATE_BENCH_SLOW_N`` the backlog against the 300 ms stub, 200).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dev_env  # noqa: F401 - dev mode and the loopback processor, before any Settings
from stub_ehr import StubEhr

from builders import scribe_and_clinician, submission
from chartgate.domain.submission import DraftSubmission
from chartgate.service.context import RequestMeta
from stack import running_stack

DRAIN_N = int(os.environ.get("CHARTGATE_BENCH_DRAIN_N", "300"))
SLOW_N = int(os.environ.get("CHARTGATE_BENCH_SLOW_N", "200"))
IN_FLIGHT = int(os.environ.get("CHARTGATE_BENCH_IN_FLIGHT", "64"))
PG_ADMIN = os.environ.get(
    "CHARTGATE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Counts:
    """What the engine saw."""

    statements: int = 0
    begins: int = 0
    commits: int = 0


@contextmanager
def counting(engine: Any) -> Iterator[Counts]:
    """Count statements, transactions and commits on ``engine`` while the block runs."""
    counts = Counts()

    def on_statement(*_: object) -> None:
        counts.statements += 1

    def on_begin(*_: object) -> None:
        counts.begins += 1

    def on_commit(*_: object) -> None:
        counts.commits += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "commit", on_commit)


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one measurement, dropped afterwards."""
    name = f"chartgate_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def drain(
    database_url: str, workdir: Path, *, n: int, latency: float, in_flight: int
) -> dict[str, float]:
    """Approve ``n`` notes, then time one worker draining them; count what the store saw."""
    # Read when the stack is built: the EHR's connection pool is sized from it.
    os.environ["CHARTGATE_WORKER_IN_FLIGHT"] = str(in_flight)
    with (
        StubEhr(latency=latency) as ehr,
        running_stack(
            database_url,
            workdir,
            ehr_base=ehr.base_url,
            vendor="sandbox",
            ehr_rate_per_second=10_000,
        ) as stack,
    ):
        scribe, clinician = scribe_and_clinician(stack.tenant)
        body = DraftSubmission.model_validate(submission())
        meta = RequestMeta(request_id="bench")
        for _ in range(n):
            draft = stack.app.drafting.submit_draft(scribe, body, meta)
            stack.app.approvals.approve(clinician, draft.id, expected_version=1, meta=meta)
        executor = stack.app.executor(owner="bench")
        with counting(stack.app.engine) as counts:
            started = time.perf_counter()
            done = 0
            while done < n:
                taken = executor.run_once()
                if taken == 0:
                    break
                done += taken
            elapsed = time.perf_counter() - started
        floor = ehr.floor(2 * min(n, 100)) / 2  # seconds per write-back, sequential
    return {
        "n": n,
        "done": done,
        "per_second": done / elapsed,
        "floor_per_second": 1 / floor,
        "statements": counts.statements / max(done, 1),
        "begins": counts.begins / max(done, 1),
        "commits": counts.commits / max(done, 1),
    }


def main() -> None:
    """Print the cost and drain figures on both stores."""
    rows = []
    plan = [(0.0, DRAIN_N, 1), (0.0, DRAIN_N, IN_FLIGHT), (0.3, 20, 1), (0.3, SLOW_N, IN_FLIGHT)]
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("sqlite", "postgresql"):
            for latency, n, in_flight in plan:
                work = Path(tmp) / f"{store}-{latency}-{in_flight}"
                work.mkdir()
                if store == "sqlite":
                    url = f"sqlite:///{work}/b.sqlite3"
                    result = drain(url, work, n=n, latency=latency, in_flight=in_flight)
                else:
                    with postgres_url() as url:
                        result = drain(url, work, n=n, latency=latency, in_flight=in_flight)
                rows.append((store, latency, in_flight, result))
    print("chartgate worker bench: one worker process draining a backlog of approved notes")
    print(
        f"{'store':<11} {'EHR':>7} {'in flight':>9} {'n':>5} {'wb/s':>8} {'EHR floor wb/s':>15}"
        f" {'SQL/wb':>7} {'tx/wb':>6} {'commits/wb':>11}"
    )
    for store, latency, in_flight, r in rows:
        print(
            f"{store:<11} {int(latency * 1000):>5}ms {in_flight:>9} {r['done']:>5.0f}"
            f" {r['per_second']:>8.1f} {r['floor_per_second']:>15.1f} {r['statements']:>7.1f}"
            f" {r['begins']:>6.1f} {r['commits']:>11.1f}"
        )


if __name__ == "__main__":
    main()
