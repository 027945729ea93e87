"""Tampering with the ledger in the store is caught by ``chartgate audit verify``.

Each test builds a real ledger (SQLite file and PostgreSQL database), then acts as an
attacker with database access: it bypasses the append-only triggers (dropping them on
SQLite, ``session_replication_role = replica`` on PostgreSQL) and changes the store. The
real CLI (Typer's runner over ``chartgate.cli.main.app``, settings from the environment)
must exit 1 and name the fault and the first bad entry.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from typer.testing import CliRunner

from chartgate.adapters.anchors import FileAnchor
from chartgate.adapters.processors import gate as processor_gate
from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.migrate import upgrade
from chartgate.adapters.system import SystemClock
from chartgate.adapters.tsa import CheckpointStamper, HttpTimestamper, SqlTimestamps
from chartgate.bootstrap.ledger import open_ledger
from chartgate.cli.main import app as cli
from chartgate.domain.errors import LedgerDamaged
from chartgate.domain.events import AuditRecord, EventType
from chartgate.ledger.checkpoint import Checkpoint, sign_checkpoint
from chartgate.ledger.merkle import CompactRange, leaf_hash
from chartgate.ledger.seal import seal
from chartgate.service.audit import range_to_bytes
from chartgate.service.checkpoints import Checkpointer
from chartgate.settings import ProcessorSettings, Settings
from databases import PG_ADMIN_URL, create_database, drop_database

TENANT = "clinic-a"
OTHER = "clinic-b"


class Log:
    """A small two-tenant ledger: clinic-a has 12 entries, checkpoints at 5 and 10."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.env = {
            "CHARTGATE_DATABASE_URL": database_url,
            "CHARTGATE_KEY_FILE": str(workdir / "kek.key"),
        }
        self.settings = Settings(database_url=database_url, key_file=self.env["CHARTGATE_KEY_FILE"])
        self.ledger, self.engine = open_ledger(self.settings)
        upgrade(self.engine)
        self.sqlite = self.engine.dialect.name == "sqlite"

    def append(self, tenant: str, n: int) -> None:
        for i in range(n):
            self.ledger.audit.record(
                AuditRecord(
                    type=EventType.DRAFT_VIEWED,
                    tenant=tenant,
                    at=datetime.now(UTC),
                    correlation_id=f"corr-{i % 3}",
                    actor="clinician:dr-synthetic",
                    data={"state": "in_review", "versions": i},
                )
            )

    def checkpoint(self, tenant: str) -> None:
        assert self.ledger.checkpointer.checkpoint(tenant) is not None

    def verify(self, *args: str) -> tuple[int, dict[str, Any]]:
        """Run ``chartgate audit verify --json`` and return (exit code, parsed report)."""
        result = CliRunner().invoke(cli, ["audit", "verify", "--json", *args], env=self.env)
        return result.exit_code, json.loads(result.stdout)

    def failure(self, *args: str) -> dict[str, Any]:
        code, report = self.verify(*args)
        assert code == 1, report
        failed = [r["failure"] for r in report["tenants"] if r["failure"]]
        return failed[0]

    @contextmanager
    def attacker(self) -> Iterator[Connection]:
        """A connection that bypasses the append-only triggers, as a DBA-level attacker."""
        with self.engine.begin() as conn:
            if self.sqlite:
                for table in ("audit_events", "ledger_checkpoints"):
                    for verb in ("update", "delete"):
                        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
            else:
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn

    def row(self, conn: Connection, tenant: str, seq: int) -> dict[str, Any]:
        c = t.audit_events.c
        found = conn.execute(
            select(t.audit_events).where(c.tenant == tenant, c.seq == seq)
        ).mappings()
        return dict(found.one())

    def close(self) -> None:
        self.engine.dispose()


