"""A write-back's outcome, for people: read its status, or decide what the worker could not.

A status read is appended explicitly (``ctx.audit_read``: it changes nothing); a
resolution is recorded by ``ChartWrite.resolve_*`` as a domain event, written by the unit
of work on commit (ADR 0033).
"""

from __future__ import annotations

from chartgate.domain.chart_write import ChartWrite
from chartgate.domain.errors import StateConflict
from chartgate.domain.events import EventType
from chartgate.domain.outcomes import Decision
from chartgate.domain.principal import Principal, Role
from chartgate.service.chart_evidence import follow_up_in_chart, landed_document
from chartgate.service.context import WRITEBACK_MISSING, Context, RequestMeta
from chartgate.service.idempotency import settle
from chartgate.service.ports import WritebackRecord

RESOLUTIONS = ("resend", "landed", "retry-follow-up")
"""What a person may decide about a write-back the worker left to them."""

CHART_RESOURCE = (
    r"^(?:DocumentReference|Condition|AllergyIntolerance|Observation|MedicationRequest)"
    r"/[A-Za-z0-9\-.]{1,64}$"
)
"""What ``landed`` may point at: a resource chartgate writes, ``Type/id``."""


class Resolutions:
    """Read one write-back's status; resolve one the worker left to a person."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def writeback(
        self,
        principal: Principal,
        writeback_id: str,
        meta: RequestMeta | None = None,
        *,
        audit: bool = True,
    ) -> WritebackRecord:
        """Read one write-back's status: a clinician bound to its draft's encounter, audited.

        ``audit=False`` only for the reviewer page's background poll of a draft it showed.
        """
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.uow() as uow:
            record = uow.writebacks.get(principal.tenant, writeback_id)
            draft = ctx.bound_draft(uow, principal, record.draft_id, missing=WRITEBACK_MISSING)
            if audit:
                ctx.audit_read(
                    uow,
                    EventType.WRITEBACK_VIEWED,
                    principal,
                    draft,
                    meta or RequestMeta(),
                    {"writeback_state": record.state},
                    writeback_id=record.id,
                )
        return record

    def resolve(
        self,
        principal: Principal,
        writeback_id: str,
        *,
        action: str,
        document: str | None,
        meta: RequestMeta,
    ) -> WritebackRecord:
        """A person decides a write-back the worker could not: resend, landed, or retry.

        ``resend``: the note is not in the chart (the person looked); send it again.
        ``landed``: the note is ``document`` (``DocumentReference/<id>``): chartgate reads it
        and accepts it only if its current version carries this write-back's mark, then sends
        the rest. ``retry-follow-up``: the note is in the chart; chartgate looks for its
        Provenance first (found: complete, nothing sent) and otherwise sends it again.
        The chart is read before anything changes (``service/chart_evidence.py``).
        """
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN, Role.ADMIN)
        ctx.access.require_mfa(principal)
        with ctx.uow(read_only=True) as uow:
            seen = uow.writebacks.get(principal.tenant, writeback_id)
            if principal.role is Role.CLINICIAN:
                ctx.bound_draft(uow, principal, seen.draft_id, missing=WRITEBACK_MISSING)
        version: str | None = None
        document_id: str | None = None
        found: str | None = None
        if action == "landed":
            document_id, version = landed_document(ctx.ehr, seen, document)
        elif action == "retry-follow-up" and seen.document_landed:
            decision, provenance_id = follow_up_in_chart(ctx.ehr, seen)
            found = provenance_id if decision is Decision.PROCEED else None
        with ctx.unit(principal, meta) as uow:
            record = uow.writebacks.get(principal.tenant, writeback_id)
            draft = uow.drafts.get(principal.tenant, record.draft_id, for_update=True)
            if principal.role is Role.CLINICIAN:
                ctx.access.bind(principal, draft, missing=WRITEBACK_MISSING)
            if (record.state, record.document_version) != (seen.state, seen.document_version):
                raise StateConflict(
                    "the write-back changed while the chart was read; look again",
                    expression="action",
                )
            pair = ChartWrite(draft, record)
            if action == "resend":
                pair.resolve_resend()
            elif action == "landed" and document_id is not None:
                pair.resolve_landed(document_id, version)
            elif action == "retry-follow-up" and found is not None:
                pair.resolve_follow_up_found(found)
            elif action == "retry-follow-up":
                pair.resolve_retry_follow_up()
            else:
                raise StateConflict(f"unknown resolution {action!r}", expression="action")
            now = ctx.clock.now()
            record.next_attempt_at = now
            uow.writebacks.save_progress(record, now=now)
            uow.drafts.save(draft, at=now)  # writeback.resolved (ChartWrite): recorded on commit
            settle(uow, record)  # the answer commits with the effect
        return record
