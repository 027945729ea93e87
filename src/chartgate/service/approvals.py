"""Approval use cases: approve, finalize, amend and retract a note.

Each writes the approval, its outbox row (the write-back's own claim) and its audit events
in ONE transaction: either the chart write is queued and recorded, or nothing happened.
The audit records are not built here: ``Draft.queued`` records the approval's domain events
and the unit of work (``ctx.unit``) turns them into records as it commits (ADR 0033).
"""

from __future__ import annotations

from dataclasses import replace

from chartgate.domain.documents import (
    build_document_reference,
    replaced_document,
    retraction_of,
)
from chartgate.domain.drafts import Approver, Draft
from chartgate.domain.errors import PolicyDenied, StateConflict
from chartgate.domain.killswitch import Mode
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import VersionEdit
from chartgate.domain.writeback import WritebackKind
from chartgate.service import gates
from chartgate.service.consent import consent_facts, with_consent
from chartgate.service.context import WRITEBACK_MISSING, Context, RequestMeta
from chartgate.service.idempotency import settle
from chartgate.service.killswitch import refuse_if_engaged
from chartgate.service.outbox import (
    queue_amendment_of,
    queue_parts,
    queue_retractions_of,
    queue_write,
)
from chartgate.service.patient_context import check_context
from chartgate.service.ports import WritebackRecord
from chartgate.service.signing import signed_approval


