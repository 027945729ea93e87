"""Reviewer sessions in the store (ADR 0020), on SQLite and PostgreSQL.

Each "replica" here is its own engine and its own ``SqlSessionStore`` on one database, as two
``serve`` processes behind nginx are: a session, a sign-in, a notice or a sign-out made on one
is seen by the other. What sits in the tables is hashed or encrypted, and the idle and
absolute limits hold as they do in memory (tests/unit/test_reviewer_session.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.keys.local import LocalKeyProvider
from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.reviewer_sessions import MAX_PENDING, SqlSessionStore
from chartgate.domain.reviewer_sessions import (
    LOGIN_SECONDS,
    LaunchContext,
    SessionEnded,
    SessionLimits,
)

LIMITS = SessionLimits(idle=300, absolute=3600)
TOKEN = "eyJ-access-token-of-dr-a"


class Clock:
    """A settable clock shared by the replicas (their hosts agree on the time, via NTP)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engines(migrated_database_url: str) -> Iterator[tuple[Engine, Engine]]:
    one, two = make_engine(migrated_database_url), make_engine(migrated_database_url)
    yield one, two
    one.dispose()
    two.dispose()


@pytest.fixture
def replicas(
    engines: tuple[Engine, Engine], clock: Clock, tmp_path: Path
) -> tuple[SqlSessionStore, SqlSessionStore]:
    kek = tmp_path / "kek"  # the key distributed to every replica (docs/deploy/)
    return tuple(  # type: ignore[return-value]
        SqlSessionStore(
            engine,
            EnvelopeCipher(LocalKeyProvider(kek, create=True), SqlDataKeyStore(engine)),
            LIMITS,
            clock=clock,
        )
        for engine in engines
    )


def sign_in(store: SqlSessionStore, subject: str = "dr-a"):
    return store.create(
        tenant="clinic-a", subject=subject, sid="sid-1", issuer="https://idp", access_token=TOKEN
    )


def test_a_session_made_on_one_replica_is_known_to_the_other(replicas) -> None:
    """Round-robin: the next request lands on the other replica and still has the user."""
    one, two = replicas
    session = sign_in(one)
    seen = two.get(session.id)
    assert (seen.subject, seen.tenant, seen.sid, seen.access_token, seen.csrf) == (
        "dr-a",
        "clinic-a",
        "sid-1",
        TOKEN,
        session.csrf,
    )
    assert seen.csrf_ok(session.csrf)


def test_the_table_holds_no_usable_cookie_token_or_csrf_value(replicas, engines) -> None:
    """A database reader gets hashes and ciphertext, not a session to replay."""
    session = sign_in(replicas[0])
    with engines[0].connect() as conn:
        row = conn.execute(select(t.reviewer_sessions)).mappings().one()
    dumped = repr(dict(row)).encode()
    for secret in (session.id, TOKEN, session.csrf):
        assert secret.encode() not in dumped
        assert secret.encode() not in bytes(row["secret_blob"])
    assert row["id_hash"] != session.id
    assert len(row["id_hash"]) == 64


def test_a_blob_moved_to_another_row_opens_nothing(replicas, engines) -> None:
    """The ciphertext is bound to its row: swapping blobs between sessions ends both."""
    one, two = replicas
    first, second = sign_in(one, "dr-a"), sign_in(one, "dr-b")
    with engines[0].begin() as conn:
        rows = {r.subject: r for r in conn.execute(select(t.reviewer_sessions))}
        for subject, other in (("dr-a", "dr-b"), ("dr-b", "dr-a")):
            conn.execute(
                t.reviewer_sessions.update()
                .where(t.reviewer_sessions.c.subject == subject)
                .values(secret_blob=rows[other].secret_blob)
            )
    for session in (first, second):
        with pytest.raises(SessionEnded) as ended:
            two.get(session.id)
        assert ended.value.reason == "missing"


