"""Sending webhooks: one signed POST over httpx, and the secrets named in the settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import httpx

from chartgate.adapters.keys.secrets import SecretError, SecretProvider
from chartgate.settings import TenantSettings


class HttpWebhookTransport:
    """``WebhookTransport``: POST, no redirects, a short timeout; no answer is None.

    ``client_for(tenant)`` makes one client per tenant through the one client factory, so
    the processor gate audits a refused receiver in that tenant's ledger only.
    """

    def __init__(self, client_for: Callable[[str], httpx.Client]) -> None:
        self._client_for = client_for
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str], *, tenant: str) -> int | None:
        """The receiver's HTTP status, or None when it did not answer (or was refused)."""
        with self._lock:
            client = self._clients.get(tenant)
            if client is None:
                client = self._clients[tenant] = self._client_for(tenant)
        try:
            return client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            return None

    def close(self) -> None:
        """Close every client this transport made."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


class ConfiguredWebhookSecrets:
    """(tenant, name) -> secret bytes, only for names the tenant's settings list."""

    def __init__(
        self, tenants: Mapping[str, TenantSettings], provider: SecretProvider | None = None
    ) -> None:
        self._tenants = dict(tenants)
        self._provider = provider or SecretProvider()

    def __call__(self, tenant: str, name: str) -> bytes | None:
        """The secret, or None when the name is unknown or cannot be resolved."""
        settings = self._tenants.get(tenant)
        reference = settings.webhook_secrets.get(name) if settings else None
        if reference is None:
            return None
        try:
            return self._provider.resolve(reference).reveal()
        except SecretError:
            return None
