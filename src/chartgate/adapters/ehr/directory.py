"""Per-tenant EHR gateways built from settings (one shared client per tenant)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from chartgate.adapters.ehr.fhir_rest import FhirRestGateway
from chartgate.adapters.ehr.http import HttpClient, build_client
from chartgate.adapters.ehr.vendors import AmendmentMode, CreateGuard, VendorProfile, get_vendor
from chartgate.adapters.identity.smart_backend import token_source_for
from chartgate.adapters.keys.secrets import SecretProvider
from chartgate.domain.errors import NotFound
from chartgate.service.ports import EhrGateway
from chartgate.settings import TenantSettings


class ConfiguredEhrDirectory:
    """``EhrDirectory`` over the configured tenants; unknown tenant means no EHR at all."""

    def __init__(
        self,
        tenants: Mapping[str, TenantSettings],
        *,
        clients: Mapping[str, HttpClient] | None = None,
        secrets: SecretProvider | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._tenants = dict(tenants)
        # Resolves EhrSettings.private_key for tenants with auth = "smart-backend".
        self._secrets = secrets or SecretProvider()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._vendors: dict[str, VendorProfile] = {
            tenant_id: get_vendor(settings.ehr.vendor) for tenant_id, settings in tenants.items()
        }
        self._clients: dict[str, HttpClient] = dict(clients or {})
        self._gateways: dict[str, FhirRestGateway] = {}

    def _settings(self, tenant: str) -> TenantSettings:
        settings = self._tenants.get(tenant)
        if settings is None:
            raise NotFound("no EHR is configured for this tenant")
        return settings

    def gateway(self, tenant: str) -> EhrGateway:
        """The tenant's gateway (created on first use, then reused)."""
        gateway = self._gateways.get(tenant)
        if gateway is None:
            settings = self._settings(tenant)
            client = self._clients.get(tenant)
            if client is None:
                client = build_client(timeout_seconds=settings.ehr.timeout_seconds)
                self._clients[tenant] = client
            tokens = token_source_for(
                settings.ehr, secrets_provider=self._secrets, http=client, clock=self._clock
            )
            gateway = FhirRestGateway(
                settings.ehr.base_url,
                client=client,
                vendor=self._vendors[tenant],
                token_provider=tokens,
            )
            self._gateways[tenant] = gateway
        return gateway

    def create_guard(self, tenant: str) -> CreateGuard:
        """What the tenant's EHR offers to make a create safe to resend (vendor profile)."""
        self._settings(tenant)
        return self._vendors[tenant].idempotent_create

    def note_content_type(self, tenant: str, requested: str) -> str:
        """The requested type when the EHR takes it, else the vendor's preferred one."""
        self._settings(tenant)
        vendor = self._vendors[tenant]
        for accepted in vendor.content_types:
            if accepted.split(";")[0].strip().lower() == requested:
                return requested
        return vendor.content_types[0].split(";")[0].strip()

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

    def settle_seconds(self, tenant: str) -> float:
        """Twice the EHR timeout: a request we gave up on may still land within that."""
        return 2 * self._settings(tenant).ehr.timeout_seconds

    def close(self) -> None:
        """Close every HTTP client this directory created."""
        for client in self._clients.values():
            client.close()