def test_sign_out_on_one_replica_ends_the_session_on_the_other(replicas) -> None:
    """Ending deletes the row: no replica keeps a copy alive."""
    one, two = replicas
    session = sign_in(one)
    two.get(session.id)
    one.end(session.id)
    assert two.peek(session.id) is None
    with pytest.raises(SessionEnded):
        two.get(session.id)


def test_revoking_a_clinician_ends_all_their_sessions_everywhere(replicas) -> None:
    """Revocation by subject (or whole tenant) is immediate on every replica."""
    one, two = replicas
    a1, a2, b = sign_in(one, "dr-a"), sign_in(two, "dr-a"), sign_in(one, "dr-b")
    assert two.revoke(tenant="clinic-a", subject="dr-a") == 2
    for gone in (a1, a2):
        with pytest.raises(SessionEnded):
            one.get(gone.id)
    assert one.get(b.id).subject == "dr-b"
    assert one.revoke(tenant="clinic-b") == 0
    assert one.revoke(tenant="clinic-a") == 1
    assert two.count() == 0


def test_idle_and_absolute_limits_hold_across_replicas(replicas, clock) -> None:
    """Activity on either replica restarts the idle clock; nothing outlives the absolute limit."""
    one, two = replicas
    session = sign_in(one)
    for turn in range(12):
        clock.now += 290
        assert (one if turn % 2 else two).get(session.id).id == session.id
    clock.now += 290
    with pytest.raises(SessionEnded) as ended:
        two.get(session.id)
    assert ended.value.reason == "absolute"
    idle = sign_in(two)
    clock.now += 100
    one.get(idle.id, touch=False)  # the background poll is not activity
    clock.now += 201
    with pytest.raises(SessionEnded) as ended:
        one.get(idle.id)
    assert ended.value.reason == "idle"
    assert one.peek(idle.id) is None


def test_a_notice_queued_on_one_replica_is_shown_once_by_the_other(replicas) -> None:
    """Post/redirect/get across replicas: the flash message follows the browser, once."""
    one, two = replicas
    session = sign_in(one)
    one.get(session.id).notify("ok", "Saved as version 2.")
    assert two.get(session.id).take_notices() == [("ok", "Saved as version 2.")]
    assert one.get(session.id).take_notices() == []


def test_a_sign_in_started_on_one_replica_finishes_once_on_either(replicas, engines) -> None:
    """The callback may land anywhere; state is taken once, by the same browser only."""
    one, two = replicas
    pending = one.begin_login(
        browser_secret="browser-1", issuer="https://idp", return_to="/review/x", step_up=True
    )
    with engines[0].connect() as conn:
        stored = conn.execute(select(t.reviewer_logins)).mappings().one()
    assert stored["state_hash"] != pending.state
    assert "browser-1" not in repr(dict(stored))
    assert two.finish_login(pending.state, "browser-2") is None  # login CSRF: and it is spent
    assert one.finish_login(pending.state, "browser-1") is None
    pending = one.begin_login(
        browser_secret="browser-1", issuer="https://idp", return_to="/review/x", step_up=True
    )
    assert two.finish_login(pending.state, "browser-1") == pending
    assert one.finish_login(pending.state, "browser-1") is None  # replay on the other replica
    assert two.finish_login(None, "browser-1") is None


def test_a_sign_in_left_too_long_cannot_complete(replicas, clock) -> None:
    """A callback more than ten minutes late is refused, and stale sign-ins are swept."""
    one, two = replicas
    late = one.begin_login(browser_secret="b", issuer="i", return_to="/review/", step_up=False)
    clock.now += LOGIN_SECONDS + 1
    assert two.finish_login(late.state, "b") is None