class SeededLogs:
    """The seeded log built once per module and store; each test gets a copy of its own.

    A copy is the database (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
    PostgreSQL) plus the directory beside it (the KEK and the ledger's anchor files), so it
    is the same store a fresh seeding gives, minus 15 appends and 3 signed checkpoints a
    test. Every test tampers with its copy only; the seed itself is never handed out.
    """

    def __init__(self, factory: pytest.TempPathFactory, sqlite_template: Path) -> None:
        self._factory = factory
        self._sqlite_template = sqlite_template
        self._seeds: dict[str, tuple[str, Path]] = {}  # store -> (database or file, workdir)
        self._databases: list[str] = []

    def copy(self, store: str, workdir: Path, postgres_template: str | None = None) -> Log:
        """A fresh copy of the seeded log on ``store`` in ``workdir``."""
        if store not in self._seeds:
            self._seeds[store] = self._seed(store, postgres_template)
        seed, seed_dir = self._seeds[store]
        shutil.copytree(seed_dir, workdir, dirs_exist_ok=True)
        if store == "sqlite":
            shutil.copyfile(seed, workdir / "chartgate.sqlite3")
            return Log(f"sqlite:///{workdir / 'chartgate.sqlite3'}", workdir)
        name = f"chartgate_test_{uuid.uuid4().hex[:12]}"
        self._databases.append(name)
        return Log(create_database(PG_ADMIN_URL, name, template=seed), workdir)

    def _seed(self, store: str, postgres_template: str | None) -> tuple[str, Path]:
        seed_dir = self._factory.mktemp(f"seeded-log-{store}")
        if store == "sqlite":
            path = self._factory.mktemp("seeded-db") / "chartgate.sqlite3"
            shutil.copyfile(self._sqlite_template, path)
            url, seed = f"sqlite:///{path}", str(path)
        else:
            seed = f"chartgate_seed_{uuid.uuid4().hex[:12]}"
            self._databases.append(seed)
            url = create_database(PG_ADMIN_URL, seed, template=postgres_template)
        for _ in _seeded_log(url, seed_dir):  # seeds, then closes its connections
            pass
        return seed, seed_dir

    def drop_databases(self) -> None:
        """Drop every PostgreSQL database made (copies first, the seed last)."""
        for name in reversed(self._databases):
            drop_database(PG_ADMIN_URL, name)


@pytest.fixture(scope="module")
def seeded_logs(
    tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path
) -> Iterator[SeededLogs]:
    """The module's seeded logs (made on first use per store)."""
    logs = SeededLogs(tmp_path_factory, _migrated_sqlite_template)
    try:
        yield logs
    finally:
        logs.drop_databases()


@pytest.fixture(params=["sqlite", "postgresql"])
def log(request: pytest.FixtureRequest, seeded_logs: SeededLogs, tmp_path: Path) -> Iterator[Log]:
    """The tampered-with log, on SQLite and on PostgreSQL: a copy of the module's seed."""
    template = (
        None
        if request.param == "sqlite"
        else request.getfixturevalue("_migrated_postgres_template")
    )
    copied = seeded_logs.copy(request.param, tmp_path / "log", template)
    try:
        yield copied
    finally:
        copied.close()


@pytest.fixture
def fresh_log(migrated_database_url: str, tmp_path: Path) -> Iterator[Log]:
    """The log seeded by the test itself (for a test that needs its checkpoints just cut)."""
    yield from _seeded_log(migrated_database_url, tmp_path)


@pytest.fixture
def pg_log(
    seeded_logs: SeededLogs, _migrated_postgres_template: str, tmp_path: Path
) -> Iterator[Log]:
    """The same log on PostgreSQL only (TRUNCATE and roles exist only there)."""
    copied = seeded_logs.copy("postgresql", tmp_path / "log", _migrated_postgres_template)
    try:
        yield copied
    finally:
        copied.close()


def _seeded_log(database_url: str, tmp_path: Path) -> Iterator[Log]:
    built = Log(database_url, tmp_path)
    built.append(TENANT, 5)
    built.checkpoint(TENANT)
    built.append(TENANT, 5)
    built.checkpoint(TENANT)
    built.append(TENANT, 2)
    built.append(OTHER, 3)
    built.checkpoint(OTHER)
    try:
        yield built
    finally:
        built.close()


