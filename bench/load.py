"""chartgate as it is deployed, under HTTP load: ``chartgate serve`` and ``chartgate worker``.

The other benchmarks call chartgate in-process; these start the real processes (as
``docs/deploy/systemd/`` does) against the zero-cost stub EHR (``bench/stub_ehr.py``), with the
sandbox only as the IdP whose keys the API trusts, and drive them with HTTP clients from this
process. What they measure (issue 20):

* **approvals/s over HTTP** at 1, 4, 16 and 32 clients (drafts submitted first; no worker, so
  the figure is the API's), SQLite with one ``serve`` process, PostgreSQL with two; the
  baseline is the same web stack (FastAPI on uvicorn, one process each, ``bench/plain_app.py``)
  doing a plain approve transaction (one read, one update, four inserts) on the same store,
  driven by the same clients;
* **approve -> committed** at an open-loop 50 approvals/s (``CHARTGATE_BENCH_OPEN_S``, 15 s)
  with one worker at production's defaults: p50/p99 of ``writebacks.updated_at`` (the
  finish) minus ``approvals.approved_at``, both the server's clock;
* **starvation**: 8 clients submit and approve in a loop for ``CHARTGATE_BENCH_MIXED_S``
  (10 s) with the worker running; committed/s inside the window over approved/s;
* **memory**: peak RSS (``VmHWM``) of every ``serve`` and the ``worker`` process at the end.

The clients share this process's CPU with the stub EHR and the IdP on a 2-core machine: a
measurement of the whole box, as a deployment on one host would be; the baseline pays the
same. Run alone with ``.venv/bin/python bench/load.py``.
"""

from __future__ import annotations

import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dev_env  # noqa: F401 - dev mode and the loopback processor, before any Settings
import plain_app
from sqlalchemy import create_engine, select
from stub_ehr import StubEhr
from worker import postgres_url

from builders import submission
from chartgate.adapters.storage.tables import approvals, writebacks
from chartgate.sandbox.server import SandboxServer
from replica_topology import CHARTGATE, free_port, stop_processes, wait_healthy
from stack import clinician_claims, scribe_claims

CLIENTS = (1, 4, 16, 32)
LEVEL_S = float(os.environ.get("CHARTGATE_BENCH_LEVEL_S", "4"))
OPEN_RATE = 50.0
OPEN_S = float(os.environ.get("CHARTGATE_BENCH_OPEN_S", "15"))
MIXED_S = float(os.environ.get("CHARTGATE_BENCH_MIXED_S", "10"))
MIXED_CLIENTS = 8
TENANT = "bench-load"
PLAIN_APP = Path(__file__).resolve().parent / "plain_app.py"


@dataclass
class Deployment:
    """The running processes and how to reach them."""

    idp: SandboxServer
    bases: list[str]
    serves: list[subprocess.Popen[bytes]]
    env: dict[str, str]
    database_url: str
    worker: subprocess.Popen[bytes] | None = None
    _turn: int = field(default=0)

    def base(self) -> str:
        """The next ``serve`` process, round robin (no proxy in front)."""
        self._turn += 1
        return self.bases[self._turn % len(self.bases)]

    def start_worker(self) -> None:
        """One ``chartgate worker`` at production's defaults (poll, in flight, wake-ups)."""
        self.worker = subprocess.Popen([str(CHARTGATE), "worker"], env=self.env)

    def headers(self, role: str) -> dict[str, str]:
        """A bearer token of the bench scribe or clinician (launch context, MFA, fresh)."""
        claims = (
            scribe_claims(TENANT, "scribe-bench")
            if role == "scribe"
            else clinician_claims(TENANT, subject="clinician-bench")
        )
        token = self.idp.idp.mint(**claims, lifetime_seconds=900)
        return {"Authorization": f"Bearer {token}"}

    def peak_rss_mb(self) -> dict[str, float]:
        """``VmHWM`` of each process, MB (Linux)."""
        found = {f"serve{i}": _hwm(p.pid) for i, p in enumerate(self.serves)}
        if self.worker is not None:
            found["worker"] = _hwm(self.worker.pid)
        return found


