"""One handler per command; each owns its transaction.

The API, the CLI, the demo and the reviewer page all call these, so a rule enforced here
is enforced everywhere. Approve writes the approval, its outbox row (the write-back's own
claim) and its audit events in ONE transaction: either the chart write is queued and
recorded, or nothing happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chartgate.domain.documents import NoteWrite, build_document_reference
from chartgate.domain.drafts import Approval, Approver, Draft
from chartgate.domain.errors import PolicyDenied, StateConflict
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.hashing import content_hash
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import DraftSubmission, VersionContent, VersionEdit
from chartgate.service import authz
from chartgate.service.ports import (
    Clock,
    EhrDirectory,
    IdSource,
    JsonObject,
    UnitOfWork,
    UnitOfWorkFactory,
    WritebackRecord,
)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Per-request facts that go into the audit trail."""

    request_id: str | None = None


@dataclass(slots=True)
class DraftView:
    """A draft with its approvals and write-backs, for reading."""

    draft: Draft
    approvals: list[Approval] = field(default_factory=list)
    writebacks: list[WritebackRecord] = field(default_factory=list)


class Handlers:
    """The use cases of chartgate."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        policy: LoadedPolicy,
        ehr: EhrDirectory,
        step_up_acr: str | None = None,
        step_up_max_age: timedelta = authz.STEP_UP_MAX_AGE,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._ehr = ehr
        self._step_up_acr = step_up_acr
        self._step_up_max_age = step_up_max_age

    @property
    def policy(self) -> LoadedPolicy:
        """The policy in force."""
        return self._policy

    # -- scribe ---------------------------------------------------------------------------

    def submit_draft(
        self, principal: Principal, submission: DraftSubmission, meta: RequestMeta
    ) -> Draft:
        """A scribe proposes a note for one encounter; nothing leaves chartgate."""
        authz.require_role(principal, Role.SCRIBE)
        self._check_policy(submission.content(), vendor=self._ehr.vendor(principal.tenant))
        now = self._clock.now()
        draft = Draft.submit(
            draft_id=self._ids.new_id(),
            tenant=principal.tenant,
            patient=submission.patient,
            encounter=submission.encounter,
            origin=submission.origin,
            content=submission.content(),
            baseline=submission.baseline,
            correlation_id=self._ids.new_id(),
            author=f"scribe:{principal.subject}",
            at=now,
        )
        with self._uow() as uow:
            uow.drafts.add(draft)
            self._audit(
                uow,
                EventType.DRAFT_RECEIVED,
                principal,
                draft,
                meta,
                {
                    "version": 1,
                    "content_hash": draft.current.content_hash,
                    "note_type": submission.note.type,
                    "resource_types": [r["resourceType"] for r in submission.resources],
                    "model": submission.origin.model.name,
                    "model_version": submission.origin.model.version,
                    "prompt_template": submission.origin.prompt_template,
                    "transcript_sha256": submission.origin.transcript_sha256,
                },
            )
        return draft

    # -- clinician ------------------------------------------------------------------------

    def view_draft(self, principal: Principal, draft_id: str, meta: RequestMeta) -> DraftView:
        """Read a draft with its versions, approvals and write-backs (the read is audited)."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id)
            authz.require_encounter(principal, draft.encounter)
            view = DraftView(
                draft=draft,
                approvals=uow.approvals.for_draft(principal.tenant, draft_id),
                writebacks=uow.writebacks.for_draft(principal.tenant, draft_id),
            )
            self._audit(
                uow,
                EventType.DRAFT_VIEWED,
                principal,
                draft,
                meta,
                {"versions": len(draft.versions)},
            )
        return view

    def save_version(
        self,
        principal: Principal,
        draft_id: str,
        *,
        expected_version: int,
        edit: VersionEdit,
        meta: RequestMeta,
    ) -> Draft:
        """Save a clinician's edit as a new version (Save draft: nothing leaves chartgate)."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            authz.require_encounter(principal, draft.encounter)
            self._check_policy(edit.content(), vendor=self._ehr.vendor(principal.tenant))
            now = self._clock.now()
            version = draft.save_version(
                edit.content(),
                expected_version=expected_version,
                author=f"clinician:{principal.subject}",
                at=now,
            )
            uow.drafts.save(draft, at=now)
            self._audit(
                uow,
                EventType.VERSION_SAVED,
                principal,
                draft,
                meta,
                {"version": version.number, "content_hash": version.content_hash},
            )
        return draft

    def approve(
        self, principal: Principal, draft_id: str, *, expected_version: int, meta: RequestMeta
    ) -> tuple[Draft, WritebackRecord]:
        """Approve for chart: freeze the version and queue exactly one write-back."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            authz.require_encounter(principal, draft.encounter)
            vendor = self._ehr.vendor(principal.tenant)
            decision = self._policy.policy.decide_note(
                draft.current.content.note.type, vendor=vendor
            )
            if not decision.allowed or not decision.requires_approval:
                raise PolicyDenied(
                    f"policy does not allow writing this note type: {decision.reason}",
                    expression="note.type",
                )
            authz.require_mfa(principal)
            if decision.auth == "step-up":
                authz.require_recent_auth(
                    principal,
                    now=self._clock.now(),
                    acr=self._step_up_acr,
                    max_age=self._step_up_max_age,
                )
            if principal.fhir_user is None:
                raise PolicyDenied("approval needs a fhirUser (the clinician's chart identity)")
            now = self._clock.now()
            approval = draft.approve(
                approval_id=self._ids.new_id(),
                writeback_id=self._ids.new_id(),
                expected_version=expected_version,
                approver=_approver(principal),
                policy_hash=self._policy.content_hash,
                at=now,
            )
            draft.transition(Action.QUEUE)
            payload = build_document_reference(
                NoteWrite(
                    writeback_id=approval.writeback_id,
                    patient=draft.patient,
                    encounter=draft.encounter,
                    author=principal.fhir_user,
                    content=draft.current.content,
                    doc_status="preliminary",
                    date=now,
                    content_type=self._ehr.note_content_type(
                        principal.tenant, draft.current.content.note.content_type
                    ),
                )
            )
            record = self._queue(uow, draft, approval, payload, now)
            self._audit(
                uow,
                EventType.DRAFT_APPROVED,
                principal,
                draft,
                meta,
                {
                    "version": approval.version,
                    "content_hash": approval.content_hash,
                    "policy_hash": approval.policy_hash,
                    "acr": principal.acr,
                    "amr": list(principal.amr),
                    "auth_time": _iso(principal.auth_time),
                    "diff_lines_added": approval.diff.lines_added,
                    "diff_lines_removed": approval.diff.lines_removed,
                    "structured_changes": len(approval.diff.json_patch),
                },
                writeback_id=record.id,
            )
            self._audit_queued(uow, principal, draft, record, meta)
        return draft, record

    def finalize(
        self, principal: Principal, draft_id: str, meta: RequestMeta
    ) -> tuple[Draft, WritebackRecord]:
        """Finalize note: a step-up approved update of the committed note to docStatus final."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            authz.require_encounter(principal, draft.encounter)
            authz.require_recent_auth(
                principal,
                now=self._clock.now(),
                acr=self._step_up_acr,
                max_age=self._step_up_max_age,
            )
            if principal.fhir_user is None:
                raise PolicyDenied("finalize needs a fhirUser (the clinician's chart identity)")
            committed = [
                w
                for w in uow.writebacks.for_draft(principal.tenant, draft_id)
                if w.state == DraftState.COMMITTED.value and w.document_id
            ]
            if draft.state is not DraftState.COMMITTED or not committed:
                raise StateConflict(
                    f"cannot finalize a draft that is {draft.state.value}", expression="state"
                )
            last = committed[-1]
            now = self._clock.now()
            approval = draft.finalize(
                approval_id=self._ids.new_id(),
                writeback_id=self._ids.new_id(),
                approver=_approver(principal),
                policy_hash=self._policy.content_hash,
                at=now,
            )
            original = uow.approvals.get(principal.tenant, last.approval_id)
            payload = build_document_reference(
                NoteWrite(
                    writeback_id=original.writeback_id,
                    patient=draft.patient,
                    encounter=draft.encounter,
                    author=principal.fhir_user,
                    content=draft.version(approval.version).content,
                    doc_status="final",
                    date=original.approved_at,
                    content_type=self._ehr.note_content_type(
                        principal.tenant, draft.version(approval.version).content.note.content_type
                    ),
                )
            )
            payload["id"] = last.document_id
            payload["meta"]["versionId"] = last.document_version
            record = self._queue(uow, draft, approval, payload, now)
            record.document_id = last.document_id
            record.document_version = last.document_version
            uow.writebacks.save_progress(record, now=now)
            self._audit(
                uow,
                EventType.DRAFT_FINALIZE_APPROVED,
                principal,
                draft,
                meta,
                {
                    "version": approval.version,
                    "content_hash": approval.content_hash,
                    "policy_hash": approval.policy_hash,
                    "acr": principal.acr,
                    "amr": list(principal.amr),
                    "auth_time": _iso(principal.auth_time),
                },
                writeback_id=record.id,
            )
            self._audit_queued(uow, principal, draft, record, meta)
        return draft, record

    def discard(self, principal: Principal, draft_id: str, meta: RequestMeta) -> Draft:
        """Discard a draft that was never sent."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            authz.require_encounter(principal, draft.encounter)
            draft.transition(Action.DISCARD)
            now = self._clock.now()
            uow.drafts.save(draft, at=now)
            self._audit(uow, EventType.DRAFT_DISCARDED, principal, draft, meta, {})
        return draft

    def writeback(self, principal: Principal, writeback_id: str) -> WritebackRecord:
        """Read one write-back's status (scribe or clinician of the tenant)."""
        authz.require_role(principal, Role.CLINICIAN, Role.SCRIBE)
        with self._uow(read_only=True) as uow:
            return uow.writebacks.get(principal.tenant, writeback_id)

    def audit_chain(self, tenant: str, correlation_id: str) -> list[JsonObject]:
        """Every audit event of one correlation id (used by the demo and tests)."""
        with self._uow(read_only=True) as uow:
            return uow.audit.by_correlation(tenant, correlation_id)

    # -- helpers --------------------------------------------------------------------------

    def _check_policy(self, content: VersionContent, *, vendor: str) -> None:
        note = self._policy.policy.decide_note(content.note.type, vendor=vendor)
        if not note.may_draft:
            raise PolicyDenied(
                f"note type {content.note.type} is not allowed: {note.reason}",
                expression="note.type",
            )
        for index, resource in enumerate(content.resources):
            decision = self._policy.policy.decide_resource(resource["resourceType"], vendor=vendor)
            if not decision.may_draft:
                raise PolicyDenied(
                    f"{resource['resourceType']} is not allowed: {decision.reason}",
                    expression=f"resources[{index}]",
                )

    def _queue(
        self,
        uow: UnitOfWork,
        draft: Draft,
        approval: Approval,
        payload: JsonObject,
        now: datetime,
    ) -> WritebackRecord:
        record = WritebackRecord(
            tenant=draft.tenant,
            id=approval.writeback_id if approval.kind == "approve" else approval.id,
            draft_id=draft.id,
            approval_id=approval.id,
            kind=approval.kind,
            state=DraftState.QUEUED.value,
            may_have_landed=False,
            payload=payload,
            payload_hash=content_hash(payload),
            correlation_id=draft.correlation_id,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.approvals.add(draft.tenant, approval)
        uow.writebacks.add(record)
        uow.drafts.save(draft, at=now)
        return record

    def _audit_queued(
        self,
        uow: UnitOfWork,
        principal: Principal,
        draft: Draft,
        record: WritebackRecord,
        meta: RequestMeta,
    ) -> None:
        self._audit(
            uow,
            EventType.WRITEBACK_QUEUED,
            principal,
            draft,
            meta,
            {"kind": record.kind, "payload_hash": record.payload_hash},
            writeback_id=record.id,
        )

    def _audit(
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
        uow.audit.append(
            AuditRecord(
                type=event,
                tenant=draft.tenant,
                at=self._clock.now(),
                correlation_id=draft.correlation_id,
                actor=f"{principal.role.value}:{principal.subject}",
                request_id=meta.request_id,
                draft_id=draft.id,
                writeback_id=writeback_id,
                data={"state": draft.state.value, **data},
            )
        )


def _approver(principal: Principal) -> Approver:
    return Approver(
        subject=principal.subject,
        fhir_user=principal.fhir_user,
        amr=principal.amr,
        acr=principal.acr,
        auth_time=principal.auth_time,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
