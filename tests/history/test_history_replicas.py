"""The history checker against the scale-out topology: nginx, 2 serve, 2 worker, PostgreSQL.

The in-process campaign (test_history.py) kills an executor at every crash point with a
controlled clock; this one runs the real processes of the deployment guide
(tests/replica_topology.py) in real time under a short fault schedule:

| phase | EHR fault (sandbox fault plan) | process fault |
|---|---|---|
| storm_503 | 4 answers 503 + Retry-After | — |
| commit_then_drop | 2 writes commit, the answer is lost | — |
| timeout_after_commit | 1 write commits after chartgate gave up (3 s) | — |
| storm_429 | 3 answers 429 + Retry-After | — |
| kill_worker | — | worker 1 ``kill -9`` right after the approvals, restarted 1 s later |
| replica_down | 150 ms latency | serve replica 2 stopped (nginx fails over), then restarted |

The client retries a 502/503 or a refused connection with the same Idempotency-Key, as a
scribe must. Each phase submits and approves a batch through the proxy; then notes that landed are
finalized and some amended, under a 503 storm. When everything is decided the history
(chartgate's state from the store, every marked document and Provenance in the chart, the
versions chartgate recorded, the ledger's verification) goes through the same checker: no
duplicate, no loss, no state that disagrees with the chart.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from history_checker import check, render, table
from history_harness import TERMINAL, Ehr, History, Tracked, collect

from builders import edited_note, submission
from chartgate.bootstrap import build
from chartgate.settings import load_settings
from replica_topology import TENANT, Topology, nginx_binary, running_topology, wait_healthy
from stack import Stack

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]
BATCH = 3
INJECTED: dict[str, int] = {}  # per phase: how many faults the sandbox EHR injected
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
SCHEDULE: list[tuple[str, dict[str, Any], str | None]] = [
    ("storm_503", {"status_storm": {"count": 4, "status": 503, "retry_after": 1}}, None),
    ("commit_then_drop", {"commit_then_drop": {"count": 2}}, None),
    (
        "timeout_after_commit",
        {"timeout": {"count": 1, "seconds": 4, "before_commit": False}},
        None,
    ),
    ("storm_429", {"status_storm": {"count": 3, "status": 429, "retry_after": 1}}, None),
    ("none", {}, "kill_worker"),
    ("latency", {"latency_ms": 150}, "replica_down"),
]


@pytest.fixture
def topology(postgres_url: str, tmp_path: Path) -> Iterator[Topology]:
    with running_topology(postgres_url, tmp_path, nginx_binary()) as running:
        yield running


class Client:
    """The scribe and the clinician through nginx; retries a 502/503 with the same key."""

    def __init__(self, topology: Topology, api: httpx.Client, history: History) -> None:
        self.stack = Stack(app=None, api=api, sandbox=topology.sandbox, ehr_base="")  # type: ignore[arg-type]
        self.api = api
        self.history = history

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        key = str(uuid.uuid4())
        for _ in range(10):
            headers = {**kwargs.pop("headers", {}), "Idempotency-Key": key}
            kwargs["headers"] = headers
            try:
                answer = self.api.request(method, path, **kwargs)
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            if answer.status_code not in {502, 503}:
                return answer
            time.sleep(0.5)
        raise AssertionError(f"{method} {path}: no answer through the proxy")

    def track(self, answer: httpx.Response, draft_id: str, kind: str, cell: tuple[str, str]) -> str:
        assert answer.status_code == 202, answer.text
        wb_id: str = answer.json()["writeback"]["id"]
        self.history.writebacks[wb_id] = Tracked(
            id=wb_id,
            draft_id=draft_id,
            kind=kind,
            ehr="sandbox",
            tenant=TENANT,
            fault=cell[0],
            crash=cell[1],
            store="postgresql",
            queued_at=datetime.now(UTC),
        )
        return wb_id

    def approve_new(self, cell: tuple[str, str]) -> str:
        created = self.call("POST", "/v1/drafts", json=submission(), headers=self.stack.as_scribe())
        assert created.status_code == 201, created.text
        draft_id: str = created.json()["id"]
        approved = self.call(
            "POST",
            f"/v1/drafts/{draft_id}/approve",
            headers={**self.stack.as_clinician(), "If-Match": 'W/"1"'},
        )
        return self.track(approved, draft_id, "approve", cell)

    def state(self, wb_id: str) -> str:
        answer = self.call("GET", f"/v1/writebacks/{wb_id}", headers=self.stack.as_clinician())
        assert answer.status_code == 200, answer.text
        value: str = answer.json()["state"]
        self.history.writebacks[wb_id].states_seen.append(value)
        return value


def settle(client: Client, ids: list[str], seconds: float = 120) -> None:
    """Until every write-back in ``ids`` is decided (committed, partial, rejected, conflict)."""
    deadline = time.monotonic() + seconds
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for wb in list(pending):
            if client.state(wb) in TERMINAL:
                client.history.writebacks[wb].settled_at = datetime.now(UTC)
                pending.discard(wb)
        time.sleep(0.3)
    assert not pending, {wb: client.history.writebacks[wb].states_seen[-1] for wb in pending}


def run_phase(
    topology: Topology, client: Client, fault: str, plan: dict[str, Any], crash: str | None
) -> list[str]:
    """One row of the schedule: the fault on, a batch approved, the process fault, settled."""
    topology.sandbox.faults.clear()
    if plan:
        topology.sandbox.faults.load_json(plan)
    down = topology.serves[1] if crash == "replica_down" else None
    if down is not None:
        down.send_signal(signal.SIGTERM)
        down.wait(timeout=30)
    ids = [client.approve_new((fault, crash or "none")) for _ in range(BATCH)]
    if crash == "kill_worker":
        topology.kill_worker("1")
        client.history.crashes.append(_crash(ids))
        time.sleep(1)
        topology.start_worker("1")
    settle(client, ids)
    injected = topology.sandbox.faults.to_json().get("injected", {})
    INJECTED[fault] = sum(int(v) for v in injected.values())
    topology.sandbox.faults.clear()
    if down is not None:  # the replica comes back, as systemd's Restart= would bring it
        port = topology.ports[1]
        restarted = _restart_serve(topology, port)
        topology.serves[1] = restarted
        wait_healthy(f"http://127.0.0.1:{port}/healthz", restarted)
    return ids


def _crash(ids: list[str]) -> Any:
    from history_harness import Crash  # noqa: PLC0415

    return Crash(ehr="sandbox", point="kill -9 worker", nth=1, writebacks_sending=list(ids))


def _restart_serve(topology: Topology, port: int) -> Any:
    import subprocess  # noqa: PLC0415

    from replica_topology import exec_start  # noqa: PLC0415

    return subprocess.Popen(
        exec_start("chartgate-serve@.service", str(port)), env=topology.env, cwd=topology.workdir
    )


def later_phases(client: Client, approved: list[str]) -> list[str]:
    """Finalize every other landed note, amend every third, under a 503 storm."""
    ids: list[str] = []
    cell = ("storm_503 (finalize, amend)", "none")
    for index, wb_id in enumerate(approved):
        draft_id = client.history.writebacks[wb_id].draft_id
        if index % 2 == 0:
            answer = client.call(
                "POST", f"/v1/drafts/{draft_id}/finalize", headers=client.stack.as_clinician()
            )
            if answer.status_code == 202:
                ids.append(client.track(answer, draft_id, "finalize", cell))
        if index % 3 == 0:
            view = client.call(
                "GET", f"/v1/drafts/{draft_id}", headers=client.stack.as_clinician()
            ).json()
            old = view["versions"][-1]["note"]["text"].splitlines()[1]
            answer = client.call(
                "POST",
                f"/v1/writebacks/{wb_id}/amend",
                json=edited_note(view, old, old + " Reviewed again."),
                headers={
                    **client.stack.as_clinician(),
                    "If-Match": f'W/"{view["current_version"]}"',
                },
            )
            if answer.status_code == 202:
                ids.append(client.track(answer, draft_id, "amend", cell))
    return ids


def test_the_history_holds_across_replicas_under_a_fault_schedule(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No duplicate, no loss, no wrong state; each schedule row and process fault was hit."""
    history = History(seed=0, store="postgresql")
    started = time.monotonic()
    with httpx.Client(base_url=topology.base, timeout=30) as api:
        client = Client(topology, api, history)
        approved: list[str] = []
        for fault, plan, crash in SCHEDULE:
            approved += run_phase(topology, client, fault, plan, crash)
        landed = [wb for wb in approved if client.state(wb) == "committed"]
        topology.sandbox.faults.load_json(
            {"status_storm": {"count": 3, "status": 503, "retry_after": 1}}
        )
        settle(client, later_phases(client, landed))
    history.wall_seconds = time.monotonic() - started
    INJECTED["later phases (storm_503)"] = sum(
        int(v) for v in topology.sandbox.faults.to_json().get("injected", {}).values()
    )

    monkeypatch.setenv("CHARTGATE_CONFIG", str(topology.config))
    app = build(load_settings())
    http = httpx.Client(base_url=topology.sandbox.fhir_base, timeout=30)
    try:
        faults: Callable[[dict[str, Any]], None] = topology.sandbox.faults.load_json
        ehr = Ehr(
            name="sandbox", fhir_base=topology.sandbox.fhir_base, set_faults=faults, http=http
        )
        collect(SimpleNamespace(history=history, app=app, ehrs={"sandbox": ehr}))  # type: ignore[arg-type]
    finally:
        http.close()
        app.close()

    violations = check(history)
    rendered = render(table([history], violations))
    print(rendered)
    kinds = {t.kind for t in history.writebacks.values()}
    print(
        f"{len(history.writebacks)} write-backs ({sorted(kinds)}), {len(history.crashes)} worker "
        f"kill(s), faults injected {INJECTED}, {history.wall_seconds:.1f} s wall"
    )
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "history-replicas.txt").write_text(rendered + "\n", encoding="utf-8")
    assert not violations, "\n".join([str(v) for v in violations[:40]] + history.notes)
    assert kinds == {"approve", "finalize", "amend"}
    assert len(approved) == BATCH * len(SCHEDULE)
    assert history.crashes
    for fault, plan, _ in SCHEDULE:  # every EHR fault of the schedule was hit
        if any(key != "latency_ms" for key in plan):
            assert INJECTED[fault] > 0, INJECTED
