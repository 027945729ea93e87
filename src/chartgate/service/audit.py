"""Reading the audit ledger: events, checkpoints and proofs, each read itself recorded.

The ledger's own ports live here (``LedgerStore``, ``LedgerUnit``, ``Anchor``,
``Pseudonymizer``, ``SigningKey``) beside the use cases that need them. Every read needs
the auditor role and appends an ``audit.read`` event (who, what query, how many results)
in the same transaction as the read, so the audit trail's own access is on the trail
(issue 5, item 8). Refusals are recorded by the API's error path (``record_denied``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chartgate.domain.errors import InputError, IntegrityError, NotFound, StateConflict
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.principal import Principal, Role
from chartgate.ledger.checkpoint import NoteVerifier
from chartgate.ledger.merkle import (
    HASH_SIZE,
    CompactRange,
    consistency_proof_between,
    inclusion_proof,
)
from chartgate.service import authz
from chartgate.service.ports import Clock, IdSource, JsonObject

MAX_PAGE = 1000
"""Most events one ``GET /v1/audit/events`` answers; page on with ``after_seq``."""


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


class LedgerUnit(Protocol):
    """One transaction on the ledger."""

    @property
    def ledger(self) -> LedgerStore:
        """The ledger bound to this transaction."""
        ...

    def __enter__(self) -> Self:
        """Begin."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit or roll back."""
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
    def private_key(self) -> Ed25519PrivateKey:
        """The private half (never logged)."""
        ...

    @property
    def verifier(self) -> NoteVerifier:
        """The public half."""
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


# -- the use cases ----------------------------------------------------------------------------