def _events(engine: Engine, tenant: str) -> int:
    with engine.connect() as conn:
        return len(
            conn.execute(
                select(t.audit_events.c.seq).where(t.audit_events.c.tenant == tenant)
            ).all()
        )


def test_an_untouched_ledger_verifies(log: Log) -> None:
    """Both tenants verify; clinic-a through its checkpoint of 10, with 2 entries unsigned."""
    code, report = log.verify()
    assert code == 0, report
    by_tenant = {r["tenant"]: r for r in report["tenants"]}
    assert by_tenant[TENANT]["verified_size"] == 10
    assert by_tenant[TENANT]["unsigned_tail"] == 2
    assert by_tenant[TENANT]["anchored_size"] == 10
    assert by_tenant[OTHER]["ok"]


def test_the_verify_read_is_itself_a_ledger_event(log: Log) -> None:
    """Running verify appends an audit.read event to each verified tenant's log."""
    before = _events(log.engine, TENANT)
    log.verify("--tenant", TENANT)
    assert _events(log.engine, TENANT) == before + 1


def test_one_changed_byte_names_the_altered_entry(log: Log) -> None:
    """Flipping one byte of a stored event is a leaf-hash mismatch at that seq."""
    with log.attacker() as conn:
        row = log.row(conn, TENANT, 7)
        altered = bytearray(row["canonical"])
        altered[20] ^= 0x01
        conn.execute(
            update(t.audit_events)
            .where(t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 7)
            .values(canonical=bytes(altered))
        )
    failure = log.failure()
    assert failure["reason"] == "leaf_hash_mismatch"
    assert failure["seq"] == 7


def test_a_changed_event_with_a_recomputed_hash_breaks_the_signed_root(log: Log) -> None:
    """An attacker who also rewrites the leaf hash is caught by the checkpoint's root."""
    with log.attacker() as conn:
        row = log.row(conn, TENANT, 3)
        event = json.loads(row["canonical"])
        event["actor"] = "clinician:someone-else"
        event["data"]["versions"] = 99
        forged = seal(event, tenant=TENANT, seq=3)
        conn.execute(
            update(t.audit_events)
            .where(t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 3)
            .values(
                canonical=forged.canonical,
                leaf_hash=forged.leaf_hash,
                actor=event["actor"],
                event=json.loads(forged.canonical),  # every copy rewritten consistently
            )
        )
    failure = log.failure("--tenant", TENANT)
    assert failure["reason"] == "root_mismatch"
    assert failure["seq"] == 0
    assert failure["last_seq"] == 4  # the altered entry lies in what checkpoint #0 covers


def test_a_deleted_row_is_a_sequence_gap(log: Log) -> None:
    """Deleting one event leaves a gap the verifier names."""
    with log.attacker() as conn:
        conn.execute(
            delete(t.audit_events).where(
                t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 6
            )
        )
    failure = log.failure()
    assert failure["reason"] == "sequence_gap"
    assert failure["seq"] == 6


def test_two_swapped_rows_are_caught_as_reordered(log: Log) -> None:
    """Swapping the contents of seq 2 and 3 puts an event in a row of another seq."""
    columns = ("canonical", "leaf_hash", "type", "correlation_id", "actor", "event", "at")
    with log.attacker() as conn:
        two, three = log.row(conn, TENANT, 2), log.row(conn, TENANT, 3)
        c = t.audit_events.c
        for seq, source in ((2, three), (3, two)):
            conn.execute(
                update(t.audit_events)
                .where(c.tenant == TENANT, c.seq == seq)
                .values({name: source[name] for name in columns})
            )
    failure = log.failure()
    assert failure["reason"] == "seq_mismatch"
    assert failure["seq"] == 2


