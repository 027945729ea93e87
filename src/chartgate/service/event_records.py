"""From a draft's domain events to the ledger's audit records: the one mapping (ADR 0033).

The flow: a ``Draft`` method records a domain event (``domain/draft_events.py``); the unit
of work remembers every draft it loaded, added or saved; when it commits it pulls their new
events and appends ``recorder(draft, event)`` for each to the audit trail, in the same
transaction (``record_new_events``). A rollback drops them with the change.

The actor and request id come from the use case (``Context.unit(principal, meta)``); the
state, correlation id and patient pseudonym from the draft as it commits. Events that are
not about a change of the draft (reads: ``draft.viewed``, ``draft.validated``,
``writeback.viewed``, ``request.replayed``) take the one explicit path,
``Context.audit_read``, which builds its record with ``AuditRecorder.record``: one shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from chartgate.domain.draft_events import DraftEvent, DraftReceived
from chartgate.domain.drafts import Draft
from chartgate.domain.events import AuditRecord, EventType
from chartgate.service.ledger_ports import Pseudonymizer
from chartgate.service.ports import AuditStore, Clock, EventRecorder, JsonObject


class UnrecordedChangeError(RuntimeError):
    """A draft changed in a unit of work that was given no recorder: a programming error.

    Fails the commit (the change rolls back) rather than letting a change reach the store
    without its audit record.
    """


@dataclass(frozen=True, slots=True)
class Actor:
    """Who a use case acts for, as the ledger names them, and the request it serves."""

    name: str  # "<role>:<subject>"
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecorder:
    """Builds the audit records of one use case's unit of work (an ``EventRecorder``)."""

    clock: Clock
    actor: Actor
    # Patient and encounter references reach the ledger only as keyed HMACs.
    pseudonyms: Pseudonymizer | None = None

    def __call__(self, draft: Draft, event: DraftEvent) -> AuditRecord:
        """The audit record of one domain event of ``draft``, as the draft is now."""
        data: JsonObject = {}
        writeback_id: str | None = None
        for f in fields(event):
            value = getattr(event, f.name)
            if f.name == "writeback_id":  # the record's own field, not data
                writeback_id = value
            elif f.name == "evidence":  # the use case's facts, flat beside the event's
                data.update({k: _plain(v) for k, v in value.items()})
            else:
                data[f.name] = _plain(value)
        if isinstance(event, DraftReceived):
            data["encounter"] = self.pseudonym(draft.tenant, draft.encounter)
        return self.record(draft, event.type, data, writeback_id=writeback_id)

    def record(
        self,
        draft: Draft,
        event: EventType,
        data: JsonObject,
        *,
        writeback_id: str | None = None,
    ) -> AuditRecord:
        """One audit record about ``draft``: its state first, then ``data``."""
        return AuditRecord(
            type=event,
            tenant=draft.tenant,
            at=self.clock.now(),
            correlation_id=draft.correlation_id,
            actor=self.actor.name,
            request_id=self.actor.request_id,
            draft_id=draft.id,
            writeback_id=writeback_id,
            data={"state": draft.state.value, **data},
            patient=self.pseudonym(draft.tenant, draft.patient),
        )

    def pseudonym(self, tenant: str, reference: str) -> str | None:
        """The ledger's keyed HMAC of a patient or encounter reference (None without keys)."""
        return keyed_reference(self.pseudonyms, tenant, reference)


def keyed_reference(pseudonyms: Pseudonymizer | None, tenant: str, reference: str) -> str | None:
    """A patient or encounter reference as the ledger may hold it: a keyed HMAC, or None."""
    return None if pseudonyms is None else pseudonyms.reference(tenant, reference)


def record_new_events(
    seen: Iterable[Draft], recorder: EventRecorder | None, audit: AuditStore
) -> None:
    """Append the audit record of every new event of the ``seen`` drafts.

    Called by a unit of work just before it commits. Pulling empties each draft's list, so a
    draft saved twice (or seen twice) records each event once.
    """
    for draft in seen:
        events = draft.pull_events()
        if not events:
            continue
        if recorder is None:
            raise UnrecordedChangeError(
                "a draft changed in a unit of work opened without a recorder (Context.unit)"
            )
        for event in events:
            audit.append(recorder(draft, event))


def _plain(value: object) -> object:
    """JSON's shapes: a tuple is a list, a mapping a dict (as the ledger stores them)."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value
