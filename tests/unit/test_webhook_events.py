"""Webhook payloads and signatures (pure rules): ids, states and codes only; Standard Webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from chartgate.domain import webhooks as wh
from chartgate.domain.errors import InputError

APPROVED = {
    "type": "draft.approved",
    "at": "2026-12-02T09:00:00Z",
    "draft_id": "d-1",
    "writeback_id": "wb-1",
    "correlation_id": "c-1",
    "actor": "clinician:dr-synthetic",
    "patient": "hmac-sha256:abcd",
    "data": {
        "state": "queued",
        "version": 2,
        "fhir_user": "Practitioner/prac-001",
        "binding": "launch",
        "encounter": "hmac-sha256:ef01",
    },
}


def test_a_payload_carries_ids_states_and_codes_only() -> None:
    """No actor, patient, practitioner or encounter reaches the vendor."""
    body = wh.payload("clinic-a", 7, APPROVED)
    assert body == {
        "id": "clinic-a.7",
        "type": "draft.approved",
        "tenant": "clinic-a",
        "occurred_at": "2026-12-02T09:00:00Z",
        "data": {
            "draft_id": "d-1",
            "writeback_id": "wb-1",
            "correlation_id": "c-1",
            "state": "queued",
            "version": 2,
        },
    }


def test_a_kill_switch_event_says_engaged_or_released_without_the_reason() -> None:
    """Both switch events are killswitch.changed; the free-text reasons stay home."""
    data = {
        "switch_id": "ks-1",
        "mode": "hold-write-back",
        "scope": "tenant",
        "value": None,
        "all_tenants": False,
        "switch_reason": "secret incident text",
        "reason": "x",
    }
    engaged = wh.payload("clinic-a", 1, {"type": "killswitch.engaged", "data": data})
    released = wh.payload("clinic-a", 2, {"type": "killswitch.released", "data": data})
    assert engaged is not None
    assert released is not None
    assert (engaged["type"], engaged["data"]["engaged"]) == ("killswitch.changed", True)
    assert released["data"]["engaged"] is False
    assert "reason" not in str(engaged) + str(released)


def test_events_webhooks_do_not_carry_are_skipped() -> None:
    """A draft view or an EHR request is not a webhook event."""
    assert wh.payload("clinic-a", 3, {"type": "draft.viewed", "data": {}}) is None
    assert wh.payload("clinic-a", 4, {"type": "ehr.request", "data": {}}) is None


def test_the_signature_is_standard_webhooks_hmac_over_id_timestamp_and_body() -> None:
    """v1,<base64 HMAC-SHA256(key, id.ts.body)>, with a whsec_ secret base64-decoded."""
    key = b"synthetic-key"
    secret = b"whsec_" + base64.b64encode(key)
    body = b'{"a":1}'
    sent = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    headers = wh.headers(secret, "clinic-a.7", sent, body)
    expected = hmac.new(key, b"clinic-a.7." + str(int(sent.timestamp())).encode() + b"." + body,
                        hashlib.sha256).digest()  # fmt: skip
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert headers["webhook-id"] == "clinic-a.7"
    assert wh.sign(b"plain", "x", 1, b"") != wh.sign(b"other", "x", 1, b"")


def test_backoff_doubles_and_is_capped() -> None:
    """2, 4, 8 … seconds, never more than ten minutes."""
    assert [wh.backoff_seconds(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert wh.backoff_seconds(50) == wh.MAX_BACKOFF_SECONDS


def test_unknown_event_types_are_refused() -> None:
    """An endpoint subscribes to known types only; none named means all."""
    assert wh.check_events(None) == sorted(wh.EVENT_TYPES)
    with pytest.raises(InputError):
        wh.check_events(["draft.deleted"])