def test_a_truncated_checkpointed_tail_is_caught(log: Log) -> None:
    """Deleting entries a checkpoint covers: the checkpoint reaches beyond the log."""
    with log.attacker() as conn:
        conn.execute(
            delete(t.audit_events).where(
                t.audit_events.c.tenant == TENANT, t.audit_events.c.seq >= 8
            )
        )
    failure = log.failure()
    assert failure["reason"] == "checkpoint_beyond_log"
    assert failure["seq"] == 8


def test_a_truncated_unsigned_tail_is_caught_by_the_head(log: Log) -> None:
    """Deleting entries newer than every checkpoint: the head still counts them."""
    with log.attacker() as conn:
        conn.execute(
            delete(t.audit_events).where(
                t.audit_events.c.tenant == TENANT, t.audit_events.c.seq >= 10
            )
        )
    failure = log.failure()
    assert failure["reason"] == "head_mismatch"
    assert failure["seq"] == 10
    assert "truncated" in failure["message"]


def test_a_forged_row_past_the_head_is_caught(log: Log) -> None:
    """A well-formed, correctly hashed event inserted behind chartgate's back is named."""
    with log.attacker() as conn:
        at = datetime.now(UTC).replace(microsecond=0)
        event = {
            "type": "draft.approved",
            "at": at.isoformat().replace("+00:00", "Z"),
            "actor": "clinician:forger",
            "correlation_id": "x",
        }
        forged = seal(event, tenant=TENANT, seq=12)
        conn.execute(
            insert(t.audit_events).values(
                tenant=TENANT,
                seq=12,
                type="draft.approved",
                at=at,
                correlation_id="x",
                actor="clinician:forger",
                event=json.loads(forged.canonical),
                canonical=forged.canonical,
                leaf_hash=forged.leaf_hash,
            )
        )
    failure = log.failure()
    assert failure["reason"] == "head_mismatch"
    assert failure["seq"] == 12
    assert "forged" in failure["message"]


def test_a_resigned_checkpoint_with_a_forked_root_is_caught(log: Log) -> None:
    """Even signed with the real key, a checkpoint whose root is not the log's is refused."""
    forked_root = leaf_hash(b"a different history")
    note = sign_checkpoint(
        Checkpoint(origin=log.ledger.audit.origin(TENANT), size=5, root=forked_root),
        log.ledger.key.name,
        log.ledger.key.private_key,
    )
    with log.attacker() as conn:
        c = t.ledger_checkpoints.c
        conn.execute(
            update(t.ledger_checkpoints)
            .where(c.tenant == TENANT, c.size == 5)
            .values(root=forked_root, note=note)
        )
    failure = log.failure()
    assert failure["reason"] == "root_mismatch"
    assert failure["checkpoint"] == 0


def test_an_old_checkpoint_replayed_in_a_newer_row_is_caught(log: Log) -> None:
    """The newest checkpoint row given the older (validly signed) note is named."""
    with log.attacker() as conn:
        c = t.ledger_checkpoints.c
        old = conn.execute(select(c.note).where(c.tenant == TENANT, c.size == 5)).scalar_one()
        conn.execute(
            update(t.ledger_checkpoints).where(c.tenant == TENANT, c.size == 10).values(note=old)
        )
    failure = log.failure()
    assert failure["reason"] == "checkpoint_row_mismatch"
    assert failure["checkpoint"] == 1


def test_a_rollback_to_an_old_checkpoint_is_caught_by_the_anchor(log: Log) -> None:
    """Restoring an older, self-consistent state (log, head, checkpoints) fails the anchor."""
    old_range = None
    with log.attacker() as conn:
        c = t.ledger_checkpoints.c
        old_range = conn.execute(
            select(c.compact_range).where(c.tenant == TENANT, c.size == 5)
        ).scalar_one()
        conn.execute(delete(t.ledger_checkpoints).where(c.tenant == TENANT, c.size > 5))
        conn.execute(
            delete(t.audit_events).where(
                t.audit_events.c.tenant == TENANT, t.audit_events.c.seq >= 5
            )
        )
        conn.execute(
            update(t.ledger_heads)
            .where(t.ledger_heads.c.tenant == TENANT)
            .values(next_seq=5, compact_range=old_range)
        )
    failure = log.failure()
    assert failure["reason"] == "anchor_missing"
    assert "rolled back" in failure["message"]


