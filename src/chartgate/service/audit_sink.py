"""Pushing the ledger to a FHIR audit repository as AuditEvents, at least once, durably.

Why the ledger is the outbox: every event is already stored, in order, in the same
transaction as the change it records. A separate queue would be a second copy that can
disagree with it; an in-memory queue would lose events on a crash. So the sink keeps only
a cursor per (tenant, sink URL): the last seq the endpoint acknowledged. Each push reads
the next entries after the cursor, ``PUT``s each as ``AuditEvent/{id}`` and then moves the
cursor. A crash between a PUT and the cursor update sends that entry again; its id is
derived from (origin, seq) (``ledger.export.audit_event_id``), so the sink updates the
resource it already has instead of storing a second one.

Only entries covered by a signed checkpoint are pushed, so every AuditEvent in the sink
can be proven at once (``GET /v1/audit/proof/{seq}``). Pushing is not itself recorded in
the ledger: each record would be one more entry to push, forever. The cursor table says
what was pushed and when (``chartgate audit push --status``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chartgate.domain.errors import ChartgateError
from chartgate.ledger.export import to_audit_event
from chartgate.service.audit import LedgerUnitFactory, entry_json
from chartgate.service.ports import Clock, JsonObject

NOTHING_PUSHED = -1
"""``last_seq`` of a cursor before the first acknowledged entry."""


@dataclass(frozen=True, slots=True)
class SinkCursor:
    """Where one sink stands for one tenant."""

    tenant: str
    sink: str
    last_seq: int
    pushed: int
    last_error: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class PushReport:
    """What one push of one tenant did."""

    tenant: str
    sink: str
    pushed: int
    last_seq: int
    error: str | None = None
    busy: bool = False  # another worker holds the cursor's lease

    @property
    def caught_up(self) -> bool:
        """Nothing failed and nothing was left for this round."""
        return self.error is None and not self.busy and self.pushed == 0


class AuditEventSink(Protocol):
    """A FHIR endpoint that stores AuditEvents (``adapters/ehr/audit_sink.py``)."""

    @property
    def url(self) -> str:
        """The endpoint's base URL (names the cursor)."""
        ...

    def put(self, resource: JsonObject, *, request_id: str) -> int:
        """``PUT [base]/AuditEvent/{id}``; the HTTP status, or raise ``EhrError`` if no answer."""
        ...


class SinkCursors(Protocol):
    """The cursor table (``adapters/storage/audit_sink.py``); each call is one transaction."""

    def claim(
        self, tenant: str, sink: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> int | None:
        """Take the cursor's lease; its ``last_seq``, or None while another owner holds it."""
        ...

    def advance(
        self,
        tenant: str,
        sink: str,
        *,
        owner: str,
        last_seq: int,
        pushed: int,
        now: datetime,
        error: str | None,
    ) -> bool:
        """Move the cursor forward (never back) and release the lease; False if not ours."""
        ...

    def all(self) -> list[SinkCursor]:
        """Every cursor, for status."""
        ...


class AuditSinkPusher:
    """Pushes each tenant's provable ledger entries to its configured sink."""

    def __init__(
        self,
        *,
        ledger: LedgerUnitFactory,
        cursors: SinkCursors,
        sinks: Mapping[str, AuditEventSink],
        clock: Clock,
        origin_prefix: str,
        owner: str,
        batch: int = 100,
        lease: timedelta = timedelta(seconds=120),
    ) -> None:
        self._ledger = ledger
        self._cursors = cursors
        self._sinks = dict(sinks)
        self._clock = clock
        self._origin_prefix = origin_prefix
        self._owner = owner
        self._batch = batch
        self._lease = lease

    @property
    def tenants(self) -> list[str]:
        """Tenants with a sink configured."""
        return sorted(self._sinks)

    def push(self, tenant: str | None = None) -> list[PushReport]:
        """One batch per tenant (or only ``tenant``); what the worker calls on every poll."""
        names = [tenant] if tenant is not None else self.tenants
        return [self._push(name, self._sinks[name]) for name in names if name in self._sinks]

    def drain(self, tenant: str | None = None, *, max_rounds: int = 10_000) -> list[PushReport]:
        """Push until every tenant is caught up or fails (``chartgate audit push``)."""
        totals: dict[str, PushReport] = {}
        pending = [tenant] if tenant is not None else self.tenants
        for _ in range(max_rounds):
            if not pending:
                break
            still = []
            for name in pending:
                report = self.push(name)[0] if name in self._sinks else None
                if report is None:
                    continue
                before = totals.get(name)
                totals[name] = PushReport(
                    tenant=name,
                    sink=report.sink,
                    pushed=(before.pushed if before else 0) + report.pushed,
                    last_seq=report.last_seq,
                    error=report.error,
                    busy=report.busy,
                )
                if report.pushed and report.error is None and not report.busy:
                    still.append(name)
            pending = still
        return [totals[name] for name in sorted(totals)]

    def status(self) -> list[SinkCursor]:
        """Every cursor (tenant, sink, last seq, count, last error)."""
        return self._cursors.all()

    def _push(self, tenant: str, sink: AuditEventSink) -> PushReport:
        now = self._clock.now()
        last = self._cursors.claim(
            tenant, sink.url, owner=self._owner, now=now, lease_until=now + self._lease
        )
        if last is None:
            return PushReport(tenant, sink.url, pushed=0, last_seq=NOTHING_PUSHED, busy=True)
        origin = f"{self._origin_prefix}/{tenant}"
        with self._ledger(read_only=True) as unit:
            checkpoint = unit.ledger.latest_checkpoint(tenant)
            provable = checkpoint.size if checkpoint is not None else 0
            end = min(provable, last + 1 + self._batch)
            start = last + 1
            entries = (
                [entry_json(e) for e in unit.ledger.entries(tenant, start, end)]
                if end > start
                else []
            )
        acknowledged, pushed, error = last, 0, None
        try:
            for item in entries:
                resource = to_audit_event(item, origin=origin)
                status = sink.put(resource, request_id=str(resource["id"]))
                if not 200 <= status < 300:  # noqa: PLR2004 - HTTP success class
                    error = f"the sink answered HTTP {status} at seq {item['seq']}"
                    break
                acknowledged, pushed = int(item["seq"]), pushed + 1
        except ChartgateError as exc:
            error = f"{type(exc).__name__} at seq {acknowledged + 1}"
        finally:
            self._cursors.advance(
                tenant,
                sink.url,
                owner=self._owner,
                last_seq=acknowledged,
                pushed=pushed,
                now=self._clock.now(),
                error=error,
            )
        return PushReport(tenant, sink.url, pushed=pushed, last_seq=acknowledged, error=error)