def _hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def deployed(database_url: str, workdir: Path, ehr_base: str, serves: int) -> Iterator[Deployment]:
    """The IdP, ``serves`` ``chartgate serve`` processes on a migrated store; no worker yet."""
    with ExitStack() as stack:
        idp = stack.enter_context(SandboxServer(workdir / "idp.sqlite3"))
        config = workdir / "chartgate.toml"
        config.write_text(
            f'database_url = "{database_url}"\n'
            f'key_file = "{workdir / "kek.key"}"\n\n'
            "[[tenants]]\n"
            f'id = "{TENANT}"\n'
            f'issuers = ["{idp.issuer}"]\n'
            "[tenants.ehr]\n"
            f'base_url = "{ehr_base}"\n'
            'vendor = "sandbox"\n'
            "rate_limit_per_second = 10000\n"
            "rate_limit_burst = 10000\n"
        )
        env = {**os.environ, "CHARTGATE_CONFIG": str(config), "CHARTGATE_LOG_LEVEL": "WARNING"}
        subprocess.run([str(CHARTGATE), "db", "upgrade"], env=env, check=True, cwd=workdir)
        ports = [free_port() for _ in range(serves)]
        processes = [
            subprocess.Popen(
                [str(CHARTGATE), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=workdir,
            )
            for port in ports
        ]
        running = Deployment(
            idp, [f"http://127.0.0.1:{p}" for p in ports], processes, env, database_url
        )
        stack.callback(_stop, running)
        for port, process in zip(ports, processes, strict=True):
            wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        yield running


def _stop(running: Deployment) -> None:
    stop_processes([*running.serves, *([running.worker] if running.worker else [])])


def _pool_of_drafts(system: Deployment, n: int) -> list[str]:
    """Submit ``n`` drafts over HTTP (8 at a time); their ids."""
    scribe = system.headers("scribe")
    body = submission()

    def one(_: int) -> str:
        with httpx.Client(base_url=system.base(), timeout=30) as client:
            answer = client.post("/v1/drafts", json=body, headers=scribe)
            answer.raise_for_status()
            return str(answer.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def _closed_loop(
    clients: int, seconds: float, bases: list[str], call: Callable[[httpx.Client], bool]
) -> float:
    """``clients`` threads calling ``call`` back to back for ``seconds``; successes per second."""
    done = [0] * clients
    failed: list[BaseException] = []
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        try:
            with httpx.Client(base_url=bases[index % len(bases)], timeout=30) as client:
                while time.monotonic() < stop and call(client):
                    done[index] += 1
        except Exception as error:  # noqa: BLE001 - re-raised below, in the caller's thread
            failed.append(error)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return sum(done) / (time.monotonic() - started)


def approvals_per_second(system: Deployment, clients: int) -> float:
    """Approvals/s over HTTP from ``clients`` clients, drafts submitted beforehand."""
    pool: queue.SimpleQueue[str] = queue.SimpleQueue()
    for draft_id in _pool_of_drafts(system, max(60, int(250 * LEVEL_S / 4) + 8 * clients)):
        pool.put(draft_id)
    clin = {**system.headers("clinician"), "If-Match": 'W/"1"'}

    def approve(client: httpx.Client) -> bool:
        try:
            draft_id = pool.get_nowait()
        except queue.Empty:
            return False
        answer = client.post(f"/v1/drafts/{draft_id}/approve", headers=clin)
        if answer.status_code not in (200, 202):
            msg = f"approve answered {answer.status_code}: {answer.text[:200]}"
            raise RuntimeError(msg)
        return True

    return _closed_loop(clients, LEVEL_S, system.bases, approve)


def plain_per_second(database_url: str, workdir: Path, processes: int, clients: int) -> float:
    """The baseline: the same clients against ``bench/plain_app.py`` on the same store."""
    env = {**os.environ, "PLAIN_DB_URL": database_url}
    plain_app.create(database_url)
    ports = [free_port() for _ in range(processes)]
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "plain_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--app-dir",
                str(PLAIN_APP.parent),
            ],
            env=env,
            cwd=workdir,
        )
        for port in ports
    ]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_healthy(f"http://127.0.0.1:{port}/healthz", server)
        counter = iter(range(10**9))

        def approve(client: httpx.Client) -> bool:
            answer = client.post(f"/approve/{next(counter)}")
            return answer.status_code == 200

        return _closed_loop(clients, LEVEL_S, [f"http://127.0.0.1:{p}" for p in ports], approve)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def _latencies(database_url: str, since: datetime) -> tuple[list[float], int, int]:
    """approve -> committed seconds of write-backs approved since ``since``; (all, n, done)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(approvals.c.approved_at, writebacks.c.state, writebacks.c.updated_at)
                .join(writebacks, writebacks.c.id == approvals.c.writeback_id)
                .where(approvals.c.approved_at >= since)
            ).all()
    finally:
        engine.dispose()
    done = [(r.updated_at - r.approved_at).total_seconds() for r in rows if r.state == "committed"]
    return done, len(rows), len(done)


def _committed_between(database_url: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(approved, committed) inside [start, end) by the server's clock."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            approved = conn.execute(
                select(approvals.c.id).where(approvals.c.approved_at.between(start, end))
            ).all()
            committed = conn.execute(
                select(writebacks.c.id).where(
                    writebacks.c.state == "committed", writebacks.c.updated_at.between(start, end)
                )
            ).all()
    finally:
        engine.dispose()
    return len(approved), len(committed)


def _in_flight(database_url: str) -> int:
    """Write-backs not yet in a final state (queued, sending or ambiguous)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    select(writebacks.c.id).where(
                        writebacks.c.state.in_(("queued", "sending", "ambiguous"))
                    )
                ).all()
            )
    finally:
        engine.dispose()