def test_an_event_moved_to_another_tenant_is_caught_in_both_logs(log: Log) -> None:
    """Moving a clinic-a event into clinic-b leaves a gap in one and a stranger in the other."""
    with log.attacker() as conn:
        c = t.audit_events.c
        conn.execute(
            update(t.audit_events).where(c.tenant == TENANT, c.seq == 4).values(tenant=OTHER, seq=3)
        )
        conn.execute(
            update(t.ledger_heads).where(t.ledger_heads.c.tenant == OTHER).values(next_seq=4)
        )
    failure = log.failure("--tenant", TENANT)
    assert failure["reason"] == "sequence_gap"
    assert failure["seq"] == 4
    failure = log.failure("--tenant", OTHER)
    assert failure["reason"] == "tenant_mismatch"
    assert failure["seq"] == 3


def test_the_installed_command_exits_1_and_names_the_entry(log: Log) -> None:
    """``chartgate audit verify`` as a process: exit 1 and a line naming the altered seq."""
    with log.attacker() as conn:
        row = log.row(conn, TENANT, 9)
        conn.execute(
            update(t.audit_events)
            .where(t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 9)
            .values(canonical=row["canonical"].replace(b"dr-synthetic", b"dr-synthetiC"))
        )
    done = subprocess.run(
        [str(Path(sys.executable).with_name("chartgate")), "audit", "verify", "--tenant", TENANT],
        capture_output=True,
        text=True,
        env={**os.environ, **log.env},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "leaf_hash_mismatch at seq 9" in done.stdout + done.stderr


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'x'",
        "DELETE FROM audit_events",
        "UPDATE ledger_checkpoints SET note = 'x'",
        "DELETE FROM ledger_checkpoints",
    ],
)
def test_the_store_refuses_update_and_delete_on_ledger_tables(log: Log, statement: str) -> None:
    """Without bypassing the triggers, the store itself refuses to change the ledger."""
    with pytest.raises(Exception, match="append-only"), log.engine.begin() as conn:
        conn.execute(text(statement))
    assert _events(log.engine, TENANT) == 12


def test_postgresql_also_refuses_truncate_and_has_an_app_role_without_update(
    pg_log: Log,
) -> None:
    """On PostgreSQL TRUNCATE is refused, and chartgate_app may not UPDATE or DELETE."""
    log = pg_log
    with pytest.raises(Exception, match="append-only"), log.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_events"))
    with log.engine.connect() as conn:
        grants = {
            (table, privilege): conn.execute(
                text("SELECT has_table_privilege('chartgate_app', :t, :p)"),
                {"t": table, "p": privilege},
            ).scalar_one()
            for table in ("audit_events", "ledger_checkpoints")
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
        }
    for (table, privilege), granted in grants.items():
        assert granted == (privilege in ("SELECT", "INSERT")), (table, privilege)