class AuditService:
    """Auditor reads of the ledger, and the events that are not part of a draft's story."""

    def __init__(
        self,
        *,
        ledger: LedgerUnitFactory,
        clock: Clock,
        ids: IdSource,
        pseudonyms: Pseudonymizer,
        key: SigningKey,
        origin_prefix: str,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._ids = ids
        self._pseudonyms = pseudonyms
        self._key = key
        self._origin_prefix = origin_prefix

    @property
    def verifier(self) -> NoteVerifier:
        """The public key checkpoints are signed with."""
        return self._key.verifier

    @property
    def origin_prefix(self) -> str:
        """Every tenant's origin is ``<prefix>/<tenant>``."""
        return self._origin_prefix

    def origin(self, tenant: str) -> str:
        """The origin line of the tenant's checkpoints."""
        return f"{self._origin_prefix}/{tenant}"

    def patient_ref(self, tenant: str, reference: str) -> str:
        """The tenant's pseudonym of a patient reference (pseudonyms pass through)."""
        return self._pseudonyms.reference(tenant, reference)

    # -- recording ------------------------------------------------------------------------

    def record(self, record: AuditRecord) -> int:
        """Append one event in its own transaction (events with no business change)."""
        with self._ledger() as unit:
            return unit.ledger.append(record)

    def record_startup(
        self, tenants: list[str], *, policy_hash: str, key_created: bool, actor: str
    ) -> None:
        """Record, per tenant, the policy this process enforces (and a new signing key)."""
        correlation_id = self._ids.new_id()
        verifier = self._key.verifier
        for tenant in tenants:
            events = []
            if key_created:
                key_data = {"kind": "ledger-signing", "key_id": verifier.key_id.hex()}
                events.append((EventType.KEY_CREATED, {**key_data, "vkey": verifier.vkey}))
            policy_data = {"policy_hash": policy_hash, "origin": self.origin(tenant)}
            events.append((EventType.POLICY_LOADED, policy_data))
            with self._ledger() as unit:
                for kind, data in events:
                    unit.ledger.append(
                        AuditRecord(
                            type=kind,
                            tenant=tenant,
                            at=self._clock.now(),
                            correlation_id=correlation_id,
                            actor=actor,
                            data=data,
                        )
                    )

    def record_denied(
        self,
        principal: Principal,
        *,
        request_id: str | None,
        method: str,
        route: str,
        status: int,
        reason: str,
    ) -> int:
        """Record a refused request of a verified principal (``security.authz_denied``)."""
        return self.record(
            AuditRecord(
                type=EventType.AUTHZ_DENIED,
                tenant=principal.tenant,
                at=self._clock.now(),
                correlation_id=request_id or self._ids.new_id(),
                actor=_actor(principal),
                request_id=request_id,
                data={
                    "method": method,
                    "route": route,
                    "status": status,
                    "role": principal.role.value,
                    "reason": reason,
                },
            )
        )

    def _read(
        self,
        unit: LedgerUnit,
        principal: Principal,
        request_id: str | None,
        what: str,
        query: JsonObject,
        results: int,
    ) -> None:
        unit.ledger.append(
            AuditRecord(
                type=EventType.AUDIT_READ,
                tenant=principal.tenant,
                at=self._clock.now(),
                correlation_id=request_id or self._ids.new_id(),
                actor=_actor(principal),
                request_id=request_id,
                data={"what": what, "query": query, "results": results},
            )
        )

    # -- reads ----------------------------------------------------------------------------

    def events(
        self, principal: Principal, query: EventQuery, *, request_id: str | None
    ) -> list[StoredEntry]:
        """Events of the principal's tenant matching ``query`` (auditor only; recorded)."""
        authz.require_role(principal, Role.AUDITOR)
        if not 1 <= query.limit <= MAX_PAGE:
            raise InputError(f"limit must be 1..{MAX_PAGE}", expression="limit")
        if query.patient is not None:
            query = _with_patient(query, self.patient_ref(principal.tenant, query.patient))
        with self._ledger() as unit:
            found = unit.ledger.search(principal.tenant, query)
            self._read(unit, principal, request_id, "events", query.described(), len(found))
        return found

    def latest_checkpoint(
        self, principal: Principal, *, request_id: str | None
    ) -> StoredCheckpoint:
        """The tenant's newest signed checkpoint (auditor only; recorded)."""
        authz.require_role(principal, Role.AUDITOR)
        with self._ledger() as unit:
            found = unit.ledger.latest_checkpoint(principal.tenant)
            self._read(unit, principal, request_id, "checkpoint", {}, int(found is not None))
        if found is None:
            raise NotFound("the ledger has no signed checkpoint yet", expression="checkpoint")
        return found

    def inclusion(
        self, principal: Principal, seq: int, *, size: int | None, request_id: str | None
    ) -> InclusionAnswer:
        """The audit path of entry ``seq`` to a checkpoint (the newest unless ``size``)."""
        authz.require_role(principal, Role.AUDITOR)
        if seq < 0:
            raise InputError("seq is a 0-based leaf index", expression="seq")
        tenant = principal.tenant
        hashes: list[bytes] = []
        with self._ledger() as unit:
            store = unit.ledger
            checkpoint = (
                store.latest_checkpoint(tenant) if size is None else store.checkpoint(tenant, size)
            )
            entry = store.entry(tenant, seq)
            covered = checkpoint is not None and entry is not None and seq < checkpoint.size
            if covered and checkpoint is not None:
                hashes = store.leaf_hashes(tenant, 0, checkpoint.size)
            query = {"seq": seq, "size": size}
            self._read(unit, principal, request_id, "inclusion_proof", query, int(covered))
        if checkpoint is None:
            raise NotFound("no signed checkpoint of that size", expression="size")
        if entry is None:
            raise NotFound("no ledger entry with that seq", expression="seq")
        if seq >= checkpoint.size:
            raise StateConflict(
                f"entry {seq} is newer than checkpoint size {checkpoint.size}; "
                "ask again after the next checkpoint",
                expression="seq",
            )
        if len(hashes) != checkpoint.size:
            raise IntegrityError("the ledger store is damaged: run chartgate audit verify")
        proof = inclusion_proof(seq, hashes)
        return InclusionAnswer(entry=entry, proof=proof, checkpoint=checkpoint)

    def consistency(
        self, principal: Principal, old_size: int, new_size: int, *, request_id: str | None
    ) -> ConsistencyAnswer:
        """An RFC 9162 consistency proof between two stored checkpoints."""
        authz.require_role(principal, Role.AUDITOR)
        if not 0 < old_size <= new_size:
            raise InputError("need 0 < from <= to", expression="from")
        tenant = principal.tenant
        tail_hashes: list[bytes] = []
        with self._ledger() as unit:
            store = unit.ledger
            old, new = store.checkpoint(tenant, old_size), store.checkpoint(tenant, new_size)
            if old is not None and new is not None:
                tail_hashes = store.leaf_hashes(tenant, old_size, new_size)
            query = {"from": old_size, "to": new_size}
            found = int(old is not None and new is not None)
            self._read(unit, principal, request_id, "consistency_proof", query, found)
        if old is None or new is None:
            raise NotFound("both sizes must be signed checkpoints", expression="from")
        if len(tail_hashes) != new_size - old_size:
            raise IntegrityError("the ledger store is damaged: run chartgate audit verify")
        if old_size == new_size:
            return ConsistencyAnswer(old=old, new=new, proof=[])
        tail = CompactRange(begin=old_size)
        tail.extend(tail_hashes)
        proof = consistency_proof_between(old.compact_range(), tail)
        return ConsistencyAnswer(old=old, new=new, proof=proof)

    def published_keys(self) -> JsonObject:
        """What ``/.well-known/chartgate-ledger-keys`` publishes: the key to pin, the origins."""
        verifier = self._key.verifier
        return {
            "keys": [
                {"name": verifier.name, "key_id": verifier.key_id.hex(), "vkey": verifier.vkey}
            ],
            "origin_template": f"{self._origin_prefix}/{{tenant}}",
            "checkpoint_format": "https://c2sp.org/tlog-checkpoint",
            "hashing": "https://www.rfc-editor.org/rfc/rfc9162#section-2.1",
        }


def _actor(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.subject}"


def _with_patient(query: EventQuery, patient: str) -> EventQuery:
    return EventQuery(
        correlation_id=query.correlation_id,
        patient=patient,
        actor=query.actor,
        type=query.type,
        since=query.since,
        until=query.until,
        after_seq=query.after_seq,
        limit=query.limit,
    )


def entry_json(entry: StoredEntry) -> dict[str, Any]:
    """An entry as the API and the export show it: seq, leaf hash and the sealed event."""
    return {"seq": entry.seq, "leaf_hash": (entry.leaf_hash or b"").hex(), "event": entry.event()}
