"""``make bench``: every target of issue 20 as goal / baseline / chartgate / ratio / verdict.

Each figure is the median of ``CHARTGATE_BENCH_REPEATS`` (3) repeats, each repeat measuring
its baseline in the same run. The table is printed and written to ``docs/performance.md``
with the machine it ran on (CPU count, load average before and after: on a shared machine
the load says how far to trust a row). Rows:

* gateway overhead: one write-back end to end (submit, approve, worker sends
  DocumentReference + Provenance, committed) minus two direct POSTs to the same sandbox EHR
  (``bench/run.py``), p50 and p99, SQLite;
* approve CPU: CPU of the approving thread per in-process approve, SQLite (thread time: the
  in-process sandbox EHR answering the approval's Patient/Encounter reads runs on its own
  threads and is not chartgate's CPU; process time is printed beside it); baseline a plain
  SQLAlchemy transaction on the same store file with the same number of row writes;
* worker drain: write-backs/s of one worker process, 64 in flight, against the zero-cost
  stub and the 300 ms stub (``bench/worker.py``), baseline the stub's own sequential floor;
* transactions per clean write-back (engine events), SQLite and PostgreSQL;
* ledger verify: ``verify_files`` over a 1,000,000-event export (binary, and JSON lines for
  reference) beside raw SHA-256 (``bench/ledger.py``);
* the deployed processes under HTTP load (``bench/load.py``): approvals/s at 1-32 clients
  against the plain web stack, approve -> committed at an open-loop 50/s, committed/s over
  approved/s in a mixed load, peak RSS of ``serve`` and ``worker``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dev_env  # noqa: F401 - dev mode and the loopback processor, before any Settings
import load
import run as latency
import worker
from ledger import bench_verify
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)

from builders import scribe_and_clinician, submission
from chartgate.domain.submission import DraftSubmission
from chartgate.service.context import RequestMeta
from stack import running_stack

REPEATS = int(os.environ.get("CHARTGATE_BENCH_REPEATS", "3"))
VERIFY_N = int(os.environ.get("CHARTGATE_BENCH_LEDGER_N", "1000000"))
APPROVE_N = int(os.environ.get("CHARTGATE_BENCH_APPROVE_N", "200"))
OUT = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
DECISIONS = "## Decisions"  # from this heading on, docs/performance.md is written by hand


@dataclass
class Row:
    """One target: goal text, baseline and chartgate figures, and how to judge them."""

    what: str
    goal: str
    unit: str
    baseline: list[float]
    chartgate: list[float]
    met: Callable[[float, float], bool]
    ratio: Callable[[float, float], float] | None = None

    def cells(self) -> list[str]:
        """The row as table cells (medians of the repeats)."""
        base = statistics.median(self.baseline) if self.baseline else None
        ours = statistics.median(self.chartgate)
        spread = f" ({min(self.chartgate):.1f}-{max(self.chartgate):.1f})"
        ratio = "" if self.ratio is None or base is None else f"{self.ratio(base, ours):.2f}x"
        verdict = "met" if self.met(base or 0.0, ours) else "MISSED"
        if self.goal == "-":
            verdict = "(for reference)"
        return [
            self.what,
            self.goal,
            "-" if base is None else f"{base:.2f} {self.unit}",
            f"{ours:.2f} {self.unit}{spread if len(self.chartgate) > 1 else ''}",
            ratio,
            verdict,
        ]


def approve_cpu_ms(workdir: Path, n: int) -> tuple[float, float, float]:
    """CPU ms per in-process approve: (approving thread, whole process, plain transaction).

    The plain transaction is the baseline: one read and five row writes (the draft update,
    approval, outbox row and two ledger rows) of similar sizes, in one transaction on the
    same SQLite file, through the same SQLAlchemy engine, without any chartgate logic.
    """
    with running_stack(f"sqlite:///{workdir}/a.sqlite3", workdir) as stack:
        scribe, clinician = scribe_and_clinician(stack.tenant)
        body = DraftSubmission.model_validate(submission())
        meta = RequestMeta(request_id="bench")
        ids = [stack.app.drafting.submit_draft(scribe, body, meta).id for _ in range(n + 10)]
        for draft_id in ids[:10]:
            stack.app.approvals.approve(clinician, draft_id, expected_version=1, meta=meta)
        started, thread = time.process_time(), time.thread_time()
        for draft_id in ids[10:]:
            stack.app.approvals.approve(clinician, draft_id, expected_version=1, meta=meta)
        per_thread = (time.thread_time() - thread) / n * 1000
        per_process = (time.process_time() - started) / n * 1000
        return per_thread, per_process, plain_transaction_ms(stack.app.engine, n)


def plain_transaction_ms(engine: Engine, n: int) -> float:
    """Thread CPU ms per plain transaction: one SELECT, one UPDATE and four INSERTs."""
    table = Table(
        "bench_plain",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("state", String(20)),
        Column("blob", LargeBinary),
    )
    table.create(engine, checkfirst=True)
    blob = b"x" * 2048
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 0, "state": "in_review", "blob": blob}])
    started = time.thread_time()
    for i in range(1, n + 1):
        with engine.begin() as conn:
            conn.execute(select(table.c.state).where(table.c.id == 0)).first()
            conn.execute(update(table).where(table.c.id == 0).values(state=f"s{i % 7}"))
            rows = [{"id": i * 4 + k, "state": "row", "blob": blob} for k in range(4)]
            for row in rows:
                conn.execute(insert(table).values(**row))
    return (time.thread_time() - started) / n * 1000


def one_repeat(tmp: Path, index: int) -> dict[str, float]:
    """Every measurement once."""
    found: dict[str, float] = {}
    work = tmp / f"r{index}"
    work.mkdir()
    (work / "lat").mkdir()
    base, ours = latency.bench_store(f"sqlite:///{work}/lat.sqlite3", work / "lat")
    base_sorted, ours_sorted = sorted(base), sorted(ours)
    found["direct_p50"] = statistics.median(base_sorted) * 2000  # two POSTs, ms
    found["direct_p99"] = base_sorted[int(len(base_sorted) * 0.99) - 1] * 2000
    found["wb_p50"] = statistics.median(ours_sorted) * 1000
    found["wb_p99"] = ours_sorted[int(len(ours_sorted) * 0.99) - 1] * 1000
    (work / "cpu").mkdir()
    found["approve_cpu"], found["approve_cpu_process"], found["plain_tx"] = approve_cpu_ms(
        work / "cpu", APPROVE_N
    )
    for latency_s, key, n in ((0.0, "stub", worker.DRAIN_N), (0.3, "slow", worker.SLOW_N)):
        for store in ("sqlite", "postgresql"):
            path = work / f"{key}-{store}"
            path.mkdir()
            if store == "sqlite":
                result = worker.drain(
                    f"sqlite:///{path}/w.sqlite3",
                    path,
                    n=n,
                    latency=latency_s,
                    in_flight=worker.IN_FLIGHT,
                )
            else:
                with worker.postgres_url() as url:
                    result = worker.drain(
                        url, path, n=n, latency=latency_s, in_flight=worker.IN_FLIGHT
                    )
            found[f"{key}_{store}_rate"] = result["per_second"]
            found[f"{key}_{store}_floor"] = result["floor_per_second"]
            found[f"{key}_{store}_tx"] = result["begins"]
    for store in ("sqlite", "postgresql"):
        (work / f"load-{store}").mkdir()
        measured = load.measure(store, work / f"load-{store}")
        found.update({f"load_{store}_{key}": value for key, value in measured.items()})
    verify_s, sha_s, _, jsonl_s = bench_verify(VERIFY_N)
    found["verify_s"], found["sha_s"], found["verify_jsonl_s"] = verify_s, sha_s, jsonl_s
    return found


def rows(repeats: list[dict[str, float]]) -> list[Row]:
    """The table's rows from the repeats."""

    def col(key: str) -> list[float]:
        return [r[key] for r in repeats]

    overhead50 = [r["wb_p50"] - r["direct_p50"] for r in repeats]
    overhead99 = [r["wb_p99"] - r["direct_p99"] for r in repeats]
    table = [
        Row(
            "gateway overhead p50 (SQLite)",
            "<= 5 ms",
            "ms",
            col("direct_p50"),
            overhead50,
            lambda _b, o: o <= 5.0,
        ),
        Row(
            "gateway overhead p99 (SQLite)",
            "<= 20 ms",
            "ms",
            col("direct_p99"),
            overhead99,
            lambda _b, o: o <= 20.0,
        ),
        Row(
            "server CPU per approve (in-process, SQLite, approving thread)",
            "<= 1.5 ms",
            "ms",
            col("plain_tx"),
            col("approve_cpu"),
            lambda _b, o: o <= 1.5,
            lambda b, o: o / b,
        ),
        Row(
            "the same, whole process (incl. the in-process sandbox EHR's answers)",
            "-",
            "ms",
            [],
            col("approve_cpu_process"),
            lambda _b, _o: False,
        ),
    ]
    for store in ("sqlite", "postgresql"):
        table += [
            Row(
                f"worker drain, stub EHR, 64 in flight ({store})",
                ">= 200 wb/s",
                "wb/s",
                col(f"stub_{store}_floor"),
                col(f"stub_{store}_rate"),
                lambda _b, o: o >= 200.0,
                lambda b, o: o / b,
            ),
            Row(
                f"worker drain, 300 ms EHR, 64 in flight ({store})",
                ">= 100 wb/s",
                "wb/s",
                col(f"slow_{store}_floor"),
                col(f"slow_{store}_rate"),
                lambda _b, o: o >= 100.0,
                lambda b, o: o / b,
            ),
            Row(
                f"transactions per clean write-back ({store})",
                "<= 3",
                "tx",
                [],
                col(f"stub_{store}_tx"),
                lambda _b, o: o <= 3.0,
            ),
        ]
    table += load_rows(col)
    table.append(
        Row(
            f"ledger verify, {VERIFY_N:,} events, binary export",
            "<= 5x raw SHA-256",
            "s",
            col("sha_s"),
            col("verify_s"),
            lambda b, o: o <= 5 * b,
            lambda b, o: o / b,
        )
    )
    table.append(
        Row(
            f"ledger verify, {VERIFY_N:,} events, JSON-lines export",
            "-",
            "s",
            col("sha_s"),
            col("verify_jsonl_s"),
            lambda _b, _o: False,
            lambda b, o: o / b,
        )
    )
    return table


