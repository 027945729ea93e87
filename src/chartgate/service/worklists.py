"""Worklists: drafts awaiting a clinician, write-backs awaiting a person.

``GET /v1/drafts`` shows a clinician only the drafts of encounters its launch context or a
care-team grant names (the same rule as opening one draft), and the read is a ledger event.
``GET /v1/writebacks`` is for the tenant's admin: ids, kinds, states and counts, never a
patient, an encounter or a note, so an operator needs neither SQL nor PHI to find what is
stuck. Both page with an opaque cursor over (created_at, id).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from chartgate.domain.access import EncounterGrant, binding_basis
from chartgate.domain.errors import InputError
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.lifecycle import DraftState
from chartgate.domain.principal import Principal, Role
from chartgate.domain.writeback import WritebackState
from chartgate.service import authz
from chartgate.service.ports import Clock, JsonObject, UnitOfWorkFactory

MAX_PAGE = 200

HELD = "held"
ESCALATED = "escalated"
WRITEBACK_FILTERS = frozenset({*(s.value for s in WritebackState), HELD, ESCALATED})
"""``state=`` values of the write-back worklist: the stored states plus held and escalated."""

NEEDS_A_PERSON = frozenset(
    {
        WritebackState.CONFLICT.value,
        WritebackState.NEEDS_PERSON.value,
        WritebackState.PARTIAL.value,
        WritebackState.AMBIGUOUS.value,
        HELD,
        ESCALATED,
    }
)
"""What the write-back worklist shows when no state is named."""

AWAITING_REVIEW = frozenset({DraftState.IN_REVIEW.value, DraftState.CONFLICT.value})
"""What the draft worklist shows when no state is named."""

CLINICIAN_WRITEBACK_FILTERS = frozenset(
    {WritebackState.PARTIAL.value, WritebackState.NEEDS_PERSON.value}
)
"""Write-back states a clinician's worklist may ask for (``writebacks=``): the note's own
write-backs that wait for a person (follow-up failed, cannot tell whether it landed). The
draft's state does not show them (a partial write-back leaves the draft committed)."""

