"""After a hold-write-back switch is acknowledged no EHR request starts: several workers, slow EHR.

The EHR is our sandbox behind a recording proxy that notes when each request arrives and
answers slowly, so requests are in flight while the switch is engaged. Three workers (each
with its own executor, as three ``chartgate worker`` processes would have) run throughout.
Then the switch is released and every write-back lands exactly once. Synthetic data only.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest

from asgi_forward import forward, read_body
from builders import submission
from chartgate.domain.killswitch import ALL_TENANTS, SwitchSpec
from chartgate.sandbox.server import SandboxServer
from chartgate.threaded_server import ThreadedServer
from stack import Stack, running_stack

WRITEBACK_SYSTEM = "urn:chartgate:writeback"
DRAFTS = 8
WORKERS = 3
DELAY_SECONDS = 0.3


class RecordingEhr:
    """An ASGI proxy to a FHIR server that records each request's arrival and answers late."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.arrivals: list[tuple[float, str, str]] = []
        self.in_flight = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Record, wait, forward, answer."""
        with self._lock:
            self.arrivals.append((time.monotonic(), scope["method"], scope["path"]))
            self.in_flight += 1
        try:
            body = await read_body(receive)
            await asyncio.sleep(DELAY_SECONDS)
            await forward(scope, body, self.upstream, send)
        finally:
            with self._lock:
                self.in_flight -= 1

    def started_after(self, moment: float) -> list[tuple[float, str, str]]:
        """Requests that arrived after ``moment`` (time.monotonic)."""
        with self._lock:
            return [a for a in self.arrivals if a[0] > moment]


@pytest.fixture
def slow_stack(migrated_database_url: str, tmp_path: Path) -> Iterator[tuple[Stack, RecordingEhr]]:
    """Chartgate on both stores, writing through the recording proxy to a sandbox EHR."""
    with SandboxServer(tmp_path / "ehr.sqlite3") as ehr:
        proxy = RecordingEhr(ehr.fhir_base)
        with ThreadedServer(proxy) as server:
            base = f"{server.base_url}/fhir"
            (tmp_path / "chartgate").mkdir()
            with running_stack(
                migrated_database_url, tmp_path / "chartgate", ehr_base=base
            ) as stack:
                stack.ehr_base = ehr.fhir_base  # look at the chart directly, not via the proxy
                yield stack, proxy


class Workers:
    """``WORKERS`` executors on threads, polling until stopped."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._stop = threading.Event()
        self.failures: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(f"worker-{i}",), daemon=True)
            for i in range(WORKERS)
        ]

    def _run(self, owner: str) -> None:
        executor = self._stack.app.executor(owner=owner)
        while not self._stop.is_set():
            try:
                if executor.run_once(limit=1) == 0:
                    time.sleep(0.02)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.failures.append(exc)
                return

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def approve_all(stack: Stack) -> list[str]:
    """``DRAFTS`` submitted and approved drafts; their write-back ids."""
    ids = []
    for _ in range(DRAFTS):
        draft = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe()).json()
        answer = stack.api.post(
            f"/v1/drafts/{draft['id']}/approve",
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["writeback"]["id"])
    return ids


def in_chart(stack: Stack, resource_type: str, writeback_id: str) -> int:
    """How many resources of this write-back the chart holds."""
    param = "identifier" if resource_type == "DocumentReference" else "_tag"
    with stack.ehr() as ehr:
        bundle = ehr.get(f"/{resource_type}", params={param: f"{WRITEBACK_SYSTEM}|{writeback_id}"})
    return len(bundle.json().get("entry", []))


def states(stack: Stack, ids: list[str]) -> dict[str, str]:
    """Each write-back's state."""
    return {wid: stack.app.resolutions.writeback(_reader(stack), wid).state.value for wid in ids}


def _reader(stack: Stack) -> Any:
    return stack.app.authenticate(stack.clinician_token())


def wait_for(condition: Any, seconds: float) -> bool:
    """Poll ``condition`` until true or ``seconds`` passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_no_ehr_request_starts_after_the_hold_is_acknowledged(
    slow_stack: tuple[Stack, RecordingEhr],
) -> None:
    """Engage waits out requests in flight, none starts later, release lands each note once."""
    stack, proxy = slow_stack
    ids = approve_all(stack)
    spec = SwitchSpec.parse(
        tenant=ALL_TENANTS,
        scope="global",
        value=None,
        mode="hold-write-back",
        reason="bad model version suspected",
    )
    with Workers(stack) as workers:
        assert wait_for(lambda: proxy.in_flight >= 2 and len(proxy.arrivals) >= 3, 30)
        engaged = stack.app.killswitches.engage(spec, actor="operator:test")
        acknowledged = time.monotonic()
        assert engaged.acknowledged
        assert engaged.drained >= 1  # requests were in flight and the answer waited for them
        time.sleep(2.0)  # the workers keep polling while the switch holds
        assert proxy.started_after(acknowledged) == []
        held = [wid for wid, state in states(stack, ids).items() if state != "committed"]
        assert held, "the switch came too late to hold anything: the test proves nothing"
        stack.app.killswitches.release(
            engaged.switch.id, actor="operator:test", reason="model rolled back", tenant=None
        )
        assert wait_for(lambda: set(states(stack, ids).values()) == {"committed"}, 60), states(
            stack, ids
        )
    assert workers.failures == []
    for wid in ids:
        assert in_chart(stack, "DocumentReference", wid) == 1
        assert in_chart(stack, "Provenance", wid) == 1
