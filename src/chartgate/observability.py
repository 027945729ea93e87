"""Metrics and logs, kept apart from the clinical audit trail.

Metrics carry no patient, user or draft labels: only bounded sets (route template, method,
status class, write-back kind and outcome, EHR profile, and the tenant: a configured
organisation id). Write-back metrics are counted from committed audit events, queue and
ledger gauges are read from the store at scrape time (docs/ops/metrics.md). Log lines are
rate-limited per logger so a flood cannot fill a disk.

Logs go through a scrubbing processor that drops anything that looks like clinical content
or a credential before it is rendered: structlog events and, through the same processor
chain, every stdlib ``logging`` record (uvicorn, httpx, SQLAlchemy, our own
``logging.getLogger`` users). Tracebacks are reduced to the exception's type: an exception
message can quote a SQL parameter, a URL or a request body. The test that holds all of this
to account is ``tests/integration/test_phi_separation.py``.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import trace as otel_trace
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chartgate.domain.events import AuditRecord, EventType

if TYPE_CHECKING:
    from chartgate.adapters.storage.observed import ObservedEvent
    from chartgate.adapters.storage.ops_stats import OpsSnapshot

SAFE_KEYS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "logger",
        "route",
        "method",
        "status",
        "duration_ms",
        "draft_id",
        "writeback_id",
        "correlation_id",
        "request_id",
        "state",
        "attempt",
        "worker",
        "taken",
        "url",
        "port",
        "count",
        "error",
        # Added for operators (issue 15): all ids, codes, classes or numbers, never content.
        "tenant",
        "kind",
        "type",
        "seq",
        "status_class",
        "outcome",
        "profile",
        "resource_type",
        "reason_code",
        "trace_id",
        "dropped",
        "metrics_port",
        "next_attempt_in_s",
        "version",
    }
)
_TOKEN = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
# A FHIR reference (``Patient/pat-001``, also inside a URL): a resource type is one capital
# letter followed by lower-case ones, so route templates and ``HTTP/1.1`` are left alone.
_REFERENCE = re.compile(r"\b[A-Z][a-z][A-Za-z]{1,62}/[A-Za-z0-9\-.]{1,64}")
_QUERY = re.compile(r"\?[^\s\"']*")

FOREIGN_LOGGERS_KEPT = ("chartgate", "uvicorn.error", "alembic")
"""stdlib loggers whose messages are our own or fixed text; any other logger's message is
replaced (httpx logs URLs, SQLAlchemy logs SQL parameters, uvicorn.access logs paths)."""


def _scrub_text(value: str) -> str:
    value = _TOKEN.sub("[token]", value)
    value = _BEARER.sub(r"\1 [token]", value)
    value = _REFERENCE.sub("[reference]", value)
    return _QUERY.sub("?[query]", value)


def scrub_phi(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:  # noqa: ANN401
    """Keep only allow-listed keys; blank tokens, FHIR references and query strings in them."""
    for key in list(event):
        if key not in SAFE_KEYS:
            event[key] = "[scrubbed]"
        elif isinstance(event[key], str):
            event[key] = _scrub_text(event[key])
    return event


def exception_type_only(
    _: Any,  # noqa: ANN401 - the logger, unused
    __: str,
    event: MutableMapping[str, Any],
) -> MutableMapping[str, Any]:
    """Replace a traceback by the exception's type name (``error``)."""
    info = event.pop("exc_info", None)
    event.pop("exception", None)
    event.pop("stack_info", None)
    if info is True:
        info = sys.exc_info()
    if isinstance(info, BaseException):
        event["error"] = type(info).__name__
    elif isinstance(info, tuple) and info and info[0] is not None:
        event["error"] = info[0].__name__
    return event


