"""Metrics and logs, kept apart from the clinical audit trail.

``logs`` (JSON lines, scrubbing, the rate limiter), ``metrics`` (the Prometheus registry fed
by committed audit events) and ``store_collector`` (gauges read at scrape time); this package
re-exports what the edges use.

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

from chartgate.observability.logs import (
    LOG_RATE_LIMIT,
    SAFE_KEYS,
    SECURITY_LOGGER,
    RateLimitFilter,
    configure_logging,
    current_trace_id,
    log_request,
    log_state_changes,
    scrub_phi,
    status_class,
)
from chartgate.observability.metrics import WRITEBACK_OUTCOMES, Metrics, SecurityLogCounter
from chartgate.observability.store_collector import StoreCollector

__all__ = [
    "LOG_RATE_LIMIT",
    "SAFE_KEYS",
    "SECURITY_LOGGER",
    "WRITEBACK_OUTCOMES",
    "Metrics",
    "RateLimitFilter",
    "SecurityLogCounter",
    "StoreCollector",
    "configure_logging",
    "current_trace_id",
    "log_request",
    "log_state_changes",
    "scrub_phi",
    "status_class",
]