class Approvals:
    """A clinician approves a draft for the chart, or changes the note it became."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def approve(
        self,
        principal: Principal,
        draft_id: str,
        *,
        expected_version: int,
        meta: RequestMeta,
        acknowledged: tuple[str, ...] = (),
        sign: bool = False,
    ) -> tuple[Draft, WritebackRecord]:
        """Approve for chart: freeze the version and queue exactly one write-back.

        ``sign``: approve and sign in one act (step-up), written ``final``; the only approval
        an EHR that takes signed notes only accepts (profile ``accepts_preliminary = no``).
        """
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        doc_status = signed_approval(ctx, principal, sign=sign)
        # The right patient and encounter, from the EHR, before anything is decided (issue 13):
        # read outside the transaction (no row lock held across a network call); the draft's
        # patient and encounter never change, so the check holds for the approval below.
        with ctx.uow(read_only=True) as uow:
            seen = ctx.bound_draft(uow, principal, draft_id)
        # Who may approve is decided before the EHR is asked anything (again in the transaction).
        ctx.access.require_note_permission(principal, "c")
        gates.require_writable(ctx, principal, seen.current.content.note.type)
        context = check_context(ctx.ehr, seen, request_id=meta.request_id or seen.correlation_id)
        with ctx.unit(principal, meta) as uow:
            # The draft read above, unless it changed since (then read again, under the lock).
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True, known=seen)
            basis = ctx.access.bind(principal, draft)
            ctx.access.require_note_permission(principal, "c")
            gates.require_writable(ctx, principal, draft.current.content.note.type)
            refuse_if_engaged(uow, Mode.FREEZE_APPROVALS, gates.target(ctx, draft))
            fhir_user = _fhir_user(principal)
            now = ctx.clock.now()
            approval = draft.approve(
                approval_id=ctx.ids.new_id(),
                writeback_id=ctx.ids.new_id(),
                expected_version=expected_version,
                approver=_approver(principal),
                policy_hash=ctx.policy.content_hash,
                at=now,
            )
            approval, content = with_consent(ctx, uow, draft, approval, draft.current.content)
            draft.transition(Action.QUEUE)
            payload = build_document_reference(
                gates.note_write(
                    ctx,
                    draft,
                    content,
                    writeback_id=approval.writeback_id,
                    version=approval.version,
                    author=fhir_user,
                    doc_status=doc_status,
                    date=now,
                )
            )
            verdict = gates.approval_gate(
                ctx,
                principal,
                draft,
                payload,
                acknowledged,
                now,
                doc_status=doc_status,
                sent=(content, approval.writeback_id),
            )
            record = queue_write(uow, draft, approval, payload, now)
            parts = queue_parts(ctx, uow, draft, approval, record, now)
            draft.queued(  # draft.approved and writeback.queued, recorded on commit
                approval,
                [record, *parts],
                {
                    "binding": basis,
                    "scopes": sorted(principal.scopes),  # drift: scopes granted (issue 15)
                    "findings": [f.key for f in verdict.findings],
                    "warnings_acknowledged": list(verdict.acknowledged),
                    "encounter_status": context.encounter_status,
                    "doc_status": doc_status,
                    "structured_writebacks": [p.id for p in parts],
                    **consent_facts(ctx, draft, approval),
                },
            )
            settle(uow, (draft, record))  # the answer commits with the effect
        return draft, record

    def finalize(
        self, principal: Principal, draft_id: str, meta: RequestMeta
    ) -> tuple[Draft, WritebackRecord]:
        """Finalize note: a step-up approved update of the committed note to docStatus final."""
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.unit(principal, meta) as uow:
            draft = ctx.bound_draft(uow, principal, draft_id, for_update=True)
            ctx.access.require_note_permission(principal, "u")
            ctx.access.require_strength(principal, "step-up")
            refuse_if_engaged(uow, Mode.FREEZE_APPROVALS, gates.target(ctx, draft))
            fhir_user = _fhir_user(principal)
            last = chart_document(uow.writebacks.for_draft(principal.tenant, draft_id))
            if draft.state is not DraftState.COMMITTED or last is None:
                raise StateConflict(
                    f"cannot finalize a draft that is {draft.state.value}", expression="state"
                )
            now = ctx.clock.now()
            approval = draft.finalize(
                approval_id=ctx.ids.new_id(),
                writeback_id=ctx.ids.new_id(),
                approver=_approver(principal),
                policy_hash=ctx.policy.content_hash,
                at=now,
            )
            original = uow.approvals.get(principal.tenant, last.approval_id)
            approval, content = with_consent(
                ctx, uow, draft, approval, draft.version(approval.version).content
            )
            payload = build_document_reference(
                gates.note_write(
                    ctx,
                    draft,
                    content,
                    writeback_id=original.writeback_id,
                    version=approval.version,
                    author=fhir_user,
                    doc_status="final",
                    date=original.approved_at,
                    # A finalized amendment still replaces the note it amended.
                    replaces=replaced_document(last.payload),
                )
            )
            payload["id"] = last.document_id
            payload["meta"]["versionId"] = last.document_version
            ctx.validator.judge_approval(
                ctx.validator.document_findings(payload, doc_status="final"), ()
            )
            record = queue_write(uow, draft, approval, payload, now)
            record.document_id = last.document_id
            record.document_version = last.document_version
            uow.writebacks.save_progress(record, now=now)
            draft.queued(approval, [record])  # recorded on commit
            settle(uow, (draft, record))  # the answer commits with the effect
        return draft, record

    def amend(
        self,
        principal: Principal,
        writeback_id: str,
        *,
        expected_version: int,
        edit: VersionEdit,
        meta: RequestMeta,
    ) -> tuple[Draft, WritebackRecord]:
        """Amend a committed note: a new approved version, written as a new document.

        The new DocumentReference ``replaces`` the old one (relatesTo); the old one is never
        edited in place (it is only marked ``superseded`` where the vendor allows).
        """
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.unit(principal, meta) as uow:
            chart = uow.writebacks.get(principal.tenant, writeback_id)
            draft = ctx.bound_draft(
                uow, principal, chart.draft_id, for_update=True, missing=WRITEBACK_MISSING
            )
            ctx.access.require_note_permission(principal, "c")
            vendor = ctx.ehr.vendor(principal.tenant)
            if not ctx.ehr.supports_amendment(principal.tenant):
                raise PolicyDenied(f"the {vendor} EHR takes no amendments over FHIR")
            gates.check_policy(ctx, edit.content(), vendor=vendor)
            gates.refuse_malformed(
                ctx, draft.patient, draft.encounter, edit.content(), scribe=False
            )
            gates.require_writable(ctx, principal, edit.note.type)
            refuse_if_engaged(uow, Mode.FREEZE_APPROVALS, gates.target(ctx, draft, edit.content()))
            current = chart_document(uow.writebacks.for_draft(principal.tenant, draft.id))
            if draft.state is not DraftState.COMMITTED or current is None:
                raise StateConflict(
                    f"cannot amend a draft that is {draft.state.value}", expression="state"
                )
            fhir_user = _fhir_user(principal)
            now = ctx.clock.now()
            approval = draft.amend(
                edit.content(),
                approval_id=ctx.ids.new_id(),
                writeback_id=ctx.ids.new_id(),
                expected_version=expected_version,
                approver=_approver(principal),
                policy_hash=ctx.policy.content_hash,
                at=now,
            )
            approval, content = with_consent(ctx, uow, draft, approval, edit.content())
            payload = build_document_reference(
                gates.note_write(
                    ctx,
                    draft,
                    content,
                    writeback_id=approval.writeback_id,
                    version=approval.version,
                    author=fhir_user,
                    doc_status="amended",
                    date=now,
                    replaces=f"DocumentReference/{current.document_id}",
                )
            )
            # Same gate as approval: an amendment is an approval of new content.
            gates.approval_gate(ctx, principal, draft, payload, (), now, doc_status="amended")
            record = queue_write(uow, draft, approval, payload, now)
            # Its structured resources follow it: created, updated or retracted (ADR 0031).
            parts = queue_amendment_of(ctx, uow, draft, approval, record, now)
            draft.queued(approval, [record, *parts])  # recorded on commit
            settle(uow, (draft, record))  # the answer commits with the effect
        return draft, record

    def retract(
        self, principal: Principal, writeback_id: str, *, reason: str, meta: RequestMeta
    ) -> tuple[Draft, WritebackRecord]:
        """Retract a committed note: step-up, then it becomes entered-in-error in the chart."""
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.unit(principal, meta) as uow:
            chart = uow.writebacks.get(principal.tenant, writeback_id)
            draft = ctx.bound_draft(
                uow, principal, chart.draft_id, for_update=True, missing=WRITEBACK_MISSING
            )
            ctx.access.require_note_permission(principal, "u")
            ctx.access.require_strength(principal, "step-up")
            current = chart_document(uow.writebacks.for_draft(principal.tenant, draft.id))
            if draft.state is not DraftState.COMMITTED or current is None:
                raise StateConflict(
                    f"cannot retract a draft that is {draft.state.value}", expression="state"
                )
            _fhir_user(principal)
            now = ctx.clock.now()
            approval = draft.retract(
                approval_id=ctx.ids.new_id(),
                writeback_id=ctx.ids.new_id(),
                approver=replace(_approver(principal), reason=reason),
                policy_hash=ctx.policy.content_hash,
                at=now,
            )
            payload = retraction_of(
                current.payload,
                document_id=str(current.document_id),
                version_id=str(current.document_version),
            )
            record = queue_write(uow, draft, approval, payload, now)
            record.document_id = current.document_id
            record.document_version = current.document_version
            uow.writebacks.save_progress(record, now=now)
            parts = queue_retractions_of(ctx, uow, draft, approval, record, now)
            draft.queued(approval, [record, *parts])  # recorded on commit
            settle(uow, (draft, record))  # the answer commits with the effect
        return draft, record


def chart_document(records: list[WritebackRecord]) -> WritebackRecord | None:
    """The write-back whose document is the draft's note in the chart now (newest landed).

    A write-back whose note landed but whose Provenance was refused (``partial``) counts: its
    note is in the chart.
    """
    landed = [
        r
        for r in records
        if r.document_landed
        and r.document_id
        and r.kind.writes_note
        and r.kind is not WritebackKind.RETRACT
    ]
    return landed[-1] if landed else None


def _fhir_user(principal: Principal) -> str:
    if principal.fhir_user is None:
        raise PolicyDenied("this action needs a fhirUser (the clinician's chart identity)")
    return principal.fhir_user


def _approver(principal: Principal) -> Approver:
    return Approver(
        subject=principal.subject,
        fhir_user=principal.fhir_user,
        amr=principal.amr,
        acr=principal.acr,
        auth_time=principal.auth_time,
    )
