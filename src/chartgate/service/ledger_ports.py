"""The audit ledger's values and ports: what the store keeps and what the service asks of it.

``LedgerStore``/``LedgerUnit`` (the sealed log and its checkpoints), ``Anchor`` (external
witnesses), ``Pseudonymizer`` and ``SigningKey``, with the values they carry
(``StoredEntry``, ``StoredCheckpoint``, ``LedgerHead``...). The use cases that read the ledger
are in ``service/audit.py``, which re-exports these names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chartgate.domain.events import AuditRecord
from chartgate.ledger.checkpoint import NoteSigningKey, NoteVerifier
from chartgate.ledger.merkle import (
    HASH_SIZE,
    CompactRange,
)
from chartgate.service.ports import JsonObject, Transaction

# -- values -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One ledger row: the sealed bytes and leaf hash, plus the indexed columns."""

    tenant: str
    seq: int
    canonical: bytes | None
    leaf_hash: bytes | None
    type: str
    correlation_id: str
    actor: str
    at: datetime
    patient: str | None = None
    request_id: str | None = None
    draft_id: str | None = None
    writeback_id: str | None = None
    stored_event: JsonObject | None = None
    """The ``event`` JSON column as stored (verify compares it with the sealed bytes)."""

    def event(self) -> JsonObject:
        """The sealed event as JSON (empty for a row without bytes)."""
        if self.canonical is None:
            return {}
        value = json.loads(self.canonical)
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """A tenant's tree size and compact range (None when the stored range is unreadable)."""

    tenant: str
    size: int
    compact: CompactRange | None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint as stored: its note and the compact range at its size."""

    tenant: str
    size: int
    root: bytes
    note: str
    compact: bytes
    signed_at: datetime

    def compact_range(self) -> CompactRange:
        """The stored compact range ``[0, size)``."""
        return range_from_bytes(self.compact, self.size)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters of ``GET /v1/audit/events``; all given ones must match."""

    correlation_id: str | None = None
    patient: str | None = None
    actor: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = -1
    limit: int = 100

    def described(self) -> JsonObject:
        """The query as recorded in the ``audit.read`` event (no plain patient reference)."""
        return {
            "correlation_id": self.correlation_id,
            "patient": self.patient,
            "actor": self.actor,
            "type": self.type,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "after_seq": self.after_seq,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class InclusionAnswer:
    """An entry, its audit path and the signed checkpoint the path leads to."""

    entry: StoredEntry
    proof: list[bytes]
    checkpoint: StoredCheckpoint


@dataclass(frozen=True, slots=True)
class ConsistencyAnswer:
    """A consistency proof between two stored checkpoints."""

    old: StoredCheckpoint
    new: StoredCheckpoint
    proof: list[bytes]


def range_to_bytes(compact: CompactRange) -> bytes:
    """A compact range as stored: its subtree roots concatenated."""
    return b"".join(compact.hashes)


def range_from_bytes(data: bytes | None, end: int, begin: int = 0) -> CompactRange:
    """The compact range ``[begin, end)`` from stored bytes (``ValueError`` if they do not fit)."""
    raw = bytes(data or b"")
    if len(raw) % HASH_SIZE:
        raise ValueError("a stored compact range is a whole number of hashes")
    return CompactRange(begin, end, [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)])


# -- ports ------------------------------------------------------------------------------------


class LedgerStore(Protocol):
    """The tenant-scoped ledger in the store (``adapters/storage/ledger.py``)."""

    def append(self, record: AuditRecord) -> int:
        """Seal and store one event in the current transaction; return its seq."""
        ...

    def tenants(self) -> list[str]:
        """Every tenant with a ledger."""
        ...

    def head(self, tenant: str, *, lock: bool = False) -> LedgerHead | None:
        """The tenant's head, locked against appends when ``lock``."""
        ...

    def entries(self, tenant: str, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        """Stream rows in seq order."""
        ...

    def entry(self, tenant: str, seq: int) -> StoredEntry | None:
        """One row."""
        ...

    def leaf_hashes(self, tenant: str, start: int, end: int) -> list[bytes]:
        """Stored leaf hashes of ``[start, end)``."""
        ...

    def search(self, tenant: str, query: EventQuery) -> list[StoredEntry]:
        """Rows matching the query."""
        ...

    def checkpoints(self, tenant: str) -> list[StoredCheckpoint]:
        """All checkpoints, smallest first."""
        ...

    def latest_checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        """The newest checkpoint."""
        ...

    def checkpoint(self, tenant: str, size: int) -> StoredCheckpoint | None:
        """The checkpoint of one size."""
        ...

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a signed checkpoint."""
        ...

    def checkpoint_status(self) -> list[tuple[str, int, int, datetime | None]]:
        """``(tenant, size, last checkpoint size, last signed at)`` per tenant."""
        ...


class LedgerUnit(Transaction, Protocol):
    """One transaction on the ledger."""

    @property
    def ledger(self) -> LedgerStore:
        """The ledger bound to this transaction."""
        ...


class LedgerUnitFactory(Protocol):
    """Opens ledger transactions."""

    def __call__(self, *, read_only: bool = False) -> LedgerUnit:
        """A new transaction."""
        ...


class Pseudonymizer(Protocol):
    """Keyed pseudonyms of FHIR references (``adapters/keys/pseudonyms.py``)."""

    def reference(self, tenant: str, reference: str) -> str:
        """``hmac-sha256:<hex>`` of the reference under the tenant's key."""
        ...


class SigningKey(Protocol):
    """The checkpoint-signing key (``adapters/keys/ledger_key.py``)."""

    @property
    def name(self) -> str:
        """The signed-note key name."""
        ...

    @property
    def private_key(self) -> NoteSigningKey:
        """The private half (never logged; in an HSM with PKCS#11)."""
        ...

    @property
    def verifier(self) -> NoteVerifier:
        """The public half."""
        ...

    @property
    def verifiers(self) -> tuple[NoteVerifier, ...]:
        """The current verifier, then those of retired keys (their checkpoints still verify)."""
        ...


class Anchor(Protocol):
    """Where signed checkpoints are also published, outside the store's reach.

    The default appends each note to a per-tenant file (put it on WORM storage or ship
    it off the host); an RFC 3161 timestamp authority or a witness fits the same hook.
    """

    def publish(self, tenant: str, note: str) -> None:
        """Publish one signed checkpoint note."""
        ...

    def latest(self, tenant: str) -> str | None:
        """The newest note published for the tenant, or None."""
        ...
