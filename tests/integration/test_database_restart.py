"""PostgreSQL drops every connection while approvals and write-backs are in flight.

The stack (API under uvicorn, the sandbox EHR) runs on PostgreSQL; client threads submit and
approve with Idempotency-Keys while a worker thread writes back and a killer thread calls
``pg_terminate_backend`` on every chartgate connection, over and over. Requests caught by it
must fail cleanly with a retryable 503 (never a 500, never half-written), the pool must recover
by itself, and at the end: every approval the clients saw accepted is exactly one note in the
chart, nothing else is, and the ledger verifies. Synthetic data only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from builders import submission
from chartgate.domain.errors import StoreUnavailable
from chartgate.service.audit_verify import verify_store
from chartgate.service.writeback import WritebackExecutor
from stack import Stack, running_stack

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

CLIENTS = 3
DRAFTS_PER_CLIENT = 5
KILL_FOR_SECONDS = 4.0


def _send(stack: Stack, method: str, url: str, seen: Counter[int], **kw: Any) -> httpx.Response:
    """A client that retries 503s (and keys still in flight) with the same Idempotency-Key."""
    deadline = time.monotonic() + 90
    while True:
        answer = stack.api.request(method, url, **kw)
        seen[answer.status_code] += 1
        retry = answer.status_code == 503 or (
            answer.status_code == 409 and "in progress" in answer.text
        )
        if not retry or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def _client(stack: Stack, approved: list[str], seen: Counter[int]) -> None:
    for _ in range(DRAFTS_PER_CLIENT):
        key = uuid.uuid4().hex
        created = _send(
            stack,
            "POST",
            "/v1/drafts",
            seen,
            json=submission(),
            headers={**stack.as_scribe(), "Idempotency-Key": f"s-{key}"},
        )
        assert created.status_code == 201, created.text
        draft = created.json()
        done = _send(
            stack,
            "POST",
            f"/v1/drafts/{draft['id']}/approve",
            seen,
            headers={**stack.as_clinician(), "If-Match": 'W/"1"', "Idempotency-Key": f"a-{key}"},
        )
        assert done.status_code == 202, done.text
        approved.append(done.json()["writeback"]["id"])


def _killer(database_url: str, stop: threading.Event, kills: list[int]) -> None:
    name = make_url(database_url).database
    admin = create_engine(
        database_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        while not stop.is_set():
            with admin.connect() as conn:
                killed = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).scalar_one()
            kills.append(int(killed))
            time.sleep(0.15)
    finally:
        admin.dispose()


def _worker(stack: Stack, stop: threading.Event, errors: list[str]) -> None:
    executor = stack.app.executor(owner="restart-worker")
    while not stop.is_set():
        try:
            if executor.run_once() == 0:
                time.sleep(0.05)
        except (StoreUnavailable, SQLAlchemyError) as exc:  # the database went away: go on
            errors.append(type(exc).__name__)
            time.sleep(0.1)


def test_connections_killed_mid_flight_lose_and_duplicate_nothing(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clean 503s while PostgreSQL drops connections; afterwards one note per approval."""
    # A key whose request lost the database mid-way is retried after 2 s, not 60 s.
    monkeypatch.setenv("CHARTGATE_IDEMPOTENCY_ABANDONED_SECONDS", "2")
    with running_stack(postgres_url, tmp_path) as stack:
        approved: list[str] = []
        seen: Counter[int] = Counter()
        kills: list[int] = []
        worker_errors: list[str] = []
        stop_killing, stop_worker = threading.Event(), threading.Event()
        killer = threading.Thread(target=_killer, args=(postgres_url, stop_killing, kills))
        worker = threading.Thread(target=_worker, args=(stack, stop_worker, worker_errors))
        clients = [
            threading.Thread(target=_client, args=(stack, approved, seen)) for _ in range(CLIENTS)
        ]
        killer.start()
        worker.start()
        for thread in clients:
            thread.start()
        time.sleep(KILL_FOR_SECONDS)
        stop_killing.set()
        killer.join()
        for thread in clients:
            thread.join()
        stop_worker.set()
        worker.join()
        # A worker cut off mid-request left its row "sending" under a 60 s lease: a worker
        # whose clock is past that lease takes it over (and reconciles first).
        after = WritebackExecutor(
            uow=stack.app.uow,
            ehr=stack.app.ehr,
            clock=_Ahead(stack.app.clock, timedelta(seconds=61)),
            owner="after-restart",
        )
        for _ in range(50):
            if after.run_once(limit=50) == 0:
                break
        states = [
            stack.api.get(f"/v1/writebacks/{w}", headers=stack.as_clinician()).json()["state"]
            for w in approved
        ]

        print(  # the figures of this run, for the closing note (-s shows them)
            f"connections killed: {sum(kills)}; answers: {dict(seen)}; "
            f"worker: {Counter(worker_errors)}"
        )
        assert sum(kills) > 0, "the killer never hit a connection"
        assert 500 not in seen, seen
        assert len(approved) == CLIENTS * DRAFTS_PER_CLIENT
        assert states == ["committed"] * len(approved), Counter(states)
        with stack.ehr() as ehr:
            bundle = ehr.get("/DocumentReference", params={"_count": "500"}).json()
        marked = Counter(
            i["value"]
            for entry in bundle.get("entry", [])
            for i in entry["resource"].get("identifier", [])
            if i.get("system") == "urn:chartgate:writeback"
        )
        assert marked == Counter(approved), "exactly one note per approval, nothing else"
        ledger = stack.app.ledger
        ledger.checkpointer.checkpoint(stack.tenant)
        with ledger.unit(read_only=True) as unit:
            report = verify_store(
                unit.ledger,
                stack.tenant,
                ledger.key.verifier,
                ledger.audit.origin(stack.tenant),
                anchor_note=ledger.anchor.latest(stack.tenant),
            )
        assert report.ok, report.describe()


class _Ahead:
    """A clock a fixed time ahead of another."""

    def __init__(self, clock: Any, ahead: timedelta) -> None:
        self._clock = clock
        self._ahead = ahead

    def now(self) -> datetime:
        """The other clock's time, plus the lead."""
        result: datetime = self._clock.now() + self._ahead
        return result
