"""Webhook endpoints (admin) and their delivery from the ledger, at least once.

Each endpoint is a cursor into its tenant's ledger. ``WebhookPusher.push`` (the worker calls
it on every poll) takes each due endpoint's lease, reads the ledger after its cursor, sends
the events it subscribes to in order, signed, and moves the cursor past each one the
receiver acknowledged (2xx). A failure stops that endpoint's batch and schedules the next
try with capped exponential backoff; a crash before the cursor moves sends the event again
with the same id. Every attempt is a row of the delivery log (``GET
/v1/admin/webhooks/{id}/deliveries``). See docs/webhooks.md.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from chartgate.domain import webhooks as wh
from chartgate.domain.errors import InputError, NotFound
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.principal import Principal, Role
from chartgate.service import authz
from chartgate.service.audit import LedgerUnitFactory
from chartgate.service.ports import Clock, IdSource, JsonObject

SecretLookup = Callable[[str, str], bytes | None]
"""(tenant, secret name) -> the secret's bytes, or None when the tenant has no such name."""


@dataclass(slots=True)
class Endpoint:
    """One registered endpoint and where its cursor stands."""

    tenant: str
    id: str
    url: str
    secret_name: str
    events: list[str]
    created_by: str
    created_at: datetime
    last_seq: int
    failures: int = 0
    next_attempt_at: datetime | None = None
    delivered: int = 0
    disabled_at: datetime | None = None

    def public(self) -> JsonObject:
        """What the admin API shows (the secret's name, never its value)."""
        return {
            "id": self.id,
            "url": self.url,
            "secret": self.secret_name,
            "events": self.events,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "last_seq": self.last_seq,
            "delivered": self.delivered,
            "failures": self.failures,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver one event."""

    tenant: str
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    attempt: int
    status: int | None
    error: str | None
    at: datetime

    def public(self) -> JsonObject:
        """The delivery log line (no payload)."""
        return {
            "event_id": self.event_id,
            "type": self.event_type,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "at": self.at.isoformat(),
        }


class WebhookStore(Protocol):
    """Endpoints, their cursors and the delivery log (each call one transaction)."""

    def add(self, endpoint: Endpoint) -> None:
        """Store a new endpoint."""
        ...

    def for_tenant(self, tenant: str) -> list[Endpoint]:
        """A tenant's endpoints."""
        ...

    def get(self, tenant: str, endpoint_id: str) -> Endpoint | None:
        """One endpoint."""
        ...

    def disable(self, tenant: str, endpoint_id: str, at: datetime) -> bool:
        """Stop deliveries to an endpoint; False when it was not active."""
        ...

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(tenant, id) of active endpoints whose next attempt has come."""
        ...

    def claim(
        self, tenant: str, endpoint_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> Endpoint | None:
        """Take the endpoint's lease (free, expired or ours); None when another holds it."""
        ...

    def advance(
        self,
        tenant: str,
        endpoint_id: str,
        *,
        owner: str,
        last_seq: int,
        delivered: int,
        failures: int,
        next_attempt_at: datetime,
    ) -> bool:
        """Move the cursor (never back), record failures, release the lease."""
        ...

    def log(self, delivery: Delivery) -> None:
        """Append one line to the delivery log."""
        ...

    def deliveries(self, tenant: str, endpoint_id: str, *, limit: int) -> list[Delivery]:
        """The newest delivery attempts of one endpoint."""
        ...


class WebhookTransport(Protocol):
    """Sends one signed POST (``adapters/webhooks.py``)."""

    def post(self, url: str, body: bytes, headers: dict[str, str], *, tenant: str) -> int | None:
        """The HTTP status, or None when no answer came (timeout, refused, dropped).

        ``tenant`` is whose endpoint it is: the processor gate audits a refusal to it.
        """
        ...


def _check_url(url: str, *, dev_mode: bool) -> str:
    """https; in dev mode also http to a loopback address (tests, a local relay)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if parts.scheme == "https" or (parts.scheme == "http" and loopback and dev_mode):
        if parts.username or parts.password or parts.fragment:
            raise InputError("a webhook URL carries no credentials or fragment", expression="url")
        return url
    raise InputError(
        "a webhook URL must be https (http only to loopback, in dev mode)", expression="url"
    )


class Webhooks:
    """The admin's endpoints: register, list, disable, read the delivery log."""

    def __init__(
        self,
        *,
        store: WebhookStore,
        ledger: LedgerUnitFactory,
        secrets: SecretLookup,
        clock: Clock,
        ids: IdSource,
        dev_mode: bool = False,
        refusal: Callable[[str], str | None] | None = None,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._secrets = secrets
        self._clock = clock
        self._ids = ids
        self._dev_mode = dev_mode  # plain http to loopback receivers only in dev mode
        # Why the processor registry would refuse a URL (None: it may be sent to).
        self._refusal = refusal or (lambda _url: None)

    def register(
        self,
        principal: Principal,
        *,
        url: str,
        secret: str,
        events: list[str] | None,
        request_id: str | None = None,
    ) -> Endpoint:
        """A new endpoint; it receives events recorded from now on."""
        authz.require_role(principal, Role.ADMIN)
        url = _check_url(url, dev_mode=self._dev_mode)
        refused = self._refusal(url)
        if refused is not None:
            raise InputError(
                f"the receiver is not a registered processor with a BAA in force ({refused})",
                expression="url",
            )
        if self._secrets(principal.tenant, secret) is None:
            raise InputError(
                "unknown secret name (the tenant's webhook_secrets setting lists them)",
                expression="secret",
            )
        now = self._clock.now()
        endpoint = Endpoint(
            tenant=principal.tenant,
            id=self._ids.new_id(),
            url=url,
            secret_name=secret,
            events=wh.check_events(events),
            created_by=f"admin:{principal.subject}",
            created_at=now,
            last_seq=-1,
            next_attempt_at=now,
        )
        with self._ledger() as unit:
            seq = unit.ledger.append(
                AuditRecord(
                    type=EventType.WEBHOOK_REGISTERED,
                    tenant=principal.tenant,
                    at=now,
                    correlation_id=endpoint.id,
                    actor=endpoint.created_by,
                    request_id=request_id,
                    data={"endpoint_id": endpoint.id, "events": endpoint.events},
                )
            )
        endpoint.last_seq = seq  # everything after the registration itself
        self._store.add(endpoint)
        return endpoint

    def endpoints(self, principal: Principal) -> list[Endpoint]:
        """The admin's tenant's endpoints."""
        authz.require_role(principal, Role.ADMIN)
        return self._store.for_tenant(principal.tenant)

    def disable(self, principal: Principal, endpoint_id: str) -> Endpoint:
        """Stop deliveries (the endpoint and its log stay)."""
        authz.require_role(principal, Role.ADMIN)
        if not self._store.disable(principal.tenant, endpoint_id, self._clock.now()):
            raise NotFound("webhook endpoint not found", expression="id")
        found = self._store.get(principal.tenant, endpoint_id)
        if found is None:
            raise NotFound("webhook endpoint not found", expression="id")
        return found

    def deliveries(self, principal: Principal, endpoint_id: str, *, limit: int) -> list[Delivery]:
        """The endpoint's newest delivery attempts."""
        authz.require_role(principal, Role.ADMIN)
        if self._store.get(principal.tenant, endpoint_id) is None:
            raise NotFound("webhook endpoint not found", expression="id")
        return self._store.deliveries(principal.tenant, endpoint_id, limit=limit)


@dataclass(slots=True)
class PushResult:
    """What one push did, over every endpoint."""

    delivered: int = 0
    failed: int = 0
    busy: int = 0
    errors: list[str] = field(default_factory=list)


class WebhookPusher:
    """Delivers each due endpoint's next events (the worker calls ``push`` every poll)."""

    def __init__(
        self,
        *,
        store: WebhookStore,
        ledger: LedgerUnitFactory,
        transport: WebhookTransport,
        secrets: SecretLookup,
        clock: Clock,
        ids: IdSource,
        owner: str,
        batch: int = 100,
        lease: timedelta = timedelta(seconds=120),
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._transport = transport
        self._secrets = secrets
        self._clock = clock
        self._ids = ids
        self._owner = owner
        self._batch = batch
        self._lease = lease

    def push(self) -> PushResult:
        """One batch for every due endpoint."""
        result = PushResult()
        for tenant, endpoint_id in self._store.due(self._clock.now()):
            self._push(tenant, endpoint_id, result)
        return result

    def _push(self, tenant: str, endpoint_id: str, result: PushResult) -> None:
        now = self._clock.now()
        endpoint = self._store.claim(
            tenant, endpoint_id, owner=self._owner, now=now, lease_until=now + self._lease
        )
        if endpoint is None:
            result.busy += 1
            return
        with self._ledger(read_only=True) as unit:
            start = endpoint.last_seq + 1
            entries = [
                (e.seq, e.event()) for e in unit.ledger.entries(tenant, start, start + self._batch)
            ]
        secret = self._secrets(tenant, endpoint.secret_name)
        acknowledged, delivered, failures = endpoint.last_seq, 0, endpoint.failures
        next_attempt = self._clock.now()
        for seq, event in entries:
            body = wh.payload(tenant, seq, event)
            if body is None or body["type"] not in endpoint.events:
                acknowledged = seq  # nothing to send for this one
                continue
            if secret is None:
                missing = "the endpoint's secret name is no longer configured"
                self._log(endpoint, body, failures + 1, None, missing)
                failures += 1
                result.errors.append(missing)
                next_attempt = self._clock.now() + timedelta(seconds=wh.backoff_seconds(failures))
                break
            status = self._send(endpoint, body, secret)
            ok = status is not None and 200 <= status < 300  # noqa: PLR2004 - success class
            error: str | None = None
            if not ok:
                error = "no answer" if status is None else f"HTTP {status}"
            self._log(endpoint, body, failures + 1, status, error)
            if not ok:
                failures += 1
                result.failed += 1
                next_attempt = self._clock.now() + timedelta(seconds=wh.backoff_seconds(failures))
                break
            acknowledged, delivered, failures = seq, delivered + 1, 0
            result.delivered += 1
        self._store.advance(
            tenant,
            endpoint_id,
            owner=self._owner,
            last_seq=acknowledged,
            delivered=delivered,
            failures=failures,
            next_attempt_at=next_attempt,
        )

    def _send(self, endpoint: Endpoint, body: JsonObject, secret: bytes) -> int | None:
        raw = wh.encode(body)
        signed = wh.headers(secret, str(body["id"]), self._clock.now(), raw)
        return self._transport.post(endpoint.url, raw, signed, tenant=endpoint.tenant)

    def _log(
        self,
        endpoint: Endpoint,
        body: JsonObject,
        attempt: int,
        status: int | None,
        error: str | None,
    ) -> None:
        self._store.log(
            Delivery(
                tenant=endpoint.tenant,
                id=self._ids.new_id(),
                endpoint_id=endpoint.id,
                event_id=str(body["id"]),
                event_type=str(body["type"]),
                attempt=attempt,
                status=status,
                error=error,
                at=self._clock.now(),
            )
        )
