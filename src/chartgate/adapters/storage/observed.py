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
from chartgate.adapters.storage.writebacks import WritebackRepository
from chartgate.adapters.trace_context import current_traceparent
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.utc import as_utc
from chartgate.service.ports import Cipher, WritebackRecord

log = logging.getLogger(__name__)

TIMED_EVENTS = frozenset({EventType.WRITEBACK_COMMITTED})
"""Events that carry the time their write-back was queued (approve → committed latency)."""

Facts = tuple[str | None, datetime | None]
"""A write-back's stored trace and the time it was queued: neither changes once it commits."""
_KNOWN: dict[tuple[str, str], Facts] = {}
"""(tenant, write-back id) -> facts read by a committed transaction that did not queue it.

Both are written only in the transaction that queues the write-back, so once a later
transaction read them they stand: a worker reads them once per write-back, not in each of
its transactions (issue 20). Bounded: emptied when it reaches ``_KNOWN_MAX``."""
_KNOWN_MAX = 4096
_FACTS = select(t.writebacks.c.traceparent, t.writebacks.c.created_at).where(
    t.writebacks.c.tenant == bindparam("f_tenant"), t.writebacks.c.id == bindparam("f_id")
)


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

    def __init__(
        self, conn: Connection, seen: list[AuditRecord], read: dict[tuple[str, str], Facts]
    ) -> None:
        super().__init__(conn)
        self._seen = seen
        # Write-back facts this transaction read (once): only ``_carry_trace`` changes the
        # trace, after the last append of the transaction that queues the write-back.
        self._read = read

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
        return facts_of(self._conn, self._read, record.tenant, record.writeback_id)[0]


def facts_of(
    conn: Connection, read: dict[tuple[str, str], Facts], tenant: str, writeback_id: str
) -> Facts:
    """A write-back's trace and queue time: known, read in this transaction, or read now."""
    key = (tenant, writeback_id)
    found = _KNOWN.get(key) or read.get(key)
    if found is None:
        row = conn.execute(_FACTS, {"f_tenant": tenant, "f_id": writeback_id}).first()
        found = read[key] = (row[0], row[1]) if row is not None else (None, None)
    return found


class _RecordingWritebacks(WritebackRepository):
    """The outbox repository, remembering the facts of the rows this transaction inserts.

    An inserted row's trace is NULL (``_carry_trace`` sets it just before commit, after the
    appends) and its queue time is the record's: the ledger appends of the approval that
    queues it need not read them back (issue 20).
    """

    def __init__(
        self,
        conn: Connection,
        cipher: Cipher,
        read: dict[tuple[str, str], Facts],
        *,
        ehr_vendors: Mapping[str, str] | None,
    ) -> None:
        super().__init__(conn, cipher, ehr_vendors=ehr_vendors)
        self._read = read
        self.added: set[tuple[str, str]] = set()

    def add(self, record: WritebackRecord) -> None:
        super().add(record)
        key = (record.tenant, record.id)
        self._read[key] = (None, as_utc(record.created_at))
        self.added.add(key)


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
        self._read: dict[tuple[str, str], Facts] = {}

    def __enter__(self) -> Self:
        super().__enter__()
        assert self._conn is not None
        self._seen = []
        self._read = {}
        self.audit = _RecordingLedger(self._conn, self._seen, self._read)
        self.writebacks = _RecordingWritebacks(
            self._conn, self._cipher, self._read, ehr_vendors=self._ehr_vendors
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events = []
        super().__exit__(exc_type, exc, tb)  # records the drafts' events, then commits
        if exc_type is None:
            self._keep_facts()
            if self._events:
                self._tap.publish(self._events)

    def _keep_facts(self) -> None:
        """Keep what this committed transaction read, unless it queued that write-back."""
        queued = {
            (r.tenant, r.writeback_id) for r in self._seen if r.type is EventType.WRITEBACK_QUEUED
        }
        if isinstance(self.writebacks, _RecordingWritebacks):
            queued |= self.writebacks.added
        fresh = {key: facts for key, facts in self._read.items() if key not in queued}
        if fresh:
            if len(_KNOWN) + len(fresh) > _KNOWN_MAX:
                _KNOWN.clear()
            _KNOWN.update(fresh)

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
        _, queued_at = facts_of(self._conn, self._read, record.tenant, record.writeback_id)
        return ObservedEvent(record, queued_at)
