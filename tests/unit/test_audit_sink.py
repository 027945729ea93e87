"""The audit sink pusher: provable entries only, in order, and the cursor never skips one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from chartgate.domain.errors import EhrAmbiguous
from chartgate.ledger.export import ledger_pointer
from chartgate.ledger.seal import seal
from chartgate.service.audit import StoredCheckpoint, StoredEntry
from chartgate.service.audit_sink import NOTHING_PUSHED, AuditSinkPusher, SinkCursor

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def stored(seq: int) -> StoredEntry:
    event = {"type": "draft.viewed", "at": "2026-11-24T10:00:00Z", "actor": "clinician:x"}
    entry = seal(event, tenant="clinic-a", seq=seq)
    return StoredEntry(
        tenant="clinic-a",
        seq=seq,
        canonical=entry.canonical,
        leaf_hash=entry.leaf_hash,
        type="draft.viewed",
        correlation_id="c",
        actor="clinician:x",
        at=AT,
    )


@dataclass
class FakeLedger:
    """Ten entries, a checkpoint at ``signed``."""

    signed: int = 6
    size: int = 10

    def latest_checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        del tenant
        if not self.signed:
            return None
        return StoredCheckpoint("clinic-a", self.signed, b"r" * 32, "note", b"", AT)

    def entries(self, tenant: str, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        del tenant
        return (
            stored(seq) for seq in range(start, min(self.size if end is None else end, self.size))
        )


@dataclass
class FakeUnit:
    ledger: FakeLedger

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        del exc


@dataclass
class FakeCursors:
    last: int = NOTHING_PUSHED
    owner: str | None = None
    errors: list[str | None] = field(default_factory=list)

    def claim(
        self, tenant: str, sink: str, *, owner: str, now: Any, lease_until: Any
    ) -> int | None:
        del tenant, sink, now, lease_until
        if self.owner not in {None, owner}:
            return None
        self.owner = owner
        return self.last

    def advance(
        self,
        tenant: str,
        sink: str,
        *,
        owner: str,
        last_seq: int,
        pushed: int,
        now: Any,
        error: str | None,
    ) -> bool:
        del tenant, sink, pushed, now
        assert owner == self.owner
        self.last, self.owner = max(self.last, last_seq), None
        self.errors.append(error)
        return True

    def all(self) -> list[SinkCursor]:
        return []


@dataclass
class FakeSink:
    url: str = "http://audit.test/fhir"
    statuses: dict[int, int] = field(default_factory=dict)
    fail_at: int | None = None
    received: list[int] = field(default_factory=list)

    def put(self, resource: dict[str, Any], *, request_id: str) -> int:
        assert request_id == resource["id"]
        pointer = ledger_pointer(resource)
        assert pointer is not None
        if pointer.seq == self.fail_at:
            raise EhrAmbiguous("no answer")
        self.received.append(pointer.seq)
        return self.statuses.get(pointer.seq, 201)


class Clock:
    def now(self) -> datetime:
        return AT


def pusher(
    ledger: FakeLedger, cursors: FakeCursors, sink: FakeSink, batch: int = 100
) -> AuditSinkPusher:
    return AuditSinkPusher(
        ledger=lambda **_: FakeUnit(ledger),  # type: ignore[arg-type,return-value]
        cursors=cursors,
        sinks={"clinic-a": sink},
        clock=Clock(),
        origin_prefix="chartgate.test",
        owner="w1",
        batch=batch,
    )


def test_only_entries_under_a_signed_checkpoint_are_pushed() -> None:
    """Entry 6..9 wait for the next checkpoint, so every pushed AuditEvent is provable now."""
    sink, cursors = FakeSink(), FakeCursors()
    report = pusher(FakeLedger(signed=6), cursors, sink).push()[0]
    assert sink.received == [0, 1, 2, 3, 4, 5]
    assert (report.pushed, report.last_seq, cursors.last) == (6, 5, 5)


def test_nothing_is_pushed_before_the_first_checkpoint() -> None:
    """No checkpoint, no proof: nothing leaves yet."""
    sink = FakeSink()
    assert pusher(FakeLedger(signed=0), FakeCursors(), sink).push()[0].pushed == 0
    assert sink.received == []


def test_a_refusal_stops_the_batch_and_the_cursor_stays_before_it() -> None:
    """A 4xx/5xx at entry 3: entries 0..2 are acknowledged, 3 is retried next time."""
    sink, cursors = FakeSink(statuses={3: 500}), FakeCursors()
    report = pusher(FakeLedger(), cursors, sink).push()[0]
    assert report.error == "the sink answered HTTP 500 at seq 3"
    assert cursors.last == 2
    sink.statuses.clear()
    pusher(FakeLedger(), cursors, sink).push()
    assert sink.received == [0, 1, 2, 3, 3, 4, 5]


def test_no_answer_keeps_the_entry_for_the_next_push() -> None:
    """An ambiguous PUT may have landed; it is sent again (the id makes that an update)."""
    sink, cursors = FakeSink(fail_at=2), FakeCursors()
    report = pusher(FakeLedger(), cursors, sink).push()[0]
    assert report.error == "EhrAmbiguous at seq 2"
    assert cursors.last == 1


def test_drain_pushes_batch_after_batch_until_caught_up() -> None:
    """``chartgate audit push``: small batches, all of it."""
    sink, cursors = FakeSink(), FakeCursors()
    report = pusher(FakeLedger(signed=10), cursors, sink, batch=3).drain()[0]
    assert sink.received == list(range(10))
    assert (report.pushed, report.last_seq) == (10, 9)


def test_a_cursor_leased_by_another_worker_is_left_alone() -> None:
    """Two workers never push the same range at once."""
    sink, cursors = FakeSink(), FakeCursors(owner="w2")
    report = pusher(FakeLedger(), cursors, sink).push()[0]
    assert report.busy
    assert sink.received == []