def foreign_message(
    _: Any,  # noqa: ANN401 - the logger, unused
    __: str,
    event: MutableMapping[str, Any],
) -> MutableMapping[str, Any]:
    """A stdlib record of another library keeps its logger and level, not its message."""
    name = str(event.get("logger") or "")
    if not name.startswith(FOREIGN_LOGGERS_KEPT):
        event["event"] = "[scrubbed]"
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time (a test harness may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO") -> None:
    """JSON logs on stderr with PHI scrubbing, for structlog and stdlib; call once per process.

    structlog events and stdlib records (uvicorn, httpx, SQLAlchemy, ...) are rendered by
    the same chain through ``structlog.stdlib.ProcessorFormatter`` on one root handler;
    uvicorn's access log is switched off (``serve`` also passes ``access_log=False``): the
    metrics count requests by route template instead.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, foreign_message],
        processors=[
            _dropped_from_record,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            exception_type_only,
            scrub_phi,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
    handler.addFilter(LOG_RATE_LIMIT)
    handler.set_name("chartgate-scrubbed")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "chartgate-scrubbed":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # Send uvicorn's records to the scrubbed root handler, never to its own.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


class RateLimitFilter(logging.Filter):
    """A token bucket per logger: a flood (refused tokens, a crash loop) cannot fill a disk.

    Each logger may write ``burst`` lines at once and ``per_second`` lines a second after
    that; the rest are dropped and counted, and the first line let through after a drop
    says how many were lost (``dropped``). Metrics still count every event.
    """

    def __init__(
        self,
        *,
        per_second: float = 50.0,
        burst: float = 500.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._rate = per_second
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._dropped: dict[str, int] = {}
        self._lock = threading.Lock()
        self.on_drop: Callable[[str], None] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Let the record through while its logger has tokens left."""
        name = record.name
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(name, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[name] = (tokens, now)
                self._dropped[name] = self._dropped.get(name, 0) + 1
                allowed = False
            else:
                self._buckets[name] = (tokens - 1.0, now)
                dropped = self._dropped.pop(name, 0)
                allowed = True
        if not allowed:
            if self.on_drop is not None:
                self.on_drop(name)
            return False
        if dropped:
            _note_dropped(record, dropped)
        return True


def _note_dropped(record: logging.LogRecord, dropped: int) -> None:
    """Say on the next line let through how many lines of its logger were dropped."""
    if isinstance(record.msg, dict):
        record.msg = {**record.msg, "dropped": dropped}
    else:
        record.dropped = dropped


def _dropped_from_record(
    _: Any,  # noqa: ANN401 - the logger, unused
    __: str,
    event: MutableMapping[str, Any],
) -> MutableMapping[str, Any]:
    record = event.get("_record")
    dropped = getattr(record, "dropped", None)
    if dropped is not None:
        event["dropped"] = dropped
    return event


LOG_RATE_LIMIT = RateLimitFilter()
"""The process's one limiter, on the scrubbed root handler (metrics subscribe to drops)."""


def current_trace_id() -> str | None:
    """The current span's trace id in hex, to find a log line's trace (None: tracing off)."""
    context = otel_trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def log_request(
    *,
    route: str,
    method: str,
    status: int,
    duration_s: float,
    request_id: str | None,
    tenant: str | None,
    trace_id: str | None = None,
) -> None:
    """One JSON line per HTTP request: route template, never the path or query."""
    structlog.get_logger("chartgate.access").info(
        "http.request",
        route=route,
        method=method,
        status=status,
        duration_ms=round(duration_s * 1000, 1),
        request_id=request_id,
        tenant=tenant,
        trace_id=trace_id,
    )


def log_state_changes(events: Sequence[ObservedEvent]) -> None:
    """One JSON line per committed audit event: ids, type, state, status class, never content."""
    logger = structlog.get_logger("chartgate.events")
    for observed in events:
        record = observed.record
        data = record.data
        status = data.get("status")
        logger.info(
            record.type.value,
            tenant=record.tenant,
            draft_id=record.draft_id,
            writeback_id=record.writeback_id,
            correlation_id=record.correlation_id,
            request_id=record.request_id,
            state=data.get("state"),
            kind=data.get("kind"),
            attempt=data.get("attempt"),
            method=data.get("method"),
            resource_type=data.get("resource_type"),
            status_class=status_class(status) if "status" in data else None,
        )


def status_class(status: object) -> str:
    """``2xx`` … ``5xx`` for an HTTP status, ``none`` when the request got no answer."""
    if isinstance(status, int) and 100 <= status < 600:  # noqa: PLR2004 - HTTP's range
        return f"{status // 100}xx"
    return "none"


WRITEBACK_OUTCOMES = {
    EventType.WRITEBACK_COMMITTED: "committed",
    EventType.WRITEBACK_CONFLICT: "conflict",
    EventType.WRITEBACK_REJECTED: "rejected",
    EventType.WRITEBACK_AMBIGUOUS: "ambiguous",
    EventType.WRITEBACK_RETRY: "retry",
    EventType.WRITEBACK_ESCALATED: "escalated",
    EventType.WRITEBACK_LEASE_LOST: "lease_lost",
}
"""Events that end one write-back attempt, by the outcome label they count under."""

_PENDING_LIMIT = 10_000
_REASON = re.compile(r"^[a-z][a-z0-9_.\-]{0,39}$")


class Metrics:
    """The Prometheus registry of one process (no patient, user or draft in any label).

    Labels are bounded sets: route templates, kinds, outcomes, status classes, the EHR
    profile and the tenant (a configured organisation id, a handful per deployment).
    Write-back outcomes are counted from committed audit events (``observe``), queue and
    ledger gauges are read from the store at scrape time (``StoreCollector``).
    """

    def __init__(self, *, profiles: Mapping[str, str] | None = None, process: bool = True) -> None:
        self.registry = CollectorRegistry()
        self._profiles = dict(profiles or {})
        self._pending: dict[tuple[str, str, str, str], datetime] = {}
        self._lock = threading.Lock()
        r = self.registry
        self.requests = Counter(
            "chartgate_http_requests_total",
            "HTTP requests by route template, method and status class.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "chartgate_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            registry=r,
        )
        self.writebacks = Counter(
            "chartgate_writeback_attempts_total",
            "Write-back attempts by kind and how they ended (committed, conflict, rejected, "
            "ambiguous, retry, escalated, lease_lost).",
            ["kind", "outcome"],
            registry=r,
        )
        self.approve_to_commit = Histogram(
            "chartgate_approve_to_commit_seconds",
            "Seconds from a clinician's approval (the outbox row) to the EHR's commit.",
            ["kind"],
            buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 14400),
            registry=r,
        )
        self.ehr_requests = Counter(
            "chartgate_ehr_requests_total",
            "Requests to an EHR by tenant, profile, method, resource type and status class.",
            ["tenant", "profile", "method", "resource_type", "status_class"],
            registry=r,
        )
        self.ehr_latency = Histogram(
            "chartgate_ehr_request_seconds",
            "EHR request latency (request to answer, as recorded in the ledger).",
            ["tenant", "profile", "method"],
            registry=r,
        )
        self.reconciliations = Counter(
            "chartgate_reconciliations_total",
            "Reconciliations after an unknown outcome: found (it had landed) or absent.",
            ["result"],
            registry=r,
        )
        self.duplicates_prevented = Counter(
            "chartgate_duplicates_prevented_total",
            "Resends that did not create a second document: found by reconciliation, or "
            "matched by the EHR's conditional create (If-None-Exist answered 200).",
            ["via"],
            registry=r,
        )
        self.rate_limited = Counter(
            "chartgate_ehr_rate_limited_total",
            "Attempts the EHR refused with 429 (the worker waits Retry-After).",
            ["tenant", "profile"],
            registry=r,
        )
        self.integrity_refusals = Counter(
            "chartgate_integrity_refusals_total",
            "Write-backs refused because the payload no longer matched the approval.",
            registry=r,
        )
        self.policy_findings = Counter(
            "chartgate_policy_findings_total",
            "Policy and validation findings by rule code, on refused drafts (accepted=false) "
            "or acknowledged on approval (accepted=true).",
            ["rule", "accepted"],
            registry=r,
        )
        self.refusals = Counter(
            "chartgate_policy_refusals_total",
            "API requests refused by the write-back matrix or validation, by rule code "
            "(one count per finding; policy-denied for a matrix refusal).",
            ["rule"],
            registry=r,
        )
        self.auth_failures = Counter(
            "chartgate_auth_failures_total",
            "Authentication failures by reason (from the chartgate.security log stream).",
            ["reason"],
            registry=r,
        )
        self.log_dropped = Counter(
            "chartgate_log_lines_dropped_total",
            "Log lines dropped by the rate limiter, by logger.",
            ["logger"],
            registry=r,
        )
        self.worker_polls = Counter(
            "chartgate_worker_polls_total", "Worker poll loops completed.", registry=r
        )
        self.worker_last_poll = Gauge(
            "chartgate_worker_last_poll_timestamp_seconds",
            "Unix time of the worker's last completed poll (staleness means a stuck worker).",
            registry=r,
        )
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)

    # -- committed audit events ------------------------------------------------------------

    def observe(self, events: Sequence[ObservedEvent]) -> None:
        """Count what committed audit events say happened."""
        for observed in events:
            self._observe_one(observed)

    def _observe_one(self, observed: ObservedEvent) -> None:
        record = observed.record
        data = record.data
        kind = str(data.get("kind") or "unknown")
        outcome = WRITEBACK_OUTCOMES.get(record.type)
        profile = self._profiles.get(record.tenant, "unknown")
        if outcome is not None:
            self.writebacks.labels(kind, outcome).inc()
            if data.get("status") == 429:  # noqa: PLR2004 - Too Many Requests
                self.rate_limited.labels(record.tenant, profile).inc()
        if record.type is EventType.WRITEBACK_COMMITTED and observed.queued_at is not None:
            queued = _utc(observed.queued_at)
            self.approve_to_commit.labels(kind).observe(
                max(0.0, (record.at - queued).total_seconds())
            )
        else:
            self._observe_step(record, profile)

    def _observe_step(self, record: AuditRecord, profile: str) -> None:
        data = record.data
        if record.type is EventType.INTEGRITY_REFUSED:
            self.integrity_refusals.inc()
        elif record.type is EventType.WRITEBACK_RECONCILED:
            found = bool(data.get("document_found"))
            self.reconciliations.labels("found" if found else "absent").inc()
            if found:
                self.duplicates_prevented.labels("reconcile").inc()
        elif record.type is EventType.EHR_REQUEST:
            self._request_started(record)
        elif record.type is EventType.EHR_RESPONSE:
            self._request_answered(record, profile)
        elif record.type is EventType.DRAFT_VALIDATED and not data.get("accepted", True):
            for key in data.get("findings") or ():
                self.policy_findings.labels(_rule(key), "false").inc()
        elif record.type is EventType.DRAFT_APPROVED:
            for key in data.get("warnings_acknowledged") or ():
                self.policy_findings.labels(_rule(key), "true").inc()

    def _key(self, record: AuditRecord) -> tuple[str, str, str, str]:
        data = record.data
        return (
            record.tenant,
            str(record.writeback_id),
            str(data.get("method")),
            str(data.get("resource_type")),
        )

    def _request_started(self, record: AuditRecord) -> None:
        with self._lock:
            if len(self._pending) >= _PENDING_LIMIT:
                self._pending.clear()  # answers lost to a crash must not grow without bound
            self._pending[self._key(record)] = record.at

    def _request_answered(self, record: AuditRecord, profile: str) -> None:
        data = record.data
        method = str(data.get("method") or "unknown")
        status = data.get("status")
        self.ehr_requests.labels(
            record.tenant,
            profile,
            method,
            str(data.get("resource_type") or "unknown"),
            status_class(status),
        ).inc()
        if method == "POST" and status == 200:  # noqa: PLR2004 - If-None-Exist matched
            self.duplicates_prevented.labels("conditional-create").inc()
        with self._lock:
            started = self._pending.pop(self._key(record), None)
        if started is not None:
            seconds = max(0.0, (record.at - started).total_seconds())
            self.ehr_latency.labels(record.tenant, profile, method).observe(seconds)

    def count_refusal(self, error: Exception) -> None:
        """Count a refused request by the rules that refused it (no-op for other errors)."""
        findings = getattr(error, "findings", None)
        if findings is not None:
            for finding in findings:
                if str(getattr(finding, "severity", "")) in {"error", "Severity.ERROR"}:
                    self.refusals.labels(_rule(getattr(finding, "code", "other"))).inc()
        elif type(error).__name__ == "PolicyDenied":
            self.refusals.labels("policy-denied").inc()

    # -- the security log stream and the log limiter ---------------------------------------

    def count_auth_failure(self, reason: object) -> None:
        """One authentication failure; an unexpected reason counts as ``other``."""
        text = str(reason) if reason is not None else "unspecified"
        self.auth_failures.labels(text if _REASON.match(text) else "other").inc()

    def watch_security_log(self) -> Callable[[], None]:
        """Count auth failures logged on ``chartgate.security``; return the un-watch call."""
        handler = SecurityLogCounter(self)
        logger = logging.getLogger(SECURITY_LOGGER)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.INFO)

        def unwatch() -> None:
            logger.removeHandler(handler)

        return unwatch

    def watch_log_drops(self, limiter: RateLimitFilter = LOG_RATE_LIMIT) -> None:
        """Count the lines ``limiter`` drops."""
        limiter.on_drop = lambda name: self.log_dropped.labels(name).inc()


