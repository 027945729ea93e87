"""Prometheus metrics of one process: no patient, user or draft in any label.

Labels are bounded sets (route template, method, status class, write-back kind and outcome,
EHR profile, and the tenant: a configured organisation id). Write-back metrics are counted
from committed audit events; queue, ledger and kill-switch gauges are read from the store at
scrape time (``store_collector.py``; docs/ops/metrics.md).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from chartgate.adapters.ehr.rate import RATE_LOGGER
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.utc import as_utc
from chartgate.observability.logs import (
    LOG_RATE_LIMIT,
    SECURITY_LOGGER,
    RateLimitFilter,
    status_class,
)

if TYPE_CHECKING:
    from chartgate.adapters.storage.observed import ObservedEvent

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
        self.governor_waits = Counter(
            "chartgate_rate_governor_waits_total",
            "Times a request waited for a token of the tenant EHR's outbound rate governor.",
            ["tenant"],
            registry=r,
        )
        self.governor_wait_seconds = Counter(
            "chartgate_rate_governor_wait_seconds_total",
            "Seconds requests waited for the tenant EHR's outbound rate governor.",
            ["tenant"],
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
            queued = as_utc(observed.queued_at)
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

    def count_governor_wait(self, governor: object, seconds: object) -> None:
        """One wait of a tenant EHR's rate governor (key ``ehr:<tenant>``; others: ``other``)."""
        tenant = str(governor).removeprefix("ehr:")
        label = tenant if tenant in self._profiles else "other"
        self.governor_waits.labels(label).inc()
        if isinstance(seconds, int | float) and seconds > 0:
            self.governor_wait_seconds.labels(label).inc(seconds)

    def watch_rate_governor(self) -> Callable[[], None]:
        """Count the governors' waits logged on ``chartgate.ehr.rate``; return the un-watch."""
        handler = GovernorWaitCounter(self)
        logger = logging.getLogger(RATE_LOGGER)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)

        def unwatch() -> None:
            logger.removeHandler(handler)

        return unwatch

    def watch_log_drops(self, limiter: RateLimitFilter = LOG_RATE_LIMIT) -> None:
        """Count the lines ``limiter`` drops."""
        limiter.on_drop = lambda name: self.log_dropped.labels(name).inc()


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


class GovernorWaitCounter(logging.Handler):
    """Counts the rate governor's ``ehr.rate_wait`` records (before any log limiter)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(level=logging.INFO)
        self._metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        """Count ``record`` if it is a governor wait."""
        if record.msg == "ehr.rate_wait":
            self._metrics.count_governor_wait(
                getattr(record, "governor", None), getattr(record, "seconds", None)
            )


def _rule(key: object) -> str:
    """The rule code of a finding key (``code@location``), bounded for a label."""
    code = str(key).split("@", 1)[0]
    return code if _REASON.match(code) else "other"
