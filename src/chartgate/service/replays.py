"""Before a stored Idempotency-Key answer is replayed: the request's own checks, then a record."""

from __future__ import annotations

from chartgate.domain.events import EventType
from chartgate.domain.principal import Principal, Role
from chartgate.service.access import DRAFT_MISSING
from chartgate.service.context import WRITEBACK_MISSING, Context, RequestMeta


class Replays:
    """Authorise and record the replay of a stored answer (issue 12)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def authorize_replay(
        self,
        principal: Principal,
        *,
        roles: tuple[Role, ...],
        operation: str,
        meta: RequestMeta,
        draft_id: str | None = None,
        writeback_id: str | None = None,
    ) -> None:
        """The caller must still hold one of ``roles`` and (a clinician) the draft's binding.

        The replay is recorded in the ledger under the draft's correlation id.
        """
        ctx = self._ctx
        ctx.access.require_role(principal, *roles)
        with ctx.uow() as uow:
            missing = WRITEBACK_MISSING if writeback_id is not None else DRAFT_MISSING
            if writeback_id is not None:
                draft_id = uow.writebacks.get(principal.tenant, writeback_id).draft_id
            if draft_id is None:
                return
            draft = uow.drafts.get(principal.tenant, draft_id)
            if principal.role is Role.CLINICIAN:
                ctx.access.bind(principal, draft, missing=missing)
            ctx.audit_read(
                uow,
                EventType.REQUEST_REPLAYED,
                principal,
                draft,
                meta,
                {"operation": operation},
                writeback_id=writeback_id,
            )