def test_a_flood_of_sign_ins_is_capped(replicas, engines, clock, monkeypatch) -> None:
    """The login page needs no session: past the cap the oldest sign-ins in flight go."""
    monkeypatch.setattr("chartgate.adapters.storage.reviewer_sessions.MAX_PENDING", 5)
    assert MAX_PENDING == 10_000
    one, _ = replicas
    first = one.begin_login(browser_secret="b", issuer="i", return_to="/review/", step_up=False)
    for _ in range(7):
        clock.now += 1
        one.begin_login(browser_secret="b", issuer="i", return_to="/review/", step_up=False)
    with engines[0].connect() as conn:
        assert len(conn.execute(select(t.reviewer_logins)).all()) == 5
    assert one.finish_login(first.state, "b") is None


def test_the_sessions_command_counts_and_revokes_without_keys(
    replicas, migrated_database_url: str, tmp_path: Path, clock
) -> None:
    """``chartgate sessions count|revoke``: the operator's way to end a clinician's sessions."""
    import json  # noqa: PLC0415
    import time  # noqa: PLC0415

    from typer.testing import CliRunner  # noqa: PLC0415

    from chartgate.cli.main import app as cli  # noqa: PLC0415

    clock.now = time.time()  # the command reads the real clock
    one, two = replicas
    kept = sign_in(one, "dr-b")
    for store in (one, two):
        sign_in(store, "dr-a")
    env = {
        "CHARTGATE_DATABASE_URL": migrated_database_url,
        "CHARTGATE_KEY_FILE": str(tmp_path / "no-such-dir" / "kek"),  # never read or created
    }
    runner = CliRunner()
    counted = runner.invoke(cli, ["sessions", "count", "--json"], env=env)
    assert counted.exit_code == 0, counted.output
    assert json.loads(counted.stdout)["live"] == 3
    revoked = runner.invoke(
        cli, ["sessions", "revoke", "--tenant", "clinic-a", "--subject", "dr-a"], env=env
    )
    assert revoked.exit_code == 0, revoked.output
    assert "revoked 2 session(s)" in revoked.stdout
    assert two.get(kept.id).subject == "dr-b"
    assert not (tmp_path / "no-such-dir").exists()


def test_an_ehr_launch_context_and_its_sign_in_survive_the_replica_hop(replicas) -> None:
    """The launch's patient/encounter and the launching tenant are read back on the other."""
    one, two = replicas
    pending = one.begin_login(
        browser_secret="b",
        issuer="https://idp",
        return_to="/review/",
        step_up=False,
        launch_tenant="clinic-a",
    )
    finished = two.finish_login(pending.state, "b")
    assert finished is not None
    assert finished.launch_tenant == "clinic-a"
    session = one.create(
        tenant="clinic-a",
        subject="dr-a",
        sid="sid-1",
        issuer="https://idp",
        access_token=TOKEN,
        launch=LaunchContext(patient="Patient/pat-1", encounter="Encounter/enc-1"),
    )
    seen = two.get(session.id)
    assert (seen.launch_patient, seen.launch_encounter) == ("Patient/pat-1", "Encounter/enc-1")
    assert sign_in(one, "dr-b").launch_encounter is None  # standalone: no launch context


def test_an_identity_provider_logout_ends_that_sign_in_everywhere(replicas) -> None:
    """By issuer and sid (or sub): that sign-in's sessions end on every replica, no others."""
    one, two = replicas
    ended = sign_in(one)  # sid-1
    other_sid = one.create(
        tenant="clinic-a", subject="dr-a", sid="sid-2", issuer="https://idp", access_token=TOKEN
    )
    other_idp = one.create(
        tenant="clinic-a", subject="dr-a", sid="sid-1", issuer="https://other", access_token=TOKEN
    )
    assert two.end_for("https://idp", sid="sid-1", subject=None) == 1
    assert one.peek(ended.id) is None
    assert one.peek(other_sid.id) is not None
    assert one.peek(other_idp.id) is not None
    assert two.end_for("https://idp", sid=None, subject=None) == 0
    assert two.end_for("https://idp", sid=None, subject="dr-a") == 1
    assert one.peek(other_sid.id) is None
