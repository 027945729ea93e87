"""The processor gate: every outbound request is checked against the BAA registry first.

``build_client`` (``http.py``, the one client factory) wraps its transport in
``GatedTransport``, so no request leaves chartgate unless its URL is under a registered
processor whose BAA is in force today (``domain/processors.py``). A refused request raises
``ProcessorRefused``, a ``httpx.ConnectError``: every caller already treats that as "could
not connect, nothing was sent", which is exactly true, so the write-back executor retries
later instead of reconciling, and webhook and sink pushers keep their cursors. Each refusal
is reported once to ``on_refused`` (bootstrap records a ``processor.disclosure_refused``
ledger event per tenant the client sends for).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

import httpx

from chartgate.domain.processors import BaaStatus, ProcessorRegistry, origin_of

_log = logging.getLogger("chartgate.security")


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused request: for whom, to which origin, which processor and why (no PHI)."""

    tenants: tuple[str, ...]
    origin: str
    processor: str | None  # None: no processor covers the URL
    status: str  # a BaaStatus value, or "unregistered"
    purpose: str  # what the client is for: "ehr", "audit-sink", "webhook", "identity", ...


class ProcessorRefused(httpx.ConnectError):
    """The destination is unregistered or its BAA is not in force; no byte was sent."""

    def __init__(self, refusal: Refusal, request: httpx.Request) -> None:
        super().__init__(
            f"processor gate refused {refusal.origin} ({refusal.status})", request=request
        )
        self.refusal = refusal


@dataclass(frozen=True)
class ProcessorGate:
    """The registry, today's date and who hears about refusals; one per client purpose."""

    registry: ProcessorRegistry
    today: Callable[[], date]
    on_refused: Callable[[Refusal], None] | None = None
    tenants: tuple[str, ...] = ()
    purpose: str = "ehr"

    def bound(self, *, tenants: tuple[str, ...], purpose: str) -> ProcessorGate:
        """The same gate for a client that sends for ``tenants`` and ``purpose``."""
        return replace(self, tenants=tenants, purpose=purpose)

    def refusal(self, url: str) -> Refusal | None:
        """Why ``url`` may not be sent to now, or None when it may."""
        processor = self.registry.for_url(url)
        if processor is None:
            status = "unregistered"
        else:
            baa = processor.baa_status(self.today())
            if baa.permits_traffic:
                return None
            status = baa.value
        return Refusal(
            tenants=self.tenants,
            origin=origin_of(url),
            processor=processor.id if processor else None,
            status=status,
            purpose=self.purpose,
        )

    def refused_status(self, url: str) -> str | None:
        """Why ``url`` would be refused (unregistered, expired, missing), else None."""
        refusal = self.refusal(url)
        return None if refusal is None else refusal.status

    def check(self, request: httpx.Request) -> None:
        """Raise ``ProcessorRefused`` (after reporting it) unless the request may go."""
        refusal = self.refusal(str(request.url))
        if refusal is None:
            return
        _log.warning(
            "outbound request refused by the processor gate",
            extra={"origin": refusal.origin, "status": refusal.status},
        )
        if self.on_refused is not None:
            try:
                self.on_refused(refusal)
            except Exception:  # noqa: BLE001 - the refusal stands even if recording it fails
                _log.exception("could not record a processor refusal")
        raise ProcessorRefused(refusal, request)


class GatedTransport(httpx.BaseTransport):
    """An httpx transport that asks the gate before handing the request on."""

    def __init__(self, inner: httpx.BaseTransport, gate: ProcessorGate) -> None:
        self._inner = inner
        self._gate = gate

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check, then send through the wrapped transport."""
        self._gate.check(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()


__all__ = ["BaaStatus", "GatedTransport", "ProcessorGate", "ProcessorRefused", "Refusal"]
