"""The processor registry from the settings, and every destination the settings configure.

``destinations`` is the single list of URLs chartgate is configured to send to: each tenant's
EHR, its token endpoint and audit sink, the global audit sink, its identity providers and the
OTLP trace endpoint. ``require_registered`` (called by ``bootstrap.build``) refuses to start
when any of them is not under a registered processor; webhook receivers are registered by
admins at run time and are checked by the gate on every call instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from chartgate.adapters.ehr.gate import ProcessorGate, Refusal
from chartgate.domain.errors import ProcessorNotRegistered
from chartgate.domain.processors import Destination, Processor, ProcessorRegistry, origin_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from chartgate.settings import Settings


def registry(settings: Settings) -> ProcessorRegistry:
    """The configured processors as domain values."""
    return ProcessorRegistry(
        [
            Processor(
                id=p.id,
                legal_entity=p.legal_entity,
                role=p.role,
                purpose=p.purpose,
                endpoints=tuple(p.endpoints),
                phi_categories=tuple(p.phi_categories),
                baa_signed=p.baa_signed,
                baa_expires=p.baa_expires,
            )
            for p in settings.processors
        ]
    )


def destinations(settings: Settings) -> list[Destination]:
    """Every outbound URL the settings configure (webhook receivers live in the store)."""
    found = [Destination(what, url) for what, url in settings.transport_urls()]
    for tenant in settings.tenants:
        found += [Destination(f"tenant {tenant.id}: issuer", url) for url in tenant.issuers]
    if settings.tracing_exporter == "otlp" and settings.tracing_endpoint:
        found.append(Destination("tracing_endpoint", settings.tracing_endpoint))
    if settings.tsa_url:  # receives only a hash of a checkpoint, still a destination
        found.append(Destination("tsa_url", settings.tsa_url))
    return found


def require_registered(settings: Settings) -> None:
    """Raise ``ProcessorNotRegistered`` naming the first unregistered destination (by origin)."""
    missing = registry(settings).unregistered(destinations(settings))
    if missing:
        first = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        msg = (
            f"{first.what} ({origin_of(first.url)}) is not under any registered processor"
            f"{more}: add it to [[processors]] with its BAA (docs/compliance.md)"
        )
        raise ProcessorNotRegistered(msg)


def gate(
    settings: Settings,
    *,
    on_refused: Callable[[Refusal], None] | None = None,
    today: Callable[[], date] | None = None,
) -> ProcessorGate:
    """The gate every client of this process shares (bind it per tenant and purpose)."""
    return ProcessorGate(
        registry(settings),
        today=today or (lambda: datetime.now(UTC).date()),
        on_refused=on_refused,
    )
