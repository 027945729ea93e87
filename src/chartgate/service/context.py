"""What every use case shares: its collaborators, the load-and-bind prologue, the audit line.

Bootstrap builds one ``Context`` and hands it to each use case (``drafting.py``,
``approvals.py``, ``resolution.py``, ``replays.py``), so a rule enforced here is enforced
for the API, the CLI, the demo and the reviewer page alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from chartgate.domain.drafts import Draft
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.principal import Principal
from chartgate.service.access import DRAFT_MISSING, Access
from chartgate.service.audit import Pseudonymizer
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

    def audit(
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
        """Append one audit record about ``draft``, in the transaction of ``uow``."""
        uow.audit.append(
            AuditRecord(
                type=event,
                tenant=draft.tenant,
                at=self.clock.now(),
                correlation_id=draft.correlation_id,
                actor=f"{principal.role.value}:{principal.subject}",
                request_id=meta.request_id,
                draft_id=draft.id,
                writeback_id=writeback_id,
                data={"state": draft.state.value, **data},
                patient=self.pseudonym(draft.tenant, draft.patient),
            )
        )

    def pseudonym(self, tenant: str, reference: str) -> str | None:
        """The ledger's keyed HMAC of a patient or encounter reference (None without keys)."""
        if self.pseudonyms is None:
            return None
        return self.pseudonyms.reference(tenant, reference)
