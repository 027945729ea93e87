"""The W3C trace context of the current span, as the ``traceparent`` string the store keeps.

Apart from ``telemetry.py`` so that the storage adapter (which stamps a ``traceparent`` on each
outbox row) and the tracing set-up (which reads stored rows back) do not import each other.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None when there is none (tracing off)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> Context | None:
    """The context a stored ``traceparent`` names (None for nothing or a malformed value)."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})
