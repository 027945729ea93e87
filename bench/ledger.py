"""Ledger benchmarks: appends/s on SQLite and PostgreSQL, and verifying a 1,000,000-event log.

Every figure is printed beside a baseline measured in the same run on the same machine:

* appends: one sealed event per transaction through ``SqlLedger.append`` (what every
  handler does inside its own transaction), beside a plain INSERT of the same bytes into
  an unindexed scratch table in one transaction each (the store's own floor), and the raw
  ``hashlib.sha256`` time over the same event bytes. On PostgreSQL also 4 threads, each
  appending to its own tenant (per-tenant head rows) and all to one tenant (one head row).
* verify: ``python -m chartgate.ledger.verify``'s code path (``verify_files``) over an
  exported log of N synthetic events with a signed checkpoint every 1,000, in the binary
  format (``chartgate.ledger.binlog``) and in JSON lines, beside ``hashlib.sha256`` over
  the same canonical bytes.

Run alone with ``.venv/bin/python bench/ledger.py`` (``CHARTGATE_BENCH_LEDGER_N`` sets the
log size, default 1,000,000; ``CHARTGATE_BENCH_APPENDS`` the appends per store, 2,000).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.ledger import SqlLedgerUnit
from chartgate.adapters.storage.migrate import upgrade
from chartgate.domain.events import AuditRecord, EventType
from chartgate.ledger import binlog
from chartgate.ledger.checkpoint import Checkpoint, CheckpointSigner, NoteVerifier
from chartgate.ledger.merkle import CompactRange, leaf_hash
from chartgate.ledger.seal import seal
from chartgate.ledger.verify import verify_files

VERIFY_N = int(os.environ.get("CHARTGATE_BENCH_LEDGER_N", "1000000"))
APPENDS = int(os.environ.get("CHARTGATE_BENCH_APPENDS", "2000"))
PG_ADMIN = os.environ.get(
    "CHARTGATE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CHECKPOINT_EVERY = 1000


def record(tenant: str, i: int) -> AuditRecord:
    """A realistic event: a clinician viewing a draft, with a pseudonymised patient."""
    return AuditRecord(
        type=EventType.DRAFT_VIEWED,
        tenant=tenant,
        at=datetime.now(UTC),
        correlation_id=str(uuid.UUID(int=i)),
        actor="clinician:bench-clinician",
        request_id=f"req-{i}",
        draft_id=str(uuid.UUID(int=i + 1)),
        patient="hmac-sha256:" + hashlib.sha256(str(i % 97).encode()).hexdigest(),
        data={"state": "in_review", "versions": 2},
    )


def appends_per_second(url: str, n: int) -> tuple[float, float, float]:
    """(ledger appends/s, plain inserts/s, sha256 µs per event) on one store."""
    engine = make_engine(url)
    upgrade(engine)
    try:
        for i in range(20):  # warm up
            with SqlLedgerUnit(engine) as unit:
                unit.ledger.append(record("warm", i))
        started = time.perf_counter()
        for i in range(n):
            with SqlLedgerUnit(engine) as unit:
                unit.ledger.append(record("bench", i))
        ledger_rate = n / (time.perf_counter() - started)

        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE bench_plain (k INTEGER PRIMARY KEY, b BYTEA)"
                    if engine.dialect.name == "postgresql"
                    else "CREATE TABLE bench_plain (k INTEGER PRIMARY KEY, b BLOB)"
                )
            )
        data = [
            seal(record("bench", i).as_dict(), tenant="bench", seq=i).canonical for i in range(n)
        ]
        started = time.perf_counter()
        for i, payload in enumerate(data):
            with SqlLedgerUnit(engine) as unit:  # same transaction machinery, no ledger work
                unit.ledger._conn.execute(  # noqa: SLF001 - the bench's own scratch table
                    text("INSERT INTO bench_plain (k, b) VALUES (:k, :b)"), {"k": i, "b": payload}
                )
        plain_rate = n / (time.perf_counter() - started)
        started = time.perf_counter()
        for payload in data:
            hashlib.sha256(b"\x00" + payload).digest()
        sha_us = (time.perf_counter() - started) / n * 1e6
        return ledger_rate, plain_rate, sha_us
    finally:
        engine.dispose()


def concurrent_pg(url: str, threads: int, per_thread: int) -> tuple[float, float]:
    """PostgreSQL appends/s with ``threads`` clients: own tenant each vs all one tenant."""
    engine = make_engine(url)
    try:
        rates = []
        for shared in (False, True):

            def work(k: int, shared: bool = shared) -> None:
                tenant = "shared" if shared else f"tenant-{k}"
                for i in range(per_thread):
                    with SqlLedgerUnit(engine) as unit:
                        unit.ledger.append(record(tenant, i))

            workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
            started = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            rates.append(threads * per_thread / (time.perf_counter() - started))
        return rates[0], rates[1]
    finally:
        engine.dispose()


def synthetic_log(n: int, directory: Path) -> tuple[list[bytes], Path, Path, str]:
    """Write an n-event export and its checkpoints; return (bytes, log, notes, vkey)."""
    key = Ed25519PrivateKey.generate()
    signer = CheckpointSigner("bench.example", key)
    origin = "bench.example/bench"
    datas: list[bytes] = []
    tree = CompactRange()
    notes: list[str] = []
    log_path, notes_path = directory / "bench.jsonl", directory / "bench.checkpoints"
    snapshot = CompactRange()
    tail = CompactRange()
    from chartgate.ledger.merkle import consistency_proof_between  # noqa: PLC0415

    with log_path.open("w", encoding="utf-8") as log:
        for seq in range(n):
            # Canonical JCS by construction: sorted keys, no spaces, ASCII strings, integers.
            data = (
                '{"actor":"clinician:bench-clinician","at":"2026-11-25T10:00:00.000000Z",'
                f'"correlation_id":"{uuid.UUID(int=seq // 12)}","data":{{"state":"in_review",'
                f'"versions":{seq % 5}}},"draft_id":"{uuid.UUID(int=seq // 12 + 1)}",'
                f'"patient":"hmac-sha256:{seq % 9973:064x}","request_id":"req-{seq}",'
                f'"seq":{seq},"tenant":"bench","type":"draft.viewed","v":1,"writeback_id":null}}'
            ).encode()
            digest = leaf_hash(data)
            datas.append(data)
            tree.append(digest)
            tail.append(digest)
            log.write(
                json.dumps(
                    {
                        "seq": seq,
                        "canonical": base64.b64encode(data).decode(),
                        "leaf_hash": digest.hex(),
                    },
                    separators=(",", ":"),
                )
                + "\n"
            )
            if (seq + 1) % CHECKPOINT_EVERY == 0 or seq + 1 == n:
                proof = consistency_proof_between(snapshot, tail) if snapshot.size else []
                notes.append(signer.sign(Checkpoint(origin, seq + 1, tree.root()), proof))
                snapshot, tail = tree.copy(), CompactRange(begin=seq + 1)
    notes_path.write_text("\n".join(notes), encoding="utf-8")
    vkey = NoteVerifier.from_key("bench.example", key.public_key()).vkey
    return datas, log_path, notes_path, vkey


def bench_verify(n: int) -> tuple[float, float, int, float]:
    """(binary verify s, raw sha256 s over the same bytes, checkpoints, JSON-lines verify s)."""
    with tempfile.TemporaryDirectory(prefix="chartgate-bench-ledger-") as tmp:
        datas, log_path, notes_path, vkey = synthetic_log(n, Path(tmp))
        binary_path = Path(tmp) / "bench.cglog"
        with binary_path.open("wb") as handle:
            binlog.write(((i, d, leaf_hash(d)) for i, d in enumerate(datas)), handle)
        timings = []
        for path in (binary_path, log_path):
            started = time.perf_counter()
            report = verify_files(path, notes_path, vkey, origin="bench.example/bench")
            timings.append(time.perf_counter() - started)
            assert report.ok, report.describe()
        started = time.perf_counter()
        for data in datas:
            hashlib.sha256(b"\x00" + data).digest()
        sha_s = time.perf_counter() - started
        return timings[0], sha_s, report.checkpoints, timings[1]


def main() -> None:
    """Print the ledger figures."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("sqlite", *appends_per_second(f"sqlite:///{tmp}/ledger.sqlite3", APPENDS)))
    name = f"chartgate_bench_ledger_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    concurrency = None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        rows.append(("postgresql", *appends_per_second(url, APPENDS)))
        concurrency = concurrent_pg(url, 4, APPENDS // 4)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"\nledger appends: {APPENDS} events, one per transaction (as in every handler)")
    print(
        f"{'store':<11} {'ledger append/s':>16} {'plain INSERT/s':>15} {'ratio':>6} "
        f"{'sha256 µs/event':>16}"
    )
    for store, ledger_rate, plain_rate, sha_us in rows:
        print(
            f"{store:<11} {ledger_rate:>16.0f} {plain_rate:>15.0f} "
            f"{plain_rate / ledger_rate:>5.2f}x {sha_us:>16.2f}"
        )
    if concurrency:
        own, shared = concurrency
        print(
            f"postgresql, 4 threads: {own:.0f} appends/s to 4 tenants (own head rows), "
            f"{shared:.0f} appends/s to one tenant (one head row): {own / shared:.2f}x"
        )
    verify_s, sha_s, checkpoints, jsonl_s = bench_verify(VERIFY_N)
    print(
        f"\nverify a {VERIFY_N:,}-event export with {checkpoints:,} signed checkpoints "
        "(python -m chartgate.ledger.verify)"
    )
    print(
        f"  binary {verify_s:.2f} s ({VERIFY_N / verify_s:,.0f} events/s), JSON lines "
        f"{jsonl_s:.2f} s; raw sha256 over the same bytes {sha_s:.2f} s; ratios "
        f"{verify_s / sha_s:.1f}x / {jsonl_s / sha_s:.1f}x"
    )


if __name__ == "__main__":
    main()
