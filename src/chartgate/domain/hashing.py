"""Content addressing: the hash of what was approved is the hash of what is sent.

The canonical form is RFC 8785 (JSON Canonicalization Scheme) so the same content always
hashes the same, whatever key order or whitespace it arrived with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785


def canonical_json(value: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """Serialise to RFC 8785 canonical JSON bytes."""
    return bytes(rfc8785.dumps(value))


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Mapping[str, Any] | Sequence[Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + sha256_hex(canonical_json(value))
