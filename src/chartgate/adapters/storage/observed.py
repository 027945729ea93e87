"""Audit events, told to in-process observers once their transaction has committed.

Metrics and state-change logs are derived from the audit trail instead of from inside the
use cases and the executor: every state change already writes exactly one ledger event, so
counting those events after commit counts what really happened (a rolled-back attempt
counts nothing) and keeps the use cases free of observability code.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, bindparam, select, update

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.ledger import SqlLedger
from chartgate.adapters.storage.unit_of_work import SqlUnitOfWork
from chartgate.adapters.trace_context import current_traceparent
from chartgate.domain.events import AuditRecord, EventType
from chartgate.service.ports import Cipher

log = logging.getLogger(__name__)

TIMED_EVENTS = frozenset({EventType.WRITEBACK_COMMITTED})
"""Events that carry the time their write-back was queued (approve → committed latency)."""


@dataclass(frozen=True, slots=True)
class ObservedEvent:
    """One committed audit event; ``queued_at`` only on ``writeback.committed``."""

    record: AuditRecord
    queued_at: datetime | None = None


Observer = Callable[[Sequence[ObservedEvent]], None]

# Run in every approval's and attempt's transaction: built once per process (``bindparam``).
_d, _w = t.drafts.c, t.writebacks.c
_WRITEBACK_KEY = (_w.tenant == bindparam("q_tenant"), _w.id == bindparam("q_writeback"))
_DRAFT_KEY = (_d.tenant == bindparam("q_tenant"), _d.id == bindparam("q_draft"))
_WRITEBACK_TRACE = select(_w.traceparent).where(*_WRITEBACK_KEY)
_WRITEBACK_QUEUED_AT = select(_w.created_at).where(*_WRITEBACK_KEY)
_DRAFT_TRACE = select(_d.traceparent).where(*_DRAFT_KEY)
_SET_DRAFT_TRACE = update(t.drafts).where(*_DRAFT_KEY).values(traceparent=bindparam("u_trace"))
_SET_WRITEBACK_TRACE = (
    update(t.writebacks).where(*_WRITEBACK_KEY).values(traceparent=bindparam("u_trace"))
)


class EventTap:
    """Observers of committed audit events (metrics, logs); one per process."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []
        self._lock = threading.Lock()

    def subscribe(self, observer: Observer) -> None:
        """Call ``observer`` with every committed batch of events from now on."""
        with self._lock:
            self._observers.append(observer)

    def publish(self, events: Sequence[ObservedEvent]) -> None:
        """Tell every observer; an observer's failure never undoes a committed command."""
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(events)
            except Exception:
                log.exception("an audit event observer failed")


class _RecordingLedger(SqlLedger):
    """The ledger repository, remembering what this transaction appended."""

    def __init__(self, conn: Connection, seen: list[AuditRecord]) -> None:
        super().__init__(conn)
        self._seen = seen
        # A write-back's stored trace, read once per transaction: only ``_carry_trace``
        # changes it, after the last append of the transaction.
        self._traces: dict[tuple[str, str], str | None] = {}

    def append(self, record: AuditRecord) -> int:
        if record.traceparent is None:
            record = dataclasses.replace(record, traceparent=self._trace_of(record))
        seq = super().append(record)
        self._seen.append(record)
        return seq

    def _trace_of(self, record: AuditRecord) -> str | None:
        """The current span's traceparent; in a worker, the one its write-back continues."""
        current = current_traceparent()
        if current or record.writeback_id is None:
            return current
        key = (record.tenant, record.writeback_id)
        if key not in self._traces:
            self._traces[key] = self._conn.execute(
                _WRITEBACK_TRACE, {"q_tenant": record.tenant, "q_writeback": record.writeback_id}
            ).scalar()
        return self._traces[key]


class ObservedUnitOfWork(SqlUnitOfWork):
    """``SqlUnitOfWork`` that publishes its audit events to a tap after a clean commit."""

    def __init__(
        self,
        engine: Engine,
        cipher: Cipher,
        tap: EventTap,
        *,
        read_only: bool = False,
        ehr_vendors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(engine, cipher, read_only=read_only, ehr_vendors=ehr_vendors)
        self._tap = tap
        self._seen: list[AuditRecord] = []
        self._events: list[ObservedEvent] = []

    def __enter__(self) -> Self:
        super().__enter__()
        assert self._conn is not None
        self._seen = []
        self.audit = _RecordingLedger(self._conn, self._seen)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events = []
        super().__exit__(exc_type, exc, tb)  # records the drafts' events, then commits
        if exc_type is None and self._events:
            self._tap.publish(self._events)

    def _before_commit(self) -> None:
        """After the drafts' events are recorded, still in the transaction: what to publish."""
        super()._before_commit()
        if self._seen:
            self._carry_trace()
            self._events = [self._observed(record) for record in self._seen]

    def _carry_trace(self) -> None:
        """Store the trace a draft was submitted in, and hand it to its write-backs.

        Only when tracing is on (there is a current span); in this transaction, so the
        outbox row never exists without the trace it continues.
        """
        current = current_traceparent()
        assert self._conn is not None
        for record in self._seen:
            if record.type is EventType.DRAFT_RECEIVED and current and record.draft_id:
                self._conn.execute(
                    _SET_DRAFT_TRACE,
                    {"q_tenant": record.tenant, "q_draft": record.draft_id, "u_trace": current},
                )
            elif record.type is EventType.WRITEBACK_QUEUED and record.writeback_id:
                submitted = self._conn.execute(
                    _DRAFT_TRACE, {"q_tenant": record.tenant, "q_draft": record.draft_id}
                ).scalar()
                if submitted or current:
                    self._conn.execute(
                        _SET_WRITEBACK_TRACE,
                        {
                            "q_tenant": record.tenant,
                            "q_writeback": record.writeback_id,
                            "u_trace": submitted or current,
                        },
                    )

    def _observed(self, record: AuditRecord) -> ObservedEvent:
        if record.type not in TIMED_EVENTS or record.writeback_id is None or self._conn is None:
            return ObservedEvent(record)
        queued_at = self._conn.execute(
            _WRITEBACK_QUEUED_AT, {"q_tenant": record.tenant, "q_writeback": record.writeback_id}
        ).scalar()
        return ObservedEvent(record, queued_at)
