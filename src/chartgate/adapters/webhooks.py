"""Sending webhooks: one signed POST over httpx, and the secrets named in the settings."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from chartgate.adapters.keys.secrets import SecretError, SecretProvider
from chartgate.settings import TenantSettings


class HttpWebhookTransport:
    """``WebhookTransport``: POST, no redirects, a short timeout; no answer is None."""

    def __init__(self, client: httpx.Client | None = None, *, timeout: float = 5.0) -> None:
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._own = client is None

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int | None:
        """The receiver's HTTP status, or None when it did not answer."""
        try:
            return self._client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            return None

    def close(self) -> None:
        """Close the client if this transport made it."""
        if self._own:
            self._client.close()


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