Cursor = tuple[datetime, str]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DraftItem:
    """One line of a clinician's worklist."""

    id: str
    state: str
    patient: str
    encounter: str
    created_at: datetime
    updated_at: datetime
    writeback_state: str | None = None
    """The state of the draft's newest write-back that needs a person, when asked for."""

    def public(self) -> JsonObject:
        """Its JSON form."""
        return {
            "id": self.id,
            "state": self.state,
            "patient": self.patient,
            "encounter": self.encounter,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class WritebackItem:
    """One line of the operators' worklist: ids and states only."""

    id: str
    draft_id: str
    kind: str
    state: str
    attempts: int
    escalated: bool
    held: bool
    created_at: datetime
    updated_at: datetime
    last_status: int | None = None

    def public(self) -> JsonObject:
        """Its JSON form (no patient, encounter, note or reason text)."""
        return {
            "id": self.id,
            "draft_id": self.draft_id,
            "kind": self.kind,
            "state": self.state,
            "attempts": self.attempts,
            "escalated": self.escalated,
            "held": self.held,
            "last_status": self.last_status,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Items and the cursor of the next page (None: this was the last)."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


class WorklistQueries(Protocol):
    """The store's worklist queries (read only)."""

    def drafts(
        self,
        tenant: str,
        *,
        states: frozenset[str],
        encounters: frozenset[str] | None,
        patients: frozenset[str],
        after: Cursor | None,
        limit: int,
        writeback_states: frozenset[str] = frozenset(),
    ) -> list[DraftItem]:
        """Drafts in ``states`` or with a write-back in ``writeback_states``.

        Only those of these encounters or patients (``encounters`` None: any encounter).
        """
        ...

    def writebacks(
        self, tenant: str, *, states: frozenset[str], after: Cursor | None, limit: int
    ) -> list[WritebackItem]:
        """Write-backs in ``states`` (which may include held and escalated)."""
        ...


def encode_cursor(created_at: datetime, item_id: str) -> str:
    """An opaque cursor for the item after which the next page starts."""
    raw = json.dumps([created_at.isoformat(), item_id]).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> Cursor | None:
    """The (created_at, id) a cursor names; a malformed one is a 422."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, item_id = json.loads(raw)
        return datetime.fromisoformat(created), str(item_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InputError("cursor is not one this server gave out", expression="cursor") from None


def _states(value: str | None, allowed: frozenset[str], default: frozenset[str]) -> frozenset[str]:
    if value is None or not value.strip():
        return default
    named = frozenset(v.strip().replace("-", "_") for v in value.split(","))
    named = frozenset(HELD if v == HELD else v for v in named)
    unknown = sorted(named - allowed)
    if unknown:
        raise InputError(
            f"unknown state; use one of {', '.join(sorted(allowed))}", expression="state"
        )
    return named


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be 1..{MAX_PAGE}", expression="limit")
    return limit


def _reference(kind: str, value: str) -> str:
    tail = value.rstrip("/").split("/")
    if len(tail) >= 2 and tail[-2] == kind:  # noqa: PLR2004 - Type/id
        return f"{kind}/{tail[-1]}"
    return f"{kind}/{value}"


class Worklists:
    """The two worklists, with their access rules."""

    def __init__(
        self,
        *,
        queries: WorklistQueries,
        uow: UnitOfWorkFactory,
        clock: Clock,
        grants: Mapping[str, tuple[EncounterGrant, ...]],
    ) -> None:
        self._queries = queries
        self._uow = uow
        self._clock = clock
        self._grants = dict(grants)

    def drafts(
        self,
        principal: Principal,
        *,
        state: str | None,
        encounter: str | None,
        cursor: str | None,
        limit: int,
        request_id: str | None = None,
        writebacks: str | None = None,
    ) -> Page[DraftItem]:
        """A clinician's drafts (awaiting review by default); the read is a ledger event.

        ``writebacks`` (``partial,needs_person``) adds the drafts whose write-back waits for a
        person, each with that write-back's state: the clinician's own notes only, by the same
        access rule, never the admin's write-back worklist.
        """
        authz.require_role(principal, Role.CLINICIAN)
        states = _states(state, frozenset(s.value for s in DraftState), AWAITING_REVIEW)
        needing = (
            _states(writebacks, CLINICIAN_WRITEBACK_FILTERS, frozenset())
            if writebacks is not None
            else frozenset()
        )
        now = self._clock.now()
        grants = tuple(
            g
            for g in self._grants.get(principal.tenant, ())
            if g.expires_at is None or now < g.expires_at
        )
        encounters = {_reference("Encounter", e) for g in grants for e in g.encounters}
        patients = frozenset(_reference("Patient", p) for g in grants for p in g.patients)
        if principal.launch_encounter is not None:
            encounters.add(_reference("Encounter", principal.launch_encounter))
        if encounter is not None:
            # Only that encounter; the exact rule below decides whether the caller sees it.
            encounters = {_reference("Encounter", encounter)}
            patients = frozenset()
        limit = _limit(limit)
        after = decode_cursor(cursor)
        found: list[DraftItem] = []
        exhausted = False
        # Candidates by encounter or patient in SQL; each is then checked with the exact rule
        # that opening the draft uses (launch patient, grant subject and practitioner).
        while len(found) <= limit and not exhausted:
            batch = self._queries.drafts(
                principal.tenant,
                states=states,
                encounters=frozenset(encounters),
                patients=patients,
                after=after,
                limit=limit + 1,
                writeback_states=needing,
            )
            exhausted = len(batch) <= limit
            for item in batch:
                after = (item.created_at, item.id)
                basis = binding_basis(
                    principal,
                    patient=item.patient,
                    encounter=item.encounter,
                    grants=grants,
                    now=now,
                )
                if basis is not None:
                    found.append(item)
                if len(found) > limit:
                    break
        page = found[:limit]
        next_cursor = (
            encode_cursor(page[-1].created_at, page[-1].id) if len(found) > limit else None
        )
        self._record(principal, len(page), sorted(states), request_id, sorted(needing))
        return Page(page, next_cursor)

    def writebacks(
        self, principal: Principal, *, state: str | None, cursor: str | None, limit: int
    ) -> Page[WritebackItem]:
        """The admin's write-backs that need a person (by default), ids and states only."""
        authz.require_role(principal, Role.ADMIN)
        states = _states(state, WRITEBACK_FILTERS, NEEDS_A_PERSON)
        limit = _limit(limit)
        items = self._queries.writebacks(
            principal.tenant, states=states, after=decode_cursor(cursor), limit=limit + 1
        )
        page = items[:limit]
        more = len(items) > limit
        return Page(page, encode_cursor(page[-1].created_at, page[-1].id) if more else None)

    def _record(
        self,
        principal: Principal,
        count: int,
        states: Sequence[str],
        request_id: str | None,
        writebacks: Sequence[str] = (),
    ) -> None:
        data: JsonObject = {"worklist": "drafts", "states": list(states), "count": count}
        if writebacks:
            data["writebacks"] = list(writebacks)
        with self._uow() as uow:
            uow.audit.append(
                AuditRecord(
                    type=EventType.WORKLIST_READ,
                    tenant=principal.tenant,
                    at=self._clock.now(),
                    correlation_id=request_id or f"worklist:{principal.subject}"[:64],
                    actor=f"{principal.role.value}:{principal.subject}",
                    request_id=request_id,
                    data=data,
                )
            )
