"""What an operator sees of a real ``chartgate worker`` through a 503 storm, an outage and SIGTERM.

The API runs in-process (tests/stack.py); the worker is the real command in a subprocess,
configured by a TOML file, with its own ``/metrics`` + ``/healthz`` + ``/readyz`` port. The
sandbox EHR first answers a short 503 storm, then is down (503 to everything) until it
recovers. The test reads the worker's port and its JSON log lines during and after.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from builders import PATIENT, submission
from stack import Stack, running_stack

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))
NOTE_WORDS = "dry cough"  # words of the synthetic note (builders.SOAP_NOTE): never in a log


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The worker's metrics as {(sample name, sorted labels): value}."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def approve(stack: Stack) -> str:
    """Submit the synthetic note and approve it; return the write-back id."""
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    approved = stack.api.post(
        f"/v1/drafts/{created.json()['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    writeback_id: str = approved.json()["writeback"]["id"]
    return writeback_id


def state(stack: Stack, writeback_id: str) -> str:
    """The write-back's state as the API reports it."""
    answer = stack.api.get(f"/v1/writebacks/{writeback_id}", headers=stack.as_clinician())
    found: str = answer.json()["state"]
    return found


def faults(stack: Stack, plan: dict[str, Any]) -> None:
    """Replace the sandbox's fault plan."""
    answer = httpx.post(f"{stack.sandbox.base_url}/__sandbox/faults", json=plan, timeout=5)
    assert answer.status_code == 200, answer.text


def worker_config(stack: Stack, tmp_path: Path, database_url: str) -> Path:
    """A TOML file for the worker: the stack's store, keys and EHR."""
    config = tmp_path / "worker.toml"
    config.write_text(
        f'database_url = "{database_url}"\n'
        f'key_file = "{tmp_path / "kek.key"}"\n'
        "worker_poll_seconds = 0.2\n"
        "[[tenants]]\n"
        f'id = "{stack.tenant}"\n'
        f'issuers = ["{stack.sandbox.issuer}"]\n'
        "[tenants.ehr]\n"
        f'base_url = "{stack.ehr_base}"\n'
        'vendor = "sandbox"\n'
        "timeout_seconds = 3\n"
    )
    return config


