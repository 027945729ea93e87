"""One worker really has its in-flight cap of EHR requests open at once (issue 20).

The worker's threads overlap their EHR waits only if nothing below them queues the requests:
until this test, each tenant's HTTP connection pool held 10 connections whatever the worker's
cap, so 64 write-backs in flight against a 300 ms EHR drained at ~9/s. The EHR here is our
sandbox behind a proxy that holds every write until the cap's worth of them are waiting at
the same time (or a few seconds pass), then lets them all through. Synthetic data only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgi_forward import forward, read_body
from builders import submission
from chartgate.sandbox.server import SandboxServer
from chartgate.threaded_server import ThreadedServer
from stack import Stack, running_stack

IN_FLIGHT = 16  # the default ``worker_in_flight``, above the old pool's 10
HOLD_SECONDS = 15.0  # under EHR_TIMEOUT_SECONDS: no held request is given up
EHR_TIMEOUT_SECONDS = 20.0
"""Room for sixteen claims on a loaded 2-core machine (2.5 s was not, once in a full run);
the wait ends as soon as the sixteenth write arrives."""


class HoldingEhr:
    """An ASGI proxy that holds writes until ``want`` wait together, then passes everything."""

    def __init__(self, upstream: str, want: int) -> None:
        self.upstream = upstream
        self.want = want
        self.waiting = 0
        self.reached = False  # ``want`` writes were waiting at once before anyone gave up
        self.timed_out = False
        self._go = asyncio.Event()

    async def _hold(self) -> None:
        self.waiting += 1  # one event loop: no lock needed
        if self.waiting >= self.want and not self.timed_out:
            self.reached = True
            self._go.set()
        try:
            await asyncio.wait_for(self._go.wait(), HOLD_SECONDS)
        except TimeoutError:
            self.timed_out = True
            self._go.set()  # let every held write go: the test has failed already
        finally:
            self.waiting -= 1

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Hold a write, then forward it and answer with what the sandbox said."""
        body = await read_body(receive)
        if scope["method"] in {"PUT", "POST"}:
            await self._hold()
        await forward(scope, body, self.upstream, send)


@pytest.fixture
def holding_stack(tmp_path: Path) -> Iterator[tuple[Stack, HoldingEhr]]:
    """Chartgate on SQLite (default in-flight cap), writing through the holding proxy."""
    with SandboxServer(tmp_path / "ehr.sqlite3") as ehr:
        proxy = HoldingEhr(ehr.fhir_base, IN_FLIGHT)
        with ThreadedServer(proxy) as server:
            (tmp_path / "chartgate").mkdir()
            with running_stack(
                f"sqlite:///{tmp_path}/chartgate/c.sqlite3",
                tmp_path / "chartgate",
                ehr_base=f"{server.base_url}/fhir",
                ehr_timeout_seconds=EHR_TIMEOUT_SECONDS,
            ) as stack:
                yield stack, proxy


def test_a_worker_keeps_its_whole_in_flight_cap_of_requests_open_at_once(
    holding_stack: tuple[Stack, HoldingEhr],
) -> None:
    """Sixteen due, a cap of sixteen: their sixteen first writes wait at the EHR at once."""
    stack, proxy = holding_stack
    assert stack.app.settings.worker_in_flight == IN_FLIGHT
    for _ in range(IN_FLIGHT):
        draft = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe()).json()
        answer = stack.api.post(
            f"/v1/drafts/{draft['id']}/approve",
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
        assert answer.status_code == 202, answer.text
    taken = stack.app.executor(owner="concurrency").run_once()
    assert taken == IN_FLIGHT
    assert proxy.reached
    with stack.app.uow(read_only=True) as uow:
        due = uow.writebacks.due(stack.app.clock.now(), limit=100)
    assert due == []  # every one went through once the group was let go
