"""The worker is woken by an approval instead of waiting for its poll (issue 20).

The worker runs with a 12 s poll: an approval committed through the API (another
connection: on PostgreSQL a NOTIFY, on SQLite a new ``data_version``) must still reach the
chart long before that poll comes round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builders import submission
from chartgate.adapters.storage.wakeup import notify_writebacks, wakeup_for
from chartgate.worker import run_worker
from stack import Stack, running_stack

POLL_SECONDS = 12.0
WITHIN_SECONDS = 6.0  # generous on a loaded machine; still half the poll


@pytest.fixture
def stack(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate on both stores, writing to the sandbox EHR, with a worker poll of 12 s."""
    with running_stack(migrated_database_url, tmp_path) as running:
        running.app.settings = running.app.settings.model_copy(
            update={"worker_poll_seconds": POLL_SECONDS}
        )
        yield running


def _state(stack: Stack, writeback_id: str) -> str:
    principal = stack.app.authenticate(stack.clinician_token())
    return stack.app.resolutions.writeback(principal, writeback_id).state.value


def test_an_idle_worker_sends_an_approval_without_waiting_for_its_poll(stack: Stack) -> None:
    """Approved while the worker waits: committed well before the 12 s poll would look."""
    outcome: dict[str, Any] = {}

    def approve_later() -> None:
        time.sleep(0.5)  # the worker is idle, waiting, by now
        draft = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe()).json()
        answer = stack.api.post(
            f"/v1/drafts/{draft['id']}/approve",
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
        outcome["writeback"] = answer.json()["writeback"]["id"]
        outcome["approved_at"] = time.monotonic()
        deadline = time.monotonic() + WITHIN_SECONDS
        while time.monotonic() < deadline:
            if _state(stack, outcome["writeback"]) == "committed":
                outcome["committed_at"] = time.monotonic()
                return
            time.sleep(0.05)

    def approve_later_then_end_the_wait() -> None:
        try:
            approve_later()
        finally:
            # The worker is back in its 12 s wait: wake it once more so that it sees the
            # client has finished (on PostgreSQL only NOTIFY wakes it; on SQLite any commit).
            with stack.app.engine.begin() as conn:
                notify_writebacks(conn)

    client = threading.Thread(target=approve_later_then_end_the_wait)
    client.start()
    run_worker(stack.app, should_stop=lambda: not client.is_alive())
    client.join()
    assert "committed_at" in outcome, "the worker did not send the approval while it waited"
    assert outcome["committed_at"] - outcome["approved_at"] < WITHIN_SECONDS


def test_the_wakeup_returns_on_an_approval_and_times_out_when_nothing_happens(
    stack: Stack,
) -> None:
    """Nothing committed: ``wait`` times out (False); an approval elsewhere: it returns True."""
    wakeup = wakeup_for(stack.app.engine)

    def approve() -> None:
        draft = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe()).json()
        stack.api.post(
            f"/v1/drafts/{draft['id']}/approve",
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )

    try:
        assert wakeup.wait(0.3) is False
        timer = threading.Timer(0.3, approve)
        timer.start()
        started = time.monotonic()
        woke = wakeup.wait(WITHIN_SECONDS)
        timer.join()
        assert woke is True
        assert time.monotonic() - started < WITHIN_SECONDS
    finally:
        wakeup.close()
