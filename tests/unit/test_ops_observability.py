"""Operator-facing observability parts, alone: the log limiter, auth-failure counts, metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import generate_latest

from chartgate.adapters.storage.observed import ObservedEvent
from chartgate.domain.events import AuditRecord, EventType
from chartgate.observability import Metrics, RateLimitFilter, StoreCollector

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str = "chartgate.security") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, "authn.failed", None, None)


def event(kind: EventType, at: datetime = T0, **data: object) -> ObservedEvent:
    return ObservedEvent(
        AuditRecord(
            type=kind,
            tenant="clinic-a",
            at=at,
            correlation_id="c-1",
            actor="worker:w",
            writeback_id="wb-1",
            data={"kind": "approve", **data},
        )
    )


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_a_flood_is_cut_to_the_burst_then_the_rate_and_the_loss_is_reported() -> None:
    """Past the burst, lines are dropped and counted; the next line let through says how many."""
    clock = FakeClock()
    limiter = RateLimitFilter(per_second=1.0, burst=3.0, clock=clock)
    drops: list[str] = []
    limiter.on_drop = drops.append
    passed = [limiter.filter(record()) for _ in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert drops == ["chartgate.security"] * 7
    clock.now = 1.0
    resumed = record()
    assert limiter.filter(resumed)
    assert resumed.dropped == 7  # type: ignore[attr-defined]


def test_each_logger_has_its_own_bucket() -> None:
    """A flood on one logger does not silence another."""
    limiter = RateLimitFilter(per_second=0.0, burst=1.0, clock=FakeClock())
    assert limiter.filter(record("chartgate.security"))
    assert not limiter.filter(record("chartgate.security"))
    assert limiter.filter(record("chartgate.worker"))


def test_auth_failures_on_the_security_stream_are_counted_by_reason() -> None:
    """Stdlib ``extra`` and structlog event dicts both count; odd reasons count as other."""
    metrics = Metrics(process=False)
    unwatch = metrics.watch_security_log()
    try:
        security = logging.getLogger("chartgate.security")
        security.warning("authn.failed", extra={"reason": "expired"})
        security.warning("authn.failed", extra={"reason": "expired"})
        security.warning("authn.failed", extra={"reason": "Bearer eyJ... Patient/1"})
        security.warning({"event": "authentication_failed", "reason": "bad_signature"})
        security.warning("audit.read", extra={"reason": "expired"})  # not an auth failure
    finally:
        unwatch()
    assert sample(metrics, "chartgate_auth_failures_total", reason="expired") == 2
    assert sample(metrics, "chartgate_auth_failures_total", reason="bad_signature") == 1
    assert sample(metrics, "chartgate_auth_failures_total", reason="other") == 1


def test_structlog_security_events_reach_the_counter() -> None:
    """A structlog logger bound to chartgate.security is counted like a stdlib one."""
    metrics = Metrics(process=False)
    unwatch = metrics.watch_security_log()
    structlog.configure(
        processors=[structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    try:
        structlog.get_logger("chartgate.security").warning("authn.failed", reason="unknown_kid")
    finally:
        unwatch()
        structlog.reset_defaults()
    assert sample(metrics, "chartgate_auth_failures_total", reason="unknown_kid") == 1


def test_committed_events_become_outcomes_latencies_and_duplicate_counts() -> None:
    """Request/answer pairs time the EHR; a 200 to a conditional create is a duplicate avoided."""
    metrics = Metrics(profiles={"clinic-a": "epic"}, process=False)
    metrics.observe(
        [
            event(EventType.EHR_REQUEST, method="POST", resource_type="DocumentReference"),
            event(
                EventType.EHR_RESPONSE,
                T0 + timedelta(milliseconds=300),
                method="POST",
                resource_type="DocumentReference",
                status=200,
            ),
            event(EventType.WRITEBACK_RETRY, status=429),
            event(EventType.WRITEBACK_RECONCILED, document_found=True),
        ]
    )
    metrics.observe(
        [
            ObservedEvent(
                event(EventType.WRITEBACK_COMMITTED, T0 + timedelta(seconds=4)).record,
                queued_at=T0.replace(tzinfo=None),  # SQLite hands back naive UTC
            )
        ]
    )
    labels = {"tenant": "clinic-a", "profile": "epic", "method": "POST"}
    assert sample(metrics, "chartgate_ehr_request_seconds_sum", **labels) == 0.3
    assert sample(metrics, "chartgate_ehr_rate_limited_total", tenant="clinic-a", profile="epic")
    assert sample(metrics, "chartgate_duplicates_prevented_total", via="conditional-create") == 1
    assert sample(metrics, "chartgate_duplicates_prevented_total", via="reconcile") == 1
    assert sample(metrics, "chartgate_writeback_attempts_total", kind="approve", outcome="retry")
    assert sample(metrics, "chartgate_approve_to_commit_seconds_sum", kind="approve") == 4.0


def test_refused_drafts_count_their_rules_and_acknowledged_warnings_theirs() -> None:
    """Findings of a refused validation and warnings acknowledged on approval count by rule."""
    metrics = Metrics(process=False)
    metrics.observe(
        [
            event(
                EventType.DRAFT_VALIDATED,
                accepted=False,
                findings=["template-marker@note.text", "unmentioned-resource@resources[0]"],
            ),
            event(EventType.DRAFT_VALIDATED, accepted=True, findings=["x@y"]),
            event(EventType.DRAFT_APPROVED, warnings_acknowledged=["dose-unit@note.text"]),
        ]
    )
    rule = "chartgate_policy_findings_total"
    assert sample(metrics, rule, rule="template-marker", accepted="false") == 1
    assert sample(metrics, rule, rule="unmentioned-resource", accepted="false") == 1
    assert sample(metrics, rule, rule="x", accepted="false") == 0
    assert sample(metrics, rule, rule="dose-unit", accepted="true") == 1


def test_a_store_that_does_not_answer_a_scrape_reads_store_up_zero() -> None:
    """The scrape succeeds and says the store is down instead of failing."""
    metrics = Metrics(process=False)

    def broken() -> object:
        raise ConnectionError

    metrics.registry.register(StoreCollector(broken, lambda: T0))  # type: ignore[arg-type]
    text = generate_latest(metrics.registry).decode()
    assert "chartgate_store_up 0.0" in text
    assert "chartgate_writeback_queue" not in text
