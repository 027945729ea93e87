"""Benchmarks: chartgate's write-back path as ratios against a baseline from the same run.

The machine is small and noisy, so absolute numbers mean little; what matters is how much
chartgate adds on top of the EHR's own cost. Baseline: N plain FHIR creates straight to the
sandbox EHR over HTTP. Measured: N complete write-backs (submit → approve → worker sends
DocumentReference + Provenance → committed) through the handlers, on SQLite and PostgreSQL.
Run with ``make bench``; prints a table and exits 0 (targets are read by people, not asserted).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dev_env  # noqa: F401 - dev mode and the loopback processor, before any Settings

from builders import scribe_and_clinician, submission
from chartgate.domain.submission import DraftSubmission
from chartgate.service.context import RequestMeta
from stack import running_stack

N = int(os.environ.get("CHARTGATE_BENCH_N", "60"))
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def timed(action: Callable[[], object], n: int) -> list[float]:
    """Run ``action`` n times; return per-call seconds."""
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    """(median ms, p95 ms)."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def bench_store(database_url: str, workdir: Path) -> tuple[list[float], list[float]]:
    """(baseline direct-FHIR samples, chartgate write-back samples) on one store."""
    with running_stack(database_url, workdir) as stack:
        tenant = stack.tenant
        scribe, clinician = scribe_and_clinician(tenant)
        body = DraftSubmission.model_validate(submission())
        executor = stack.app.executor(owner="bench")
        meta = RequestMeta(request_id="bench")

        def writeback() -> None:
            draft = stack.app.drafting.submit_draft(scribe, body, meta)
            stack.app.approvals.approve(clinician, draft.id, expected_version=1, meta=meta)
            executor.run_once()

        doc = {
            "resourceType": "DocumentReference",
            "status": "current",
            "content": [{"attachment": {"contentType": "text/plain", "data": "eA=="}}],
        }
        with httpx.Client(base_url=stack.ehr_base, timeout=10) as ehr:

            def direct() -> None:
                ehr.post(
                    "/DocumentReference",
                    json=doc,
                    headers={"Content-Type": "application/fhir+json"},
                )

            timed(direct, 5)  # warm up both paths
            timed(writeback, 3)
            return timed(direct, N), timed(writeback, N)


def main() -> None:
    """Print the table."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "s").mkdir()
        base, cg = bench_store(f"sqlite:///{tmp}/bench.sqlite3", Path(tmp) / "s")
        rows.append(("sqlite", base, cg))
        name = f"chartgate_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            (Path(tmp) / "p").mkdir()
            base, cg = bench_store(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", Path(tmp) / "p")
            rows.append(("postgresql", base, cg))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"chartgate bench: {N} write-backs per store (2 EHR writes each)")
    print(f"{'store':<11} {'baseline FHIR POST':>20} {'chartgate write-back':>22} {'ratio':>7}")
    for store, base, cg in rows:
        b50, b95 = summary(base)
        c50, c95 = summary(cg)
        print(
            f"{store:<11} {b50:>8.2f} ms (p95 {b95:5.1f}) {c50:>9.2f} ms (p95 {c95:6.1f})"
            f" {c50 / b50:>6.1f}x"
        )


if __name__ == "__main__":
    main()
    from ledger import main as ledger_main  # bench/ledger.py: appends/s, 1M-event verify

    ledger_main()
