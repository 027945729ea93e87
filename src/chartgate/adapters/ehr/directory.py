"""Per-tenant EHR gateways built from settings (one shared client and rate governor each)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from chartgate.adapters.ehr.fhir_rest import FhirRestGateway
from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.ehr.http import HttpClient, build_client
from chartgate.adapters.ehr.rate import (
    MemoryRateBuckets,
    RateBuckets,
    StoreRateGovernor,
    token_batch,
)
from chartgate.adapters.ehr.tls import tls_context
from chartgate.adapters.ehr.vendors import AmendmentMode, CreateGuard, VendorProfile, get_vendor
from chartgate.adapters.identity.smart_backend import token_source_for
from chartgate.adapters.keys.secrets import SecretProvider
from chartgate.domain.errors import NotFound
from chartgate.domain.vendor_profile import RateLimit
from chartgate.service.ports import EhrGateway
from chartgate.settings import TenantSettings

DEFAULT_CONNECTIONS = 10
"""Connections per tenant EHR when nothing asks for more (an API process's reads)."""


def connections_for(in_flight: int, in_flight_per_tenant: int | None) -> int:
    """Connections a tenant's pool needs so that a worker's in-flight cap is what binds.

    One write-back has one request open at a time, so a tenant with ``n`` in flight needs
    ``n`` connections; with fewer, the extra attempts queue in the pool (issue 20: 64 in
    flight against a 300 ms EHR drained at ~9/s through the old fixed pool of 10).
    """
    return max(DEFAULT_CONNECTIONS, in_flight_per_tenant or in_flight)


class ConfiguredEhrDirectory:
    """``EhrDirectory`` over the configured tenants; unknown tenant means no EHR at all."""

    def __init__(
        self,
        tenants: Mapping[str, TenantSettings],
        *,
        gate: ProcessorGate,
        clients: Mapping[str, HttpClient] | None = None,
        secrets: SecretProvider | None = None,
        clock: Callable[[], datetime] | None = None,
        rate_buckets: RateBuckets | None = None,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        """``wall``/``sleep``: the time the rate governor and read retries wait on.

        Real time in production; a test harness with a controllable clock passes its own, so
        that a pause the EHR asks for is a jump of that clock rather than a real wait.
        ``max_connections``: each tenant's HTTP connection pool; a worker carrying ``n``
        write-backs of one tenant at once needs ``n`` (``connections_for``), or the pool, not
        the EHR, sets its pace.
        """
        self._max_connections = max(1, max_connections)
        self._wall = wall
        self._sleep = sleep
        self._tenants = dict(tenants)
        self._gate = gate
        # Shared by every worker through the store in production (bootstrap passes
        # SqlRateBuckets); in one process only when none is given.
        self._rate_buckets = rate_buckets or MemoryRateBuckets()
        # Resolves EhrSettings.private_key for tenants with auth = "smart-backend".
        self._secrets = secrets or SecretProvider()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._vendors: dict[str, VendorProfile] = {
            tenant_id: _profile(settings) for tenant_id, settings in tenants.items()
        }
        self._clients: dict[str, HttpClient] = dict(clients or {})
        self._gateways: dict[str, FhirRestGateway] = {}
        self._readers: dict[str, FhirRestGateway] = {}  # per tenant and scope (context reads)
        # Request threads reach a tenant's first use together: one builds its client and
        # gateway, the others wait (each would otherwise build a client, TLS context and
        # connection pool of its own and leave all but the last unclosed).
        self._building = threading.Lock()

    def _settings(self, tenant: str) -> TenantSettings:
        settings = self._tenants.get(tenant)
        if settings is None:
            raise NotFound("no EHR is configured for this tenant")
        return settings

    def gateway(self, tenant: str) -> EhrGateway:
        """The tenant's gateway (created on first use, then reused)."""
        gateway = self._gateways.get(tenant)
        if gateway is not None:
            return gateway
        with self._building:
            return self._gateways.get(tenant) or self._build_gateway(tenant)

    def _build_gateway(self, tenant: str) -> FhirRestGateway:
        """Build the tenant's client (unless one was given) and gateway, holding the lock."""
        settings = self._settings(tenant)
        client = self._clients.get(tenant)
        if client is None:
            client = build_client(
                gate=self._gate.bound(tenants=(tenant,), purpose="ehr"),
                timeout_seconds=settings.ehr.timeout_seconds,
                verify=tenant_verify(settings, self._secrets),
                max_connections=self._max_connections,
            )
            self._clients[tenant] = client
        tokens = token_source_for(
            settings.ehr, secrets_provider=self._secrets, http=client, clock=self._clock
        )
        gateway = FhirRestGateway(
            settings.ehr.base_url,
            client=client,
            vendor=self._vendors[tenant],
            token_provider=tokens,
            governor=self._governor(tenant),
            sleep=self._sleep,
        )
        self._gateways[tenant] = gateway
        return gateway

    def reader(self, tenant: str, scope: str) -> EhrGateway:
        """A gateway for minimum-necessary reads whose SMART backend token asks only ``scope``.

        Narrowed by the read profile (``system/Observation.rs ...``), so that even a bug in
        chartgate's own checks cannot read a type the profile does not name where the EHR
        enforces scopes. Shares the tenant's HTTP client and rate governor; a tenant without
        SMART backend auth has no token to narrow and reads through its one gateway.
        """
        settings = self._settings(tenant)
        if settings.ehr.auth != "smart-backend":
            return self.gateway(tenant)
        key = f"{tenant}\n{scope}"
        reader = self._readers.get(key)
        if reader is None:
            self.gateway(tenant)  # the shared client
            tokens = token_source_for(
                settings.ehr.model_copy(update={"scope": scope}),
                secrets_provider=self._secrets,
                http=self._clients[tenant],
                clock=self._clock,
            )
            reader = FhirRestGateway(
                settings.ehr.base_url,
                client=self._clients[tenant],
                vendor=self._vendors[tenant],
                token_provider=tokens,
                governor=self._governor(tenant),
                sleep=self._sleep,
            )
            self._readers[key] = reader
        return reader

    def delegated_reader(self, tenant: str, token: str) -> EhrGateway:
        """A gateway for context reads with a clinician's own EHR access token (EHR launch).

        Built per read and never cached (the token is one session's, not the tenant's);
        never refreshed (chartgate holds no refresh token: a 401 is the EHR's answer). Shares
        the tenant's HTTP client, TLS settings and rate governor.
        """
        settings = self._settings(tenant)
        self.gateway(tenant)  # the shared client
        return FhirRestGateway(
            settings.ehr.base_url,
            client=self._clients[tenant],
            vendor=self._vendors[tenant],
            token_provider=lambda: token,
            governor=self._governor(tenant),
            sleep=self._sleep,
        )

    def _governor(self, tenant: str) -> StoreRateGovernor:
        """The tenant's rate governor over the shared buckets (``adapters/ehr/rate.py``)."""
        limit = self.rate_limit(tenant)
        return StoreRateGovernor(
            self._rate_buckets,
            f"ehr:{tenant}",
            limit,
            now=self._wall,
            sleep=self._sleep,
            batch=token_batch(limit),
        )

    def profile(self, tenant: str) -> VendorProfile:
        """The tenant's whole vendor profile (``chartgate vendors`` shows every field)."""
        self._settings(tenant)
        return self._vendors[tenant]

    def rate_limit(self, tenant: str) -> RateLimit:
        """The tenant's outbound pacing: its settings' override, else the profile's."""
        ehr = self._settings(tenant).ehr
        limit = self._vendors[tenant].rate_limit
        if ehr.rate_limit_per_second is None and ehr.rate_limit_burst is None:
            return limit
        return RateLimit(
            requests_per_second=ehr.rate_limit_per_second or limit.requests_per_second,
            burst=ehr.rate_limit_burst or limit.burst,
            published=limit.published,
        )

    def create_guard(self, tenant: str) -> CreateGuard:
        """What the tenant's EHR offers to make a create safe to resend (vendor profile)."""
        self._settings(tenant)
        return self._vendors[tenant].idempotent_create

    def note_content_type(self, tenant: str, requested: str) -> str:
        """The requested type when the EHR takes it, else the vendor's preferred one."""
        self._settings(tenant)
        return self._vendors[tenant].note_media_type(requested)

    def vendor(self, tenant: str) -> str:
        """The vendor profile name."""
        self._settings(tenant)
        return self._vendors[tenant].name

    def supports_amendment(self, tenant: str) -> bool:
        """Amendments go over FHIR only where the vendor takes ``relatesTo = replaces``."""
        self._settings(tenant)
        return self._vendors[tenant].amendment_mode is AmendmentMode.REPLACES

    def marks_superseded(self, tenant: str) -> bool:
        """Whether the vendor lets us set ``status = superseded`` on the replaced document."""
        self._settings(tenant)
        return self._vendors[tenant].marks_superseded

    def mrn_system(self, tenant: str) -> str | None:
        """The tenant's MRN identifier system (``[tenants.ehr] mrn_system``)."""
        return self._settings(tenant).ehr.mrn_system

    def settle_seconds(self, tenant: str) -> float:
        """Twice the EHR timeout: a request we gave up on may still land within that."""
        return 2 * self._settings(tenant).ehr.timeout_seconds

    def close(self) -> None:
        """Close every HTTP client this directory created."""
        for client in self._clients.values():
            client.close()


def tenant_verify(settings: TenantSettings, secrets: SecretProvider) -> bool | ssl.SSLContext:
    """The tenant's TLS context when it names a CA bundle or client certificate, else True."""
    ehr = settings.ehr
    if ehr.ca_bundle is None and ehr.client_cert is None:
        return True
    return tls_context(ehr, secrets)


def _profile(settings: TenantSettings) -> VendorProfile:
    """The tenant's vendor profile, with its settings' Provenance mode where one is given."""
    profile = get_vendor(settings.ehr.vendor)
    mode = settings.ehr.provenance_mode
    if mode is None or mode is profile.provenance_mode:
        return profile
    # The profile's own check (a Provenance the EHR cannot write) holds for the override too.
    return replace(profile, provenance_mode=mode)
