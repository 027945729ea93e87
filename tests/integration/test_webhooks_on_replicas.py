"""Webhook delivery from every replica's worker at once: each event reaches the vendor once.

Three wired applications on one store (three workers' processes) push together, behind a
barrier, round after round, while the receiver (always 204) records every request. The
endpoint's lease row must let one of them deliver a batch and the others step aside; a
duplicate would show as a repeated ``webhook-id``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_duties_on_replicas import REPLICAS, together
from test_webhooks import SECRET, Receiver, commit_one, register

from chartgate.bootstrap import build
from chartgate.threaded_server import ThreadedServer
from stack import Stack, running_stack


@pytest.fixture
def stack(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate on both stores with one webhook secret named ``vendor``."""
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_bytes(SECRET)
    secret_file.chmod(0o600)
    with running_stack(
        migrated_database_url, tmp_path, webhook_secrets={"vendor": f"secret:file:{secret_file}"}
    ) as running:
        yield running


def test_three_replicas_pushing_together_deliver_each_event_once(stack: Stack) -> None:
    """6 events (3 approvals, 3 commits), 3 pushers at once: 6 deliveries, 6 distinct ids."""
    vendor = Receiver(fail_first=0)
    with ThreadedServer(vendor) as server:
        assert register(stack, f"{server.base_url}/hooks").status_code < 300
        for _ in range(3):
            commit_one(stack)
        apps = [build(stack.app.settings) for _ in range(REPLICAS)]
        try:
            for _ in range(10):
                rounds = together(lambda i: apps[i].webhook_pusher.push().delivered)
                if sum(rounds) == 0:
                    break
        finally:
            for app in apps:
                app.close()
    ids = Counter(headers["webhook-id"] for headers, _, _ in vendor.received)
    assert len(ids) == 6, ids
    assert set(ids.values()) == {1}, "an event was sent twice"
