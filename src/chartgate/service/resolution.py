"""A write-back's outcome, for people: read its status, or decide what the worker could not."""

from __future__ import annotations

from chartgate.domain.errors import StateConflict
from chartgate.domain.events import EventType
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.principal import Principal, Role
from chartgate.domain.writeback import ChartWrite
from chartgate.service.context import WRITEBACK_MISSING, Context, RequestMeta
from chartgate.service.ports import WritebackRecord


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
                ctx.audit(
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
        and accepts it only if it carries this write-back's identifier, then sends the rest.
        ``retry-follow-up``: the note is in the chart; send its Provenance again.
        """
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN, Role.ADMIN)
        ctx.access.require_mfa(principal)
        version: str | None = None
        document_id: str | None = None
        if action == "landed":
            document_id, version = self._landed_document(principal, writeback_id, document)
        with ctx.uow() as uow:
            record = uow.writebacks.get(principal.tenant, writeback_id)
            draft = uow.drafts.get(principal.tenant, record.draft_id, for_update=True)
            if principal.role is Role.CLINICIAN:
                ctx.access.bind(principal, draft, missing=WRITEBACK_MISSING)
            previous = record.state
            pair = ChartWrite(draft, record)
            if action == "resend":
                pair.resolve_resend()
            elif action == "landed" and document_id is not None:
                pair.resolve_landed(document_id, version)
            elif action == "retry-follow-up":
                pair.resolve_retry_follow_up()
            else:
                raise StateConflict(f"unknown resolution {action!r}", expression="action")
            now = ctx.clock.now()
            record.next_attempt_at = now
            uow.writebacks.save_progress(record, now=now)
            uow.drafts.save(draft, at=now)
            ctx.audit(
                uow,
                EventType.WRITEBACK_RESOLVED,
                principal,
                draft,
                meta,
                {
                    "action": action,
                    "previous_state": previous.value,
                    "ehr_resource": None if document_id is None else document,
                },
                writeback_id=record.id,
            )
        return record

    def _landed_document(
        self, principal: Principal, writeback_id: str, document: str | None
    ) -> tuple[str, str | None]:
        """Read the document a person points at; it must carry this write-back's identifier."""
        kind, _, document_id = (document or "").partition("/")
        if kind != "DocumentReference" or not document_id:
            raise StateConflict("name the note as DocumentReference/<id>", expression="document")
        with self._ctx.uow(read_only=True) as uow:
            record = uow.writebacks.get(principal.tenant, writeback_id)
        gateway = self._ctx.ehr.gateway(principal.tenant)
        answer = gateway.read("DocumentReference", document_id, request_id=record.correlation_id)
        identifiers = (answer.resource or {}).get("identifier", [])
        ours = any(
            i.get("system") == WRITEBACK_SYSTEM and i.get("value") == record.id for i in identifiers
        )
        if not answer.ok or not ours:
            raise StateConflict(
                "that document is not in the chart or does not carry this write-back's identifier",
                expression="document",
            )
        return document_id, answer.version_id