def test_worker_metrics_logs_and_health_through_a_storm_an_outage_and_sigterm(
    tmp_path: Path,
) -> None:
    """Storm and outage show as ambiguous attempts, 5xx answers and a queue; all clear after.

    Then a kill switch engaged and released shows in ``chartgate_kill_switches_engaged``.
    """
    url = f"sqlite:///{tmp_path / 'cg.sqlite3'}"
    with running_stack(url, tmp_path) as stack:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        kept = {"CHARTGATE_PROCESSORS"}  # the suite's loopback systems
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGATE_") or k in kept}
        env["CHARTGATE_DEV_MODE"] = "true"  # keys made on first use (docs/keys.md)
        env["CHARTGATE_CONFIG"] = str(worker_config(stack, tmp_path, url))
        log_path = tmp_path / "worker.log"
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [CHARTGATE, "worker", "--metrics-port", str(port)],
                stdout=log,
                stderr=log,
                env=env,
            )
        try:
            wait_for(lambda: _status(f"{base}/healthz") == 200, "the worker's /healthz")
            assert _status(f"{base}/readyz") == 200

            # A short 503 storm: the first attempt is ambiguous, then it reconciles and commits.
            # On the writes: the executor's chart reads are retried and would spend the storm.
            storm = {"count": 2, "status": 503, "retry_after": 1, "writes_only": True}
            faults(stack, {"status_storm": storm})
            first = approve(stack)
            wait_for(
                lambda: (
                    value(
                        scrape(base),
                        "chartgate_writeback_attempts_total",
                        kind="approve",
                        outcome="ambiguous",
                    )
                    >= 1
                ),
                "an ambiguous attempt in the metrics",
            )
            during = scrape(base)
            five_xx = [
                v
                for (name, labels), v in during.items()
                if name == "chartgate_ehr_requests_total"
                and ("status_class", "5xx") in labels
                and ("tenant", stack.tenant) in labels
                and ("profile", "sandbox") in labels
            ]
            assert sum(five_xx) >= 1
            assert _status(f"{base}/healthz") == 200  # an EHR storm is not a dead worker
            wait_for(lambda: state(stack, first) == "committed", "the storm's commit", 60)
            after = scrape(base)
            assert (
                value(
                    after, "chartgate_writeback_attempts_total", kind="approve", outcome="committed"
                )
                == 1
            )
            assert value(after, "chartgate_approve_to_commit_seconds_count", kind="approve") == 1
            assert value(after, "chartgate_reconciliations_total", result="absent") >= 1

            # An outage: every FHIR request answers 503 until the EHR comes back.
            down = {"count": 10_000, "status": 503, "retry_after": 1, "writes_only": True}
            faults(stack, {"status_storm": down})
            second = approve(stack)
            wait_for(
                lambda: value(scrape(base), "chartgate_writeback_queue", state="ambiguous") == 1,
                "the outage's write-back queued as ambiguous",
            )
            outage = scrape(base)
            assert value(outage, "chartgate_writeback_oldest_age_seconds", state="ambiguous") > 0
            assert value(outage, "chartgate_store_up") == 1
            assert _status(f"{base}/readyz") == 200  # the store is fine; the EHR is not
            stack.sandbox.faults.clear()
            wait_for(lambda: state(stack, second) == "committed", "recovery's commit", 60)
            wait_for(
                lambda: value(scrape(base), "chartgate_writeback_queue", state="ambiguous") == 0,
                "an empty queue after recovery",
            )
            recovered = scrape(base)
            assert (
                value(
                    recovered,
                    "chartgate_writeback_attempts_total",
                    kind="approve",
                    outcome="committed",
                )
                == 2
            )
            assert value(recovered, "chartgate_ledger_entries", tenant=stack.tenant) > 0
            assert value(recovered, "process_resident_memory_bytes") > 0

            assert_kill_switch_gauge(stack, base)
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=20)
    assert code == 0
    assert_worker_log(log_path, first, second)


def assert_kill_switch_gauge(stack: Stack, base: str) -> None:
    """A kill switch shows on the worker's port while engaged, and 0 once released."""
    switch = admin(stack, "/v1/admin/killswitches", mode="freeze-approvals", scope="tenant")
    engaged = ("chartgate_kill_switches_engaged", "freeze-approvals", "tenant")
    assert value(scrape(base), engaged[0], mode=engaged[1], scope=engaged[2]) == 1
    assert value(scrape(base), engaged[0], mode="hold-write-back", scope="tenant") == 0
    admin(stack, f"/v1/admin/killswitches/{switch['switch']['id']}/release")
    assert value(scrape(base), engaged[0], mode=engaged[1], scope=engaged[2]) == 0


def assert_worker_log(log_path: Path, first: str, second: str) -> None:
    """Start and stop lines, one line per attempt and answer class, and no PHI."""
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert events[0] == "worker.started"
    assert events[-1] == "worker.stopped"
    ambiguous = [line for line in lines if line["event"] == "writeback.ambiguous"]
    assert ambiguous, events
    assert all(line["writeback_id"] in {first, second} for line in ambiguous)
    assert {"5xx"} == {line["status_class"] for line in ambiguous}
    answers = {line["status_class"] for line in lines if line["event"] == "ehr.response"}
    assert {"2xx", "5xx"} <= answers
    assert events.count("writeback.committed") == 2
    text = log_path.read_text()
    assert NOTE_WORDS not in text
    assert PATIENT not in text


def admin(stack: Stack, path: str, **body: str) -> dict[str, Any]:
    """The tenant's admin POSTs to an admin endpoint; the JSON answer."""
    answer = stack.api.post(
        path, json={"reason": "synthetic incident drill", **body}, headers=stack.as_admin()
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return 0
