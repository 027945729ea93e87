"""What every use case shares: its collaborators, the load-and-bind prologue, the audit line.

Bootstrap builds one ``Context`` and hands it to each use case (``drafting.py``,
``approvals.py``, ``resolution.py``, ``replays.py``), so a rule enforced here is enforced
for the API, the CLI, the demo and the reviewer page alike.

Audit records reach the ledger two ways, both built by ``AuditRecorder``
(``service/event_records.py``, ADR 0033): a change of a draft records a domain event, which
the unit of work opened by ``unit(principal, meta)`` turns into its record on commit; an
event that changes no draft (a read) is appended explicitly with ``audit_read``.
"""

from __future__ import annotations

from dataclasses import dataclass

from chartgate.domain.drafts import Draft
from chartgate.domain.events import EventType
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.principal import Principal
from chartgate.service.access import DRAFT_MISSING, Access
from chartgate.service.audit import Pseudonymizer
from chartgate.service.event_records import Actor, AuditRecorder, keyed_reference
from chartgate.service.ports import (
    Clock,
    EhrDirectory,
    IdSource,
    JsonObject,
    UnitOfWork,
    UnitOfWorkFactory,
)
from chartgate.service.validation import DraftValidator

WRITEBACK_MISSING = "write-back not found"  # the store's message for an unknown write-back id


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Per-request facts that go into the audit trail."""

    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """The collaborators of the use cases, wired once in bootstrap."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdSource
    policy: LoadedPolicy
    ehr: EhrDirectory
    access: Access
    validator: DraftValidator
    # Patient and encounter references reach the ledger only as keyed HMACs.
    pseudonyms: Pseudonymizer | None = None

    def bound_draft(
        self,
        uow: UnitOfWork,
        principal: Principal,
        draft_id: str,
        *,
        for_update: bool = False,
        missing: str = DRAFT_MISSING,
    ) -> Draft:
        """Load the tenant's draft and check the principal's encounter binding to it."""
        draft = uow.drafts.get(principal.tenant, draft_id, for_update=for_update)
        self.access.bind(principal, draft, missing=missing)
        return draft

    def unit(self, principal: Principal, meta: RequestMeta) -> UnitOfWork:
        """A unit of work whose drafts' new events are recorded as ``principal``'s on commit."""
        uow = self.uow()
        uow.recording(self.recorder(principal, meta))
        return uow

    def recorder(self, principal: Principal, meta: RequestMeta) -> AuditRecorder:
        """The audit records of one use case: its actor, its request, the ledger's pseudonyms."""
        return AuditRecorder(
            self.clock,
            Actor(f"{principal.role.value}:{principal.subject}", meta.request_id),
            self.pseudonyms,
        )

    def audit_read(
        self,
        uow: UnitOfWork,
        event: EventType,
        principal: Principal,
        draft: Draft,
        meta: RequestMeta,
        data: JsonObject,
        *,
        writeback_id: str | None = None,
    ) -> None:
        """Append one audit record about ``draft`` explicitly, in the transaction of ``uow``.

        The one path for a use case's events that change no draft (reads): ``draft.viewed``,
        ``draft.validated``, ``writeback.viewed`` and ``request.replayed``. A change of a draft
        is never recorded here: its method records a domain event and the unit of work opened
        by ``unit`` writes the record on commit (ADR 0033).
        """
        record = self.recorder(principal, meta).record(
            draft, event, data, writeback_id=writeback_id
        )
        uow.audit.append(record)

    def pseudonym(self, tenant: str, reference: str) -> str | None:
        """The ledger's keyed HMAC of a patient or encounter reference (None without keys)."""
        return keyed_reference(self.pseudonyms, tenant, reference)
