# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""One ledger entry: an audit event's exact canonical bytes and their leaf hash.

The ledger hashes bytes, not objects: an event is canonicalised once with the JSON
Canonicalization Scheme (RFC 8785), those bytes are stored verbatim, and verification
rehashes the stored bytes instead of re-serialising (measured ten times faster, and immune
to serialiser drift between versions). The bytes are written by ``canonical_json`` (the
standard library's C encoder where its bytes are RFC 8785's, ``rfc8785`` otherwise): the
same bytes, without a pure-Python walk per event (issue 20).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chartgate.domain.hashing import canonical_json
from chartgate.ledger.merkle import HASH_SIZE, leaf_hash

if TYPE_CHECKING:
    from collections.abc import Mapping


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """Return the RFC 8785 canonical JSON bytes of an audit event.

    JCS fixes key order, whitespace, string escaping and number formatting, so the same
    event always yields the same bytes and the same leaf hash. Raises ``ValueError``
    (``rfc8785.CanonicalizationError``) for values JSON cannot carry exactly, such as NaN,
    non-string keys or integers beyond IEEE 754 double precision.
    https://www.rfc-editor.org/rfc/rfc8785
    """
    return canonical_json(dict(event))


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One appended event: its tenant, gap-free sequence number, exact bytes and leaf hash.

    ``seq`` is the 0-based leaf index in the tenant's tree, so an inclusion proof for the
    entry is a proof for leaf ``seq``.
    """

    tenant: str
    seq: int
    canonical: bytes
    leaf_hash: bytes

    def __post_init__(self) -> None:
        if self.seq < 0:
            raise ValueError("a ledger sequence number is never negative")
        if len(self.leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes")

    @classmethod
    def create(cls, tenant: str, seq: int, event: Mapping[str, Any]) -> LedgerEntry:
        """Canonicalise ``event`` and hash it as leaf ``seq`` of ``tenant``'s log."""
        data = canonical_bytes(event)
        return cls(tenant=tenant, seq=seq, canonical=data, leaf_hash=leaf_hash(data))

    def hash_matches(self) -> bool:
        """Return whether the stored leaf hash is the hash of the stored bytes."""
        return leaf_hash(self.canonical) == self.leaf_hash