SECURITY_LOGGER = "chartgate.security"
"""The security engineer's stream of authentication failures; records carry ``reason``."""


class SecurityLogCounter(logging.Handler):
    """Counts authentication-failure records of the security log stream by ``reason``.

    Works for stdlib records (``extra={"reason": ...}``) and structlog events (the event
    dict's ``reason``). Counting happens before the rate limiter, so a flood is counted in
    full even when most of its lines are dropped.
    """

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(level=logging.INFO)
        self._metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        """Count ``record`` if it is an authentication failure."""
        if isinstance(record.msg, dict):
            name = str(record.msg.get("event", ""))
            reason = record.msg.get("reason")
        else:
            name = str(record.msg)
            reason = getattr(record, "reason", None)
        if "auth" in name.lower():
            self._metrics.count_auth_failure(reason)


def _rule(key: object) -> str:
    """The rule code of a finding key (``code@location``), bounded for a label."""
    code = str(key).split("@", 1)[0]
    return code if _REASON.match(code) else "other"


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC only."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class StoreCollector(Collector):
    """Queue, ledger and audit-sink gauges read from the store at scrape time.

    A store that does not answer gives ``chartgate_store_up 0`` instead of a failed scrape.
    """

    def __init__(self, snapshot: Callable[[], OpsSnapshot], now: Callable[[], datetime]) -> None:
        self._snapshot = snapshot
        self._now = now

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges of one snapshot."""
        up = GaugeMetricFamily("chartgate_store_up", "1 when the store answered the scrape.")
        try:
            snap = self._snapshot()
        except Exception:  # noqa: BLE001 - a scrape must report the failure, not raise
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        now = self._now()
        depth = GaugeMetricFamily(
            "chartgate_writeback_queue", "Write-backs by open state.", labels=["state"]
        )
        age = GaugeMetricFamily(
            "chartgate_writeback_oldest_age_seconds",
            "Age of the oldest write-back in each open state (0 when none).",
            labels=["state"],
        )
        for state, item in sorted(snap.queue.items()):
            depth.add_metric([state], float(item.count))
            oldest = 0.0 if item.oldest is None else (now - _utc(item.oldest)).total_seconds()
            age.add_metric([state], max(0.0, oldest))
        size = GaugeMetricFamily(
            "chartgate_ledger_entries", "Entries in each tenant's audit ledger.", labels=["tenant"]
        )
        checkpoint = GaugeMetricFamily(
            "chartgate_ledger_checkpoint_age_seconds",
            "Seconds since each tenant's last signed checkpoint (+Inf: never signed).",
            labels=["tenant"],
        )
        for tenant, entries in sorted(snap.ledger_size.items()):
            size.add_metric([tenant], float(entries))
            signed = snap.last_checkpoint.get(tenant)
            seconds = math.inf if signed is None else (now - _utc(signed)).total_seconds()
            checkpoint.add_metric([tenant], max(0.0, seconds))
        backlog = GaugeMetricFamily(
            "chartgate_audit_sink_backlog",
            "Ledger entries not yet acknowledged by the tenant's AuditEvent sink.",
            labels=["tenant"],
        )
        for tenant, behind in sorted(snap.sink_backlog.items()):
            backlog.add_metric([tenant], float(behind))
        yield from (depth, age, size, checkpoint, backlog)