def drain_backlog(system: Deployment) -> dict[str, float]:
    """Start the worker and wait until the approvals of the closed loops are written back.

    The closed loops above approve several hundred notes with no worker running; the open
    loop below measures approve -> committed from an idle queue, so this backlog must be gone
    first (before 2026-12-03 it was not: the open loop's notes queued behind it and its p99
    was the backlog's drain time). The drain itself is the production ``chartgate worker``'s
    rate over notes approved through the API.
    """
    backlog = _in_flight(system.database_url)
    started = time.monotonic()
    system.start_worker()
    deadline = started + 600
    left = backlog
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _in_flight(system.database_url)
    if left:
        msg = f"the worker left {left} of {backlog} write-backs undone after 600 s"
        raise RuntimeError(msg)
    return {"backlog": float(backlog), "per_second": backlog / (time.monotonic() - started)}


def open_loop(system: Deployment) -> dict[str, float]:
    """50 approvals/s for ``OPEN_S`` s, worker running, queue idle; approve -> committed."""
    n = int(OPEN_RATE * OPEN_S)
    drafts = _pool_of_drafts(system, n)
    clin = {**system.headers("clinician"), "If-Match": 'W/"1"'}
    since = _server_now()
    started = time.monotonic()

    def approve(index: int) -> None:
        time.sleep(max(0.0, started + index / OPEN_RATE - time.monotonic()))
        with httpx.Client(base_url=system.base(), timeout=30) as client:
            client.post(f"/v1/drafts/{drafts[index]}/approve", headers=clin).raise_for_status()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(approve, range(n)))
    sent_rate = n / (time.monotonic() - started)  # below 50/s when approving is slower
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seconds, total, done = _latencies(system.database_url, since)
        if done == total:
            break
        time.sleep(0.5)
    seconds.sort()
    return {
        "p50_ms": statistics.median(seconds) * 1000,
        "p99_ms": seconds[max(0, int(len(seconds) * 0.99) - 1)] * 1000,
        "undone": float(total - done),
        "rate": sent_rate,
    }


def mixed(system: Deployment) -> dict[str, float]:
    """8 clients submit + approve in a loop with the worker running; committed vs approved."""
    scribe = system.headers("scribe")
    clin = {**system.headers("clinician"), "If-Match": 'W/"1"'}
    body = submission()

    def submit_and_approve(client: httpx.Client) -> bool:
        created = client.post("/v1/drafts", json=body, headers=scribe)
        created.raise_for_status()
        client.post(f"/v1/drafts/{created.json()['id']}/approve", headers=clin).raise_for_status()
        return True

    start = _server_now()
    _closed_loop(MIXED_CLIENTS, MIXED_S, system.bases, submit_and_approve)
    end = _server_now()
    approved, committed = _committed_between(system.database_url, start, end)
    return {
        "approved_per_s": approved / MIXED_S,
        "committed_per_s": committed / MIXED_S,
        "share": committed / approved if approved else 0.0,
    }


def _server_now() -> datetime:
    """Now on the servers' clock (the same host, UTC)."""
    return datetime.now(UTC)


def measure(store: str, workdir: Path) -> dict[str, float]:
    """Every load figure for one store (SQLite: one serve; PostgreSQL: two)."""
    serves = 1 if store == "sqlite" else 2
    found: dict[str, float] = {}
    with ExitStack() as stack, StubEhr() as ehr:
        if store == "sqlite":
            url = f"sqlite:///{workdir / 'load.sqlite3'}"
            plain_url = f"sqlite:///{workdir / 'plain.sqlite3'}"
        else:
            url = stack.enter_context(postgres_url())
            plain_url = stack.enter_context(postgres_url())
        with deployed(url, workdir, ehr.base_url, serves) as system:
            for clients in CLIENTS:
                found[f"approve_{clients}"] = approvals_per_second(system, clients)
            found.update({f"drain_{k}": v for k, v in drain_backlog(system).items()})
            found.update({f"open_{k}": v for k, v in open_loop(system).items()})
            found.update({f"mixed_{k}": v for k, v in mixed(system).items()})
            for name, mb in system.peak_rss_mb().items():
                found[f"rss_{name.rstrip('0123456789')}"] = max(
                    mb, found.get(f"rss_{name.rstrip('0123456789')}", 0.0)
                )
        for clients in CLIENTS:
            found[f"plain_{clients}"] = plain_per_second(plain_url, workdir, serves, clients)
    return found


def main() -> None:
    """Print every load figure on both stores."""
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("sqlite", "postgresql"):
            work = Path(tmp) / store
            work.mkdir()
            for key, value in measure(store, work).items():
                print(f"{store:<11} {key:<22} {value:10.2f}")


if __name__ == "__main__":
    main()