def test_export_verifies_offline_with_only_the_pinned_key(log: Log, tmp_path: Path) -> None:
    """``audit export --format jsonl`` feeds ``python -m chartgate.ledger.verify``."""
    out = tmp_path / "export"
    result = CliRunner().invoke(
        cli, ["audit", "export", "--tenant", TENANT, "--out", str(out)], env=log.env
    )
    assert result.exit_code == 0, result.output
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chartgate.ledger.verify",
            str(out / f"{TENANT}.jsonl"),
            "--checkpoints",
            str(out / f"{TENANT}.checkpoints"),
            "--key",
            str(out / f"{TENANT}.vkey"),
            "--origin",
            log.ledger.audit.origin(TENANT),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verified_size"] == 10
    lines = (out / f"{TENANT}.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert json.loads(base64.b64decode(first["canonical"]))["tenant"] == TENANT


def test_a_binary_export_verifies_offline_and_names_an_altered_entry(
    log: Log, tmp_path: Path
) -> None:
    """``audit export --format binary`` feeds the same verifier; a flipped byte is named."""
    out = tmp_path / "export"
    result = CliRunner().invoke(
        cli,
        ["audit", "export", "--tenant", TENANT, "--out", str(out), "--format", "binary"],
        env=log.env,
    )
    assert result.exit_code == 0, result.output
    path = out / f"{TENANT}.cglog"
    args = [
        str(path),
        "--checkpoints",
        str(out / f"{TENANT}.checkpoints"),
        "--key",
        str(out / f"{TENANT}.vkey"),
        "--origin",
        log.ledger.audit.origin(TENANT),
        "--json",
    ]
    command = [sys.executable, "-m", "chartgate.ledger.verify", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["entries"] == 12
    data = bytearray(path.read_bytes())
    data[-3] ^= 1  # inside the last event's canonical bytes (seq 11)
    path.write_bytes(bytes(data))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    failure = json.loads(done.stdout)["failure"]
    assert (failure["reason"], failure["seq"]) == ("leaf_hash_mismatch", 11)


def test_the_checkpointer_refuses_to_sign_over_an_altered_entry(log: Log) -> None:
    """A new entry altered before it was signed is refused, never checkpointed."""
    with log.attacker() as conn:
        row = log.row(conn, TENANT, 11)
        conn.execute(
            update(t.audit_events)
            .where(t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 11)
            .values(canonical=row["canonical"] + b" ")
        )
    with pytest.raises(LedgerDamaged, match="entry 11"):
        log.ledger.checkpointer.checkpoint(TENANT)
    assert all(cp.tenant != TENANT for cp in log.ledger.checkpointer.tick())  # skipped, logged


def test_the_checkpointer_refuses_a_rewritten_history_even_with_a_matching_head(log: Log) -> None:
    """Rewriting a signed entry and the head to match: the signer finds no consistency."""
    with log.attacker() as conn:
        row = log.row(conn, TENANT, 2)
        event = {**json.loads(row["canonical"]), "actor": "clinician:rewritten"}
        forged = seal(event, tenant=TENANT, seq=2)
        conn.execute(
            update(t.audit_events)
            .where(t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 2)
            .values(canonical=forged.canonical, leaf_hash=forged.leaf_hash)
        )
        hashes = [
            bytes(h)
            for h in conn.execute(
                select(t.audit_events.c.leaf_hash)
                .where(t.audit_events.c.tenant == TENANT)
                .order_by(t.audit_events.c.seq)
            ).scalars()
        ]
        compact = CompactRange()
        compact.extend(hashes)
        conn.execute(
            update(t.ledger_heads)
            .where(t.ledger_heads.c.tenant == TENANT)
            .values(compact_range=range_to_bytes(compact))
        )
    with pytest.raises(LedgerDamaged, match="head disagrees"):
        log.ledger.checkpointer.checkpoint(TENANT)


def test_checkpoints_are_cut_every_n_events_or_after_t_seconds(fresh_log: Log) -> None:
    """With N=3 and T=60 s: nothing due at 2 new events, due at 3, and due again after T.

    Its own seeding: its last checkpoint must be seconds old, not the module seed's age.
    """
    log = fresh_log
    now = [datetime.now(UTC)]

    class Clock:
        def now(self) -> datetime:
            return now[0]

    checkpointer = Checkpointer(
        ledger=log.ledger.unit,
        clock=Clock(),
        key=log.ledger.key,
        origin_prefix=log.settings.ledger_origin,
        every=3,
        interval=timedelta(seconds=60),
    )
    assert [cp.size for cp in checkpointer.tick() if cp.tenant == TENANT] == []  # 2 < 3, fresh
    log.append(TENANT, 1)
    assert [cp.size for cp in checkpointer.tick() if cp.tenant == TENANT] == [13]
    log.append(TENANT, 1)
    assert checkpointer.tick() == []
    now[0] += timedelta(seconds=61)
    assert [cp.size for cp in checkpointer.tick() if cp.tenant == TENANT] == [14]


def test_an_unreachable_tsa_and_a_broken_anchor_cost_only_the_stamp_and_the_copy(
    log: Log, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The checkpoint is signed and stored; no token is kept; both failures are logged.

    The TSA is a registered processor on a loopback port nobody listens on, the anchor a
    directory path that is a file: the next checkpoint, which extends this one, gets both.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tsa"
    settings = Settings(
        dev_mode=True,
        processors=[
            ProcessorSettings(
                id="test-tsa",
                legal_entity="chartgate test TSA",
                role="timestamping",
                purpose="RFC 3161 timestamps of ledger checkpoints",
                endpoints=[url],
            )
        ],
    )
    timestamps = SqlTimestamps(log.engine)
    timestamper = HttpTimestamper(url, processor_gate(settings))
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the anchor directory should be")
    checkpointer = Checkpointer(
        ledger=log.ledger.unit,
        clock=SystemClock(),
        key=log.ledger.key,
        origin_prefix=log.settings.ledger_origin,
        anchor=FileAnchor(blocked / "anchors"),
        stamper=CheckpointStamper(timestamper, timestamps, SystemClock()),
    )
    log.append(TENANT, 1)
    try:
        with caplog.at_level(logging.ERROR, logger="chartgate.service.checkpoints"):
            stored = checkpointer.checkpoint(TENANT)
    finally:
        timestamper.close()
    assert stored is not None
    assert stored.size == 13
    with log.ledger.unit(read_only=True) as unit:
        latest = unit.ledger.latest_checkpoint(TENANT)
    assert latest is not None
    assert latest.size == 13
    assert timestamps.tokens(TENANT) == []
    messages = [r.getMessage() for r in caplog.records]
    assert any("timestamping a ledger checkpoint failed" in m for m in messages)
    assert any("anchoring a ledger checkpoint failed" in m for m in messages)


def test_export_as_fhir_writes_one_audit_event_per_entry(log: Log, tmp_path: Path) -> None:
    """``audit export --format fhir`` hands every entry to the BALP AuditEvent writer."""
    out = tmp_path / "fhir"
    result = CliRunner().invoke(
        cli,
        ["audit", "export", "--tenant", TENANT, "--format", "fhir", "--out", str(out)],
        env=log.env,
    )
    assert result.exit_code == 0, result.output
    lines = (out / f"{TENANT}.auditevents.ndjson").read_text().splitlines()
    assert len(lines) == 12
    assert all(json.loads(line)["resourceType"] == "AuditEvent" for line in lines)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("event", {"type": "draft.viewed", "data": {"state": "approved"}}),
        ("draft_id", "another-draft"),
        ("writeback_id", "another-writeback"),
        ("request_id", "req-forged"),
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_every_stored_column_is_checked_against_the_sealed_bytes(
    log: Log, column: str, value: object
) -> None:
    """Editing only a readable copy (the event JSON, an id, the time) is caught and named."""
    with log.attacker() as conn:
        conn.execute(
            update(t.audit_events)
            .where(t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 3)
            .values({column: value})
        )
    failure = log.failure()
    assert failure["reason"] == "column_mismatch"
    assert failure["seq"] == 3
    assert column in failure["message"]


def test_readers_are_shown_the_sealed_bytes_not_the_json_copy(log: Log) -> None:
    """The audit chain a reader (or the demo) gets comes from what was hashed."""
    with log.attacker() as conn:
        conn.execute(
            update(t.audit_events)
            .where(t.audit_events.c.tenant == TENANT, t.audit_events.c.seq == 4)
            .values(event={"type": "forged"})
        )
    with log.ledger.unit(read_only=True) as unit:
        chain = unit.ledger.by_correlation(TENANT, "corr-1")
    assert all(e["type"] == "draft.viewed" for e in chain)
    assert 4 in [e["seq"] for e in chain]
