"""Metrics and logs, kept apart from the clinical audit trail.

Metrics carry no patient, user or tenant labels: only the route template, the method and
the status class. Logs go through a scrubbing processor that drops anything that looks like
clinical content or a credential before it is rendered: structlog events and, through the
same processor chain, every stdlib ``logging`` record (uvicorn, httpx, SQLAlchemy, our own
``logging.getLogger`` users). Tracebacks are reduced to the exception's type: an exception
message can quote a SQL parameter, a URL or a request body. The test that holds all of this
to account is ``tests/integration/test_phi_separation.py``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

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
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            exception_type_only,
            scrub_phi,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
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


class Metrics:
    """The Prometheus registry of one process (no identifiers in labels)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chartgate_http_requests_total",
            "HTTP requests by route template, method and status class.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "chartgate_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            registry=self.registry,
        )
