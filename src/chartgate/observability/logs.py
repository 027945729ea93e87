"""Logs, kept apart from the clinical audit trail: JSON lines, scrubbed, rate-limited.

Logs go through a scrubbing processor that drops anything that looks like clinical content
or a credential before it is rendered: structlog events and, through the same processor
chain, every stdlib ``logging`` record (uvicorn, httpx, SQLAlchemy, our own
``logging.getLogger`` users). Tracebacks are reduced to the exception's type: an exception
message can quote a SQL parameter, a URL or a request body. Lines are rate-limited per
logger so a flood cannot fill a disk. The test that holds all of this to account is
``tests/integration/test_phi_separation.py``.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import trace as otel_trace

if TYPE_CHECKING:
    from chartgate.adapters.storage.observed import ObservedEvent

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
_SUSPECT = re.compile(r"eyJ|\s|/|\?")
"""What every pattern above needs to match (a token's ``eyJ``, the blank after ``Bearer``, a
reference's ``/``, a query's ``?``): a value without any (an id, a state, a status class) is
left as it is after one search instead of four substitutions (issue 20: a worker logs 8+
lines per write-back, each with ten or so such values)."""

FOREIGN_LOGGERS_KEPT = ("chartgate", "uvicorn.error", "alembic")
"""stdlib loggers whose messages are our own or fixed text; any other logger's message is
replaced (httpx logs URLs, SQLAlchemy logs SQL parameters, uvicorn.access logs paths)."""


def _scrub_text(value: str) -> str:
    if _SUSPECT.search(value) is None:
        return value
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


SECURITY_LOGGER = "chartgate.security"
"""The security engineer's stream of authentication failures; records carry ``reason``."""
