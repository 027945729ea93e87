"""Webhook notifications to the scribe vendor: which ledger events, what they say, signatures.

The ledger is the outbox (as for the audit sink): each endpoint keeps a cursor, the last
ledger seq it acknowledged, so a delivery survives any restart and is sent at least once.
The event id is ``<tenant>.<seq>``: the same every time the same event is sent, so a
receiver drops a duplicate by id.

Signatures follow Standard Webhooks (https://www.standardwebhooks.com/, the scheme Svix and
others verify): headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``. A secret
of the form ``whsec_<base64>`` is used base64-decoded, as their libraries do; any other
secret is used as its bytes.

Payloads carry ids, states and codes only: never a patient, an encounter, a note, a reason
text or a person's name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from chartgate.domain.errors import InputError

WEBHOOK_EVENTS: Final[Mapping[str, str]] = {
    "draft.approved": "draft.approved",
    "writeback.committed": "writeback.committed",
    "writeback.conflict": "writeback.conflict",
    "writeback.rejected": "writeback.rejected",
    "writeback.needs_person": "writeback.needs-person",
    "killswitch.engaged": "killswitch.changed",
    "killswitch.released": "killswitch.changed",
}
"""Ledger event type -> webhook event type."""

EVENT_TYPES: Final = frozenset(WEBHOOK_EVENTS.values())

_DATA_KEYS: Final = ("kind", "state", "ehr_resource", "ehr_version_id", "provenance", "version")
_SWITCH_KEYS: Final = ("switch_id", "mode", "scope", "value", "all_tenants")
MAX_BACKOFF_SECONDS: Final = 600.0


def event_id(tenant: str, seq: int) -> str:
    """The stable id of one event: a receiver deduplicates by it."""
    return f"{tenant}.{seq}"


def payload(tenant: str, seq: int, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The webhook body for one ledger event (None: not an event webhooks carry)."""
    kind = WEBHOOK_EVENTS.get(str(event.get("type")))
    if kind is None:
        return None
    data = event.get("data") or {}
    body: dict[str, Any] = {
        "draft_id": event.get("draft_id"),
        "writeback_id": event.get("writeback_id"),
        "correlation_id": event.get("correlation_id"),
    }
    if kind == "killswitch.changed":
        body = {key: data.get(key) for key in _SWITCH_KEYS}
        body["engaged"] = event.get("type") == "killswitch.engaged"
    else:
        body.update({key: data[key] for key in _DATA_KEYS if key in data})
    return {
        "id": event_id(tenant, seq),
        "type": kind,
        "tenant": tenant,
        "occurred_at": event.get("at"),
        "data": {key: value for key, value in body.items() if value is not None},
    }


def encode(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def secret_key(secret: bytes) -> bytes:
    """The HMAC key: ``whsec_<base64>`` decoded, anything else as is."""
    text = secret.strip()
    if text.startswith(b"whsec_"):
        return base64.b64decode(text[len(b"whsec_") :])
    return text


def sign(secret: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: bytes, message_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers plus the content type."""
    timestamp = int(sent_at.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def backoff_seconds(failures: int) -> float:
    """Wait after ``failures`` failed deliveries in a row: 2, 4, 8 … capped at 10 minutes."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(failures, 1))


def check_events(events: list[str] | None) -> list[str]:
    """The event types an endpoint subscribes to (all when none are named)."""
    if not events:
        return sorted(EVENT_TYPES)
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        raise InputError(
            f"unknown event type; use {', '.join(sorted(EVENT_TYPES))}", expression="events"
        )
    return sorted(set(events))
