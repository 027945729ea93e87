"""Metrics and logs, kept apart from the clinical audit trail.

Metrics carry no patient, user or tenant labels: only the route template, the method and
the status class. Logs go through a scrubbing processor that drops anything that looks like
clinical content or a credential before it is rendered.
"""

from __future__ import annotations

import logging
import re
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
    }
)
_TOKEN = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


def scrub_phi(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:  # noqa: ANN401
    """Keep only allow-listed keys and blank anything that looks like a bearer token."""
    for key in list(event):
        if key not in SAFE_KEYS:
            event[key] = "[scrubbed]"
        elif isinstance(event[key], str):
            event[key] = _TOKEN.sub("[token]", event[key])
    return event


def configure_logging(level: str = "INFO") -> None:
    """JSON logs with PHI scrubbing; call once per process from an entry point."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub_phi,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        cache_logger_on_first_use=True,
    )


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
        self.writebacks = Counter(
            "chartgate_writebacks_total",
            "Write-back attempts by outcome.",
            ["outcome"],
            registry=self.registry,
        )
