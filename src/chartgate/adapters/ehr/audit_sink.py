"""The FHIR endpoint AuditEvents are pushed to, over the shared FHIR REST client.

Settings: a tenant's ``audit_sink_url``, else the global ``audit_sink_url``. When the URL
is the tenant's own EHR base URL, the EHR's SMART backend credentials are used; any other
endpoint is called without a token (an audit repository on the private network, or one
behind a mutual-TLS proxy): docs/audit-export.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from chartgate.adapters.ehr.directory import tenant_verify
from chartgate.adapters.ehr.fhir_rest import FhirRestGateway
from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.ehr.http import HttpClient, build_client
from chartgate.adapters.ehr.vendors import get_vendor
from chartgate.adapters.identity.smart_backend import token_source_for
from chartgate.adapters.keys.secrets import SecretProvider
from chartgate.service.audit_sink import AuditEventSink
from chartgate.service.ports import JsonObject
from chartgate.settings import Settings


class FhirAuditEventSink:
    """``AuditEventSink``: ``PUT [base]/AuditEvent/{id}`` through ``FhirRestGateway.upsert``."""

    def __init__(self, url: str, gateway: FhirRestGateway) -> None:
        self._url = url
        self._gateway = gateway

    @property
    def url(self) -> str:
        """The endpoint's base URL."""
        return self._url

    def put(self, resource: JsonObject, *, request_id: str) -> int:
        """Store or replace the AuditEvent; the HTTP status (``EhrError`` if no answer)."""
        return self._gateway.upsert(resource, request_id=request_id).status


def sink_url(settings: Settings, tenant: str) -> str | None:
    """The tenant's sink URL: its own, else the global one, else None (no sink)."""
    configured = settings.tenant(tenant)
    own = configured.audit_sink_url if configured is not None else None
    url = own or settings.audit_sink_url
    return url.rstrip("/") if url else None


def build_sinks(
    settings: Settings,
    *,
    gate: ProcessorGate,
    clock: Callable[[], datetime] | None = None,
    secrets: SecretProvider | None = None,
) -> tuple[dict[str, AuditEventSink], list[HttpClient]]:
    """One sink per configured tenant that has a sink URL, and the HTTP clients to close."""
    sinks: dict[str, AuditEventSink] = {}
    clients: list[HttpClient] = []
    for tenant in settings.tenants:
        url = sink_url(settings, tenant.id)
        if url is None:
            continue
        provider = secrets or SecretProvider()
        client = build_client(
            gate=gate.bound(tenants=(tenant.id,), purpose="audit-sink"),
            timeout_seconds=tenant.ehr.timeout_seconds,
            verify=tenant_verify(tenant, provider),
        )
        clients.append(client)
        same_as_ehr = url == tenant.ehr.base_url.rstrip("/")
        tokens = (
            token_source_for(
                tenant.ehr,
                secrets_provider=provider,
                http=client,
                clock=clock or (lambda: datetime.now(UTC)),
            )
            if same_as_ehr
            else None
        )
        gateway = FhirRestGateway(
            url, client=client, vendor=get_vendor("generic-r4"), token_provider=tokens
        )
        sinks[tenant.id] = FhirAuditEventSink(url, gateway)
    return sinks, clients