def load_rows(col: Callable[[str], list[float]]) -> list[Row]:
    """The rows of ``bench/load.py``: the deployed processes under HTTP load."""
    table: list[Row] = []
    for store, processes, goal in (("sqlite", 1, 600.0), ("postgresql", 2, 1000.0)):
        key = f"load_{store}"
        serve = f"{processes} serve process{'es' if processes > 1 else ''}"
        table += [
            Row(
                f"approvals/s over HTTP, {clients} client{'s' if clients > 1 else ''} "
                f"({store}, {serve})",
                f">= {goal:,.0f}/s",
                "/s",
                col(f"{key}_plain_{clients}"),
                col(f"{key}_approve_{clients}"),
                lambda _b, o, goal=goal: o >= goal,
                lambda b, o: o / b,
            )
            for clients in load.CLIENTS
        ]
        first, last = load.CLIENTS[0], load.CLIENTS[-1]
        table += [
            Row(
                f"approvals/s at {last} clients over 1 client ({store})",
                ">= 1 (not falling)",
                "x",
                [],
                [
                    b / a if a else 0.0
                    for a, b in zip(
                        col(f"{key}_approve_{first}"), col(f"{key}_approve_{last}"), strict=True
                    )
                ],
                lambda _b, o: o >= 1.0,
            ),
            Row(
                f"`chartgate worker` draining the closed loops' approvals, stub EHR ({store})",
                "-",
                "wb/s",
                [],
                col(f"{key}_drain_per_second"),
                lambda _b, _o: False,
            ),
            Row(
                f"approve -> committed p99, open loop {load.OPEN_RATE:.0f}/s from an idle queue, "
                f"stub EHR ({store})",
                "<= 50 ms",
                "ms",
                [],
                col(f"{key}_open_p99_ms"),
                lambda _b, o: o <= 50.0,
            ),
            Row(
                f"the same, p50 ({store})",
                "-",
                "ms",
                [],
                col(f"{key}_open_p50_ms"),
                lambda _b, _o: False,
            ),
            Row(
                f"approvals/s the open-loop clients reached (goal 50/s; {store})",
                "-",
                "/s",
                [],
                col(f"{key}_open_rate"),
                lambda _b, _o: False,
            ),
            Row(
                f"approved/s in the mixed load below ({store})",
                "-",
                "/s",
                [],
                col(f"{key}_mixed_approved_per_s"),
                lambda _b, _o: False,
            ),
            Row(
                f"committed/s over approved/s, {load.MIXED_CLIENTS} clients submit+approve "
                f"with the worker ({store})",
                ">= 0.8",
                "x",
                [],
                col(f"{key}_mixed_share"),
                lambda _b, o: o >= 0.8,
            ),
            Row(
                f"peak RSS of a serve process under this load ({store})",
                "< 200 MB",
                "MB",
                [],
                col(f"{key}_rss_serve"),
                lambda _b, o: o < 200.0,
            ),
            Row(
                f"peak RSS of the worker under this load ({store})",
                "< 200 MB",
                "MB",
                [],
                col(f"{key}_rss_worker"),
                lambda _b, o: o < 200.0,
            ),
        ]
    return table


