# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Sealing an audit event into a ledger entry: its tenant and position go inside the bytes.

A stored row says "tenant T, seq N"; so do the hashed bytes. Because the leaf hash covers
``tenant`` and ``seq``, an event copied to another tenant's log or moved to another
position no longer matches its row, even where the leaf hash alone would still verify.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Final

import rfc8785

from chartgate.ledger.entry import LedgerEntry, canonical_bytes
from chartgate.ledger.merkle import leaf_hash

if TYPE_CHECKING:
    from collections.abc import Mapping

FORMAT_VERSION: Final = 1
"""``v`` of every sealed event; a later layout gets a new number, old entries keep theirs."""


def _json_safe(value: Any) -> Any:  # noqa: ANN401 - any JSON-ish value
    """Replace values JCS cannot carry (NaN, infinities) by their text, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def seal(event: Mapping[str, Any], *, tenant: str, seq: int) -> LedgerEntry:
    """Canonicalise ``event`` with its tenant and sequence number inside, and hash it.

    ``event`` may already name its tenant; a different one is refused, because an event
    is never recorded in another tenant's log. A value JSON cannot represent exactly
    (NaN from a bad ``Retry-After``) is stored as text rather than failing the business
    transaction the event belongs to.
    """
    if event.get("tenant", tenant) != tenant:
        raise ValueError("an event is sealed only into its own tenant's log")
    body = {**event, "v": FORMAT_VERSION, "tenant": tenant, "seq": seq}
    try:
        data = canonical_bytes(body)
    except rfc8785.CanonicalizationError:
        data = canonical_bytes(_json_safe(body))
    return LedgerEntry(tenant=tenant, seq=seq, canonical=data, leaf_hash=leaf_hash(data))


def identity(canonical: bytes) -> tuple[str | None, int | None, dict[str, Any]]:
    """Return ``(tenant, seq, event)`` as written inside stored canonical bytes.

    Bytes that are not a JSON object give ``(None, None, {})``: the caller reports them.
    """
    try:
        event = json.loads(canonical)
    except (ValueError, UnicodeDecodeError):
        return None, None, {}
    if not isinstance(event, dict):
        return None, None, {}
    tenant, seq = event.get("tenant"), event.get("seq")
    return (
        tenant if isinstance(tenant, str) else None,
        seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        event,
    )
