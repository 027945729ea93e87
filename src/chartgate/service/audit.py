"""Reading the audit ledger: events, checkpoints and proofs, each read itself recorded.

The ledger's own ports (``LedgerStore``, ``LedgerUnit``, ``Anchor``, ``Pseudonymizer``,
``SigningKey``) and values are in ``service/ledger_ports.py``; this module re-exports them.
Every read needs the auditor role and appends an ``audit.read`` event (who, what query, how
many results) in the same transaction as the read, so the audit trail's own access is on the
trail (issue 5, item 8). Refusals are recorded by the API's error path (``record_denied``).
"""

from __future__ import annotations

from typing import Any

from chartgate.domain.errors import InputError, IntegrityError, NotFound, StateConflict
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.principal import Principal, Role
from chartgate.ledger.checkpoint import NoteVerifier
from chartgate.ledger.merkle import (
    CompactRange,
    consistency_proof_between,
    inclusion_proof,
)
from chartgate.service import authz
from chartgate.service.ledger_ports import (
    Anchor,
    ConsistencyAnswer,
    EventQuery,
    InclusionAnswer,
    LedgerHead,
    LedgerStore,
    LedgerUnit,
    LedgerUnitFactory,
    Pseudonymizer,
    SigningKey,
    StoredCheckpoint,
    StoredEntry,
    range_from_bytes,
    range_to_bytes,
)
from chartgate.service.ports import Clock, IdSource, JsonObject

__all__ = [
    "MAX_PAGE",
    "Anchor",
    "AuditService",
    "ConsistencyAnswer",
    "EventQuery",
    "InclusionAnswer",
    "LedgerHead",
    "LedgerStore",
    "LedgerUnit",
    "LedgerUnitFactory",
    "Pseudonymizer",
    "SigningKey",
    "StoredCheckpoint",
    "StoredEntry",
    "entry_json",
    "range_from_bytes",
    "range_to_bytes",
]

MAX_PAGE = 1000
"""Most events one ``GET /v1/audit/events`` answers; page on with ``after_seq``."""


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
        return {
            "keys": [  # the current key first, then retired ones (docs/keys.md)
                {"name": v.name, "key_id": v.key_id.hex(), "vkey": v.vkey}
                for v in self._key.verifiers
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