def render(table: list[Row], started: str, loadavg: tuple[str, str]) -> str:
    """The Markdown page."""
    head = ["target", "goal", "baseline (same run)", "chartgate", "ratio", "verdict"]
    lines = [
        "# Performance (issue 20)",
        "",
        "Written by `make bench` (`bench/table.py`); every figure is the median of "
        f"{REPEATS} repeats (range in brackets), each repeat measuring its own baseline.",
        "",
        f"- run: {started}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        f"- sizes: {latency.N} write-backs for the overhead, {APPROVE_N} approves, backlogs of "
        f"{worker.DRAIN_N} (stub) and {worker.SLOW_N} (300 ms), {VERIFY_N:,} ledger events "
        f"(CHARTGATE_BENCH_N / _APPROVE_N / _DRAIN_N / _SLOW_N / _LEDGER_N); HTTP load "
        f"{load.LEVEL_S:g} s per client count, open loop {load.OPEN_S:g} s, mixed "
        f"{load.MIXED_S:g} s (CHARTGATE_BENCH_LEVEL_S / _OPEN_S / _MIXED_S)",
        f"- load average before / after: {loadavg[0]} / {loadavg[1]} (a shared machine: figures "
        "taken while other work ran are noisy, rates low and latencies high)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in table]
    lines += [
        "",
        "Baselines: gateway overhead — two direct POSTs to the same sandbox EHR (p50/p99 of the "
        "pair); worker drain — sequential direct PUTs to the same stub, per write-back (two "
        "requests), i.e. what one request at a time could reach; ledger verify — "
        "`hashlib.sha256` over the same canonical bytes; approve CPU — a plain SQLAlchemy "
        "transaction (one read, five row writes) on the same store file; approvals/s over "
        "HTTP — the same clients against the same web stack (FastAPI on uvicorn, as many "
        "processes) doing a plain approve transaction on the same store (`bench/plain_app.py`).",
        "",
    ]
    return "\n".join(lines) + _kept()


def _kept() -> str:
    """The page's hand-written part (from ``## Decisions`` on), kept across runs."""
    if not OUT.is_file():
        return ""
    text = OUT.read_text(encoding="utf-8")
    start = text.find(DECISIONS)
    return "" if start < 0 else "\n" + text[start:]


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    """Run the repeats, print the table, write docs/performance.md."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        repeats = [one_repeat(Path(tmp), i) for i in range(REPEATS)]
    page = render(rows(repeats), started, (before, _load()))
    print(page)
    OUT.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    main()
