"""Background duties run on every replica at once and still happen once (issue 19, item 1).

Each "replica" is its own wired application (its own engine and connection pool) on one
database, started together behind a barrier so their transactions overlap as they would
on two hosts. Retention (``chartgate retention run`` from cron on every host) must delete
each due draft once with one ``retention.deleted`` event; checkpoint signing must leave one
chain of checkpoints that verifies. (Write-back claims, the audit-sink cursor and webhook
cursors have their own concurrency tests: test_exactly_once, test_audit_export,
test_webhooks; the lease rows they take are shown in docs/deploy/README.md.)
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from test_retention import (
    LATER,
    approve,
    audit_verify,
    events,
    rules_file,
    run,
    settings_for,
    submit,
)

from chartgate.adapters.storage.duty_locks import DutyLock
from chartgate.adapters.storage.engine import make_engine
from chartgate.bootstrap import build
from stack import Stack, running_stack

REPLICAS = 3
T = TypeVar("T")


@pytest.fixture
def stack(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(migrated_database_url, tmp_path) as running:
        yield running


def together(task: Callable[[int], T]) -> list[T]:
    """Run ``task(replica)`` on REPLICAS threads released at the same instant; every result."""
    gate = threading.Barrier(REPLICAS)

    def one(replica: int) -> T:
        gate.wait(timeout=30)
        return task(replica)

    with ThreadPoolExecutor(REPLICAS) as pool:
        futures = [pool.submit(one, i) for i in range(REPLICAS)]
        return [f.result(timeout=120) for f in futures]


def test_retention_run_on_every_replica_deletes_each_draft_once(
    stack: Stack, tmp_path: Path
) -> None:
    """Three hosts' cron fire together: each due draft is deleted once, one event each."""
    abandoned = [submit(stack) for _ in range(3)]
    charted = []
    for _ in range(3):
        draft = submit(stack)
        approve(stack, draft)
        charted.append(draft)
    settings = settings_for(stack, tmp_path, rules_file(tmp_path))
    later = datetime.now(UTC) + LATER

    assert stack.app.ledger.checkpointer.checkpoint(stack.tenant) is not None

    reports = together(lambda _: run(settings, later))

    deleted = Counter(e["draft_id"] for e in events(stack, "retention.deleted") if e["draft_id"])
    assert deleted == Counter({d["id"]: 1 for d in abandoned + charted})
    done: Counter[str] = Counter(
        a.subject
        for r in reports
        for a in r.done
        if a.record_class in {"drafts", "approved_content"}
    )
    assert done == deleted  # no replica reports a deletion another one made
    assert stack.app.ledger.checkpointer.checkpoint(stack.tenant) is not None
    code, verified = audit_verify(settings)
    assert code == 0, repr(verified)[:2000]


def test_checkpoint_signing_on_every_replica_leaves_one_verifying_chain(
    stack: Stack, tmp_path: Path
) -> None:
    """Workers on three hosts cut checkpoints at once: no fork, no duplicate size, verify OK."""
    for _ in range(3):
        submit(stack)
    apps = [build(stack.app.settings) for _ in range(REPLICAS)]
    try:
        made: list[Any] = together(lambda i: apps[i].ledger.checkpointer.checkpoint(stack.tenant))
    finally:
        for app in apps:
            app.close()
    signed = [c for c in made if c is not None]
    assert len(signed) == 1  # one replica signed the new size; the others found nothing new
    with stack.app.ledger.unit(read_only=True) as unit:
        latest = unit.ledger.latest_checkpoint(stack.tenant)
    assert latest is not None
    assert latest.size == signed[0].size
    code, verified = audit_verify(settings_for(stack, tmp_path, rules_file(tmp_path)))
    assert code == 0, repr(verified)[:2000]


def test_a_duty_lock_has_one_holder_and_frees_itself(migrated_database_url: str) -> None:
    """While one replica holds a duty the others are told no at once; then it is free again."""
    engines = [make_engine(migrated_database_url) for _ in range(2)]
    one, two = (DutyLock(engine, "retention") for engine in engines)
    try:
        with one.exclusive() as first:
            assert first
            with two.exclusive() as second:
                assert not second
        with two.exclusive() as again:
            assert again
    finally:
        for engine in engines:
            engine.dispose()
