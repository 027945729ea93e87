"""One handler per command; each owns its transaction.

The API, the CLI, the demo and the reviewer page all call these, so a rule enforced here
is enforced everywhere. Approve writes the approval, its outbox row (the write-back's own
claim) and its audit events in ONE transaction: either the chart write is queued and
recorded, or nothing happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chartgate.domain.access import Basis, TenantAccess
from chartgate.domain.documents import (
    NoteWrite,
    build_document_reference,
    replaced_document,
    retraction_of,
)
from chartgate.domain.drafts import Approval, Approver, Draft
from chartgate.domain.errors import PolicyDenied, StateConflict
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.findings import Finding, Verdict
from chartgate.domain.hashing import content_hash
from chartgate.domain.killswitch import Mode, Target
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import DraftSubmission, VersionContent, VersionEdit
from chartgate.domain.vendor_profile import AuthenticatorRouting
from chartgate.domain.writeback import ChartWrite, WritebackKind, WritebackState, mark
from chartgate.service import authz
from chartgate.service.audit import Pseudonymizer
from chartgate.service.killswitch import content_target, refuse_if_engaged, submission_target
from chartgate.service.ports import (
    Clock,
    EhrDirectory,
    IdSource,
    JsonObject,
    UnitOfWork,
    UnitOfWorkFactory,
    WritebackRecord,
)
from chartgate.service.validation import DraftValidator, Preview

WRITEBACK_MISSING = "write-back not found"  # the store's message for an unknown write-back id


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
    findings: list[Finding] = field(default_factory=list)  # of the current version


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
        access: Mapping[str, TenantAccess] | None = None,
        pseudonyms: Pseudonymizer | None = None,
        validator: DraftValidator | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._ehr = ehr
        self._step_up_acr = step_up_acr
        self._step_up_max_age = step_up_max_age
        # Per-tenant step-up level/window and care-team grants (ADR 0011); the two arguments
        # above are the defaults for a tenant without its own rules.
        self._access = dict(access or {})
        # Patient and encounter references reach the ledger only as keyed HMACs.
        self._pseudonyms = pseudonyms
        # Validation before commit (issue 6); bootstrap passes one with the FHIR schema.
        self._validator = validator or DraftValidator(policy)

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
        self._refuse_malformed(
            submission.patient, submission.encounter, submission.content(), scribe=True
        )
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
            vendor = self._ehr.vendor(principal.tenant)
            refuse_if_engaged(
                uow, Mode.STOP_DRAFTING, submission_target(draft.tenant, vendor, submission)
            )
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
                    "encounter": self._pseudonym(draft.tenant, draft.encounter),
                },
            )
        return draft

    # -- clinician ------------------------------------------------------------------------

    def view_draft(self, principal: Principal, draft_id: str, meta: RequestMeta) -> DraftView:
        """Read a draft with its versions, approvals and write-backs (the read is audited)."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id)
            self._bind(principal, draft)
            view = DraftView(
                draft=draft,
                approvals=uow.approvals.for_draft(principal.tenant, draft_id),
                writebacks=uow.writebacks.for_draft(principal.tenant, draft_id),
                findings=self._findings(principal, draft),
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
            self._bind(principal, draft)
            self._check_policy(edit.content(), vendor=self._ehr.vendor(principal.tenant))
            self._refuse_malformed(draft.patient, draft.encounter, edit.content(), scribe=False)
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
        self,
        principal: Principal,
        draft_id: str,
        *,
        expected_version: int,
        meta: RequestMeta,
        acknowledged: tuple[str, ...] = (),
    ) -> tuple[Draft, WritebackRecord]:
        """Approve for chart: freeze the version and queue exactly one write-back."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            basis = self._bind(principal, draft)
            authz.require_note_permission(principal, "c")
            self._require_writable(principal, draft.current.content.note.type)
            refuse_if_engaged(uow, Mode.FREEZE_APPROVALS, self._target(draft))
            fhir_user = _fhir_user(principal)
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
                    author=fhir_user,
                    content=draft.current.content,
                    doc_status="preliminary",
                    date=now,
                    content_type=self._ehr.note_content_type(
                        principal.tenant, draft.current.content.note.content_type
                    ),
                    routes_for_signing=self._routes_for_signing(principal.tenant),
                )
            )
            verdict = self._approval_gate(principal, draft, payload, acknowledged, now)
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
                    "fhir_user": principal.fhir_user,
                    "binding": basis,
                    "diff_lines_added": approval.diff.lines_added,
                    "diff_lines_removed": approval.diff.lines_removed,
                    "structured_changes": len(approval.diff.json_patch),
                    "findings": [f.key for f in verdict.findings],
                    "warnings_acknowledged": list(verdict.acknowledged),
                },
                writeback_id=record.id,
            )
            self._audit_queued(uow, principal, draft, record, meta)
        return draft, record

    def validate(
        self,
        principal: Principal,
        draft_id: str,
        meta: RequestMeta,
        acknowledged: tuple[str, ...] = (),
    ) -> tuple[Draft, Verdict]:
        """Dry run: every finding of the current version, and whether approval would pass."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id)
            self._bind(principal, draft)
            verdict = Verdict.of(self._findings(principal, draft), acknowledged)
            self._audit(
                uow,
                EventType.DRAFT_VALIDATED,
                principal,
                draft,
                meta,
                {
                    "version": draft.current.number,
                    "findings": [f.key for f in verdict.findings],
                    "accepted": verdict.accepted,
                },
            )
        return draft, verdict

    def finalize(
        self, principal: Principal, draft_id: str, meta: RequestMeta
    ) -> tuple[Draft, WritebackRecord]:
        """Finalize note: a step-up approved update of the committed note to docStatus final."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            self._bind(principal, draft)
            authz.require_note_permission(principal, "u")
            self._require_strength(principal, "step-up")
            refuse_if_engaged(uow, Mode.FREEZE_APPROVALS, self._target(draft))
            fhir_user = _fhir_user(principal)
            last = _chart_document(uow.writebacks.for_draft(principal.tenant, draft_id))
            if draft.state is not DraftState.COMMITTED or last is None:
                raise StateConflict(
                    f"cannot finalize a draft that is {draft.state.value}", expression="state"
                )
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
                    author=fhir_user,
                    content=draft.version(approval.version).content,
                    doc_status="final",
                    date=original.approved_at,
                    content_type=self._ehr.note_content_type(
                        principal.tenant, draft.version(approval.version).content.note.content_type
                    ),
                    routes_for_signing=self._routes_for_signing(principal.tenant),
                    # A finalized amendment still replaces the note it amended.
                    replaces=replaced_document(last.payload),
                )
            )
            payload["id"] = last.document_id
            payload["meta"]["versionId"] = last.document_version
            self._validator.judge_approval(
                self._validator.document_findings(payload, doc_status="final"), ()
            )
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
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            chart = uow.writebacks.get(principal.tenant, writeback_id)
            draft = uow.drafts.get(principal.tenant, chart.draft_id, for_update=True)
            self._bind(principal, draft, missing=WRITEBACK_MISSING)
            authz.require_note_permission(principal, "c")
            vendor = self._ehr.vendor(principal.tenant)
            if not self._ehr.supports_amendment(principal.tenant):
                raise PolicyDenied(f"the {vendor} EHR takes no amendments over FHIR")
            self._check_policy(edit.content(), vendor=vendor)
            self._refuse_malformed(draft.patient, draft.encounter, edit.content(), scribe=False)
            self._require_writable(principal, edit.note.type)
            refuse_if_engaged(uow, Mode.FREEZE_APPROVALS, self._target(draft, edit.content()))
            current = _chart_document(uow.writebacks.for_draft(principal.tenant, draft.id))
            if draft.state is not DraftState.COMMITTED or current is None:
                raise StateConflict(
                    f"cannot amend a draft that is {draft.state.value}", expression="state"
                )
            fhir_user = _fhir_user(principal)
            now = self._clock.now()
            approval = draft.amend(
                edit.content(),
                approval_id=self._ids.new_id(),
                writeback_id=self._ids.new_id(),
                expected_version=expected_version,
                approver=_approver(principal),
                policy_hash=self._policy.content_hash,
                at=now,
            )
            payload = build_document_reference(
                NoteWrite(
                    writeback_id=approval.writeback_id,
                    patient=draft.patient,
                    encounter=draft.encounter,
                    author=fhir_user,
                    content=edit.content(),
                    doc_status="amended",
                    date=now,
                    content_type=self._ehr.note_content_type(
                        principal.tenant, edit.note.content_type
                    ),
                    routes_for_signing=self._routes_for_signing(principal.tenant),
                    replaces=f"DocumentReference/{current.document_id}",
                )
            )
            # Same gate as approval: an amendment is an approval of new content.
            self._approval_gate(principal, draft, payload, (), now, doc_status="amended")
            record = self._queue(uow, draft, approval, payload, now)
            self._audit_approval(
                uow, EventType.DRAFT_AMEND_APPROVED, principal, draft, meta, approval, record
            )
            self._audit_queued(uow, principal, draft, record, meta)
        return draft, record

    def retract(
        self, principal: Principal, writeback_id: str, *, reason: str, meta: RequestMeta
    ) -> tuple[Draft, WritebackRecord]:
        """Retract a committed note: step-up, then it becomes entered-in-error in the chart."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            chart = uow.writebacks.get(principal.tenant, writeback_id)
            draft = uow.drafts.get(principal.tenant, chart.draft_id, for_update=True)
            self._bind(principal, draft, missing=WRITEBACK_MISSING)
            authz.require_note_permission(principal, "u")
            self._require_strength(principal, "step-up")
            current = _chart_document(uow.writebacks.for_draft(principal.tenant, draft.id))
            if draft.state is not DraftState.COMMITTED or current is None:
                raise StateConflict(
                    f"cannot retract a draft that is {draft.state.value}", expression="state"
                )
            _fhir_user(principal)
            now = self._clock.now()
            approval = draft.retract(
                approval_id=self._ids.new_id(),
                writeback_id=self._ids.new_id(),
                approver=replace(_approver(principal), reason=reason),
                policy_hash=self._policy.content_hash,
                at=now,
            )
            payload = retraction_of(
                current.payload,
                document_id=str(current.document_id),
                version_id=str(current.document_version),
            )
            record = self._queue(uow, draft, approval, payload, now)
            record.document_id = current.document_id
            record.document_version = current.document_version
            uow.writebacks.save_progress(record, now=now)
            self._audit_approval(
                uow, EventType.DRAFT_RETRACT_APPROVED, principal, draft, meta, approval, record
            )
            self._audit_queued(uow, principal, draft, record, meta)
        return draft, record

    def rebase(
        self,
        principal: Principal,
        draft_id: str,
        *,
        baseline: dict[str, str],
        meta: RequestMeta,
    ) -> Draft:
        """After a conflict: a new version against the chart's new baseline, for re-approval."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            self._bind(principal, draft)
            now = self._clock.now()
            version = draft.rebase(baseline, author=f"clinician:{principal.subject}", at=now)
            uow.drafts.save(draft, at=now)
            self._audit(
                uow,
                EventType.DRAFT_REBASED,
                principal,
                draft,
                meta,
                {"version": version.number, "baseline": dict(sorted(baseline.items()))},
            )
        return draft

    def discard(self, principal: Principal, draft_id: str, meta: RequestMeta) -> Draft:
        """Discard a draft that was never sent."""
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            draft = uow.drafts.get(principal.tenant, draft_id, for_update=True)
            self._bind(principal, draft)
            draft.transition(Action.DISCARD)
            now = self._clock.now()
            uow.drafts.save(draft, at=now)
            self._audit(uow, EventType.DRAFT_DISCARDED, principal, draft, meta, {})
        return draft

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
        authz.require_role(principal, Role.CLINICIAN, Role.ADMIN)
        authz.require_mfa(principal)
        version: str | None = None
        document_id: str | None = None
        if action == "landed":
            document_id, version = self._landed_document(principal, writeback_id, document)
        with self._uow() as uow:
            record = uow.writebacks.get(principal.tenant, writeback_id)
            draft = uow.drafts.get(principal.tenant, record.draft_id, for_update=True)
            if principal.role is Role.CLINICIAN:
                self._bind(principal, draft, missing=WRITEBACK_MISSING)
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
            now = self._clock.now()
            record.next_attempt_at = now
            uow.writebacks.save_progress(record, now=now)
            uow.drafts.save(draft, at=now)
            self._audit(
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
        with self._uow(read_only=True) as uow:
            record = uow.writebacks.get(principal.tenant, writeback_id)
        gateway = self._ehr.gateway(principal.tenant)
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
        authz.require_role(principal, Role.CLINICIAN)
        with self._uow() as uow:
            record = uow.writebacks.get(principal.tenant, writeback_id)
            draft = uow.drafts.get(principal.tenant, record.draft_id)
            self._bind(principal, draft, missing=WRITEBACK_MISSING)
            if audit:
                self._audit(
                    uow,
                    EventType.WRITEBACK_VIEWED,
                    principal,
                    draft,
                    meta or RequestMeta(),
                    {"writeback_state": record.state},
                    writeback_id=record.id,
                )
        return record

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
        """Before a stored Idempotency-Key answer is replayed: the same checks, then a record.

        The caller must still hold one of ``roles`` and (a clinician) the draft's encounter
        binding; the replay is recorded in the ledger under the draft's correlation id.
        """
        authz.require_role(principal, *roles)
        with self._uow() as uow:
            missing = WRITEBACK_MISSING if writeback_id is not None else "draft not found"
            if writeback_id is not None:
                draft_id = uow.writebacks.get(principal.tenant, writeback_id).draft_id
            if draft_id is None:
                return
            draft = uow.drafts.get(principal.tenant, draft_id)
            if principal.role is Role.CLINICIAN:
                self._bind(principal, draft, missing=missing)
            self._audit(
                uow,
                EventType.REQUEST_REPLAYED,
                principal,
                draft,
                meta,
                {"operation": operation},
                writeback_id=writeback_id,
            )

    def audit_chain(self, tenant: str, correlation_id: str) -> list[JsonObject]:
        """Every audit event of one correlation id (used by the demo and tests)."""
        with self._uow(read_only=True) as uow:
            return uow.audit.by_correlation(tenant, correlation_id)

    # -- helpers --------------------------------------------------------------------------

    def _tenant_access(self, tenant: str) -> TenantAccess:
        """The tenant's access rules, or the defaults this handler was built with."""
        found = self._access.get(tenant)
        if found is None:
            return TenantAccess(
                step_up_acr=self._step_up_acr, step_up_max_age=self._step_up_max_age
            )
        return found

    def _bind(
        self, principal: Principal, draft: Draft, *, missing: str = "draft not found"
    ) -> Basis:
        """Encounter binding: the launch context or a care-team grant must name the draft's.

        A refusal answers exactly as an unknown id would (``missing``): no existence oracle.
        """
        access = self._tenant_access(principal.tenant)
        return authz.require_encounter(
            principal,
            draft.encounter,
            patient=draft.patient,
            grants=access.grants,
            now=self._clock.now(),
            base=access.ehr_base,
            missing=missing,
        )

    def _target(self, draft: Draft, content: VersionContent | None = None) -> Target:
        """What the kill switch sees of an action on ``draft`` (with new ``content``: amend)."""
        model = draft.origin.model
        return content_target(
            draft.tenant,
            self._ehr.vendor(draft.tenant),
            content or draft.current.content,
            (model.name, model.version),
            draft.origin.prompt_template,
        )

    def _require_writable(self, principal: Principal, note_type: str) -> None:
        """The matrix must let this note type reach the chart with approval, at this strength."""
        vendor = self._ehr.vendor(principal.tenant)
        decision = self._policy.policy.decide_note(note_type, vendor=vendor)
        if not decision.allowed or not decision.requires_approval:
            raise PolicyDenied(
                f"policy does not allow writing this note type: {decision.reason}",
                expression="note.type",
            )
        self._require_strength(principal, decision.auth)

    def _require_strength(self, principal: Principal, auth: str | None) -> None:
        """MFA always; a recent authentication at the configured level for step-up actions."""
        authz.require_mfa(principal)
        if auth == "step-up":
            authz.require_recent_auth(
                principal,
                now=self._clock.now(),
                acr=self._tenant_access(principal.tenant).step_up_acr,
                max_age=self._tenant_access(principal.tenant).step_up_max_age,
            )

    def _audit_approval(
        self,
        uow: UnitOfWork,
        event: EventType,
        principal: Principal,
        draft: Draft,
        meta: RequestMeta,
        approval: Approval,
        record: WritebackRecord,
    ) -> None:
        self._audit(
            uow,
            event,
            principal,
            draft,
            meta,
            {
                "kind": approval.kind,
                "version": approval.version,
                "content_hash": approval.content_hash,
                "policy_hash": approval.policy_hash,
                "reason": approval.approver.reason,
                "acr": principal.acr,
                "amr": list(principal.amr),
                "auth_time": _iso(principal.auth_time),
            },
            writeback_id=record.id,
        )

    def _refuse_malformed(
        self, patient: str, encounter: str, content: VersionContent, *, scribe: bool
    ) -> None:
        """Refuse a submission or save with findings nobody can have meant (Stage.SUBMIT)."""
        findings = self._validator.content_findings(
            patient=patient,
            encounter=encounter,
            content=content,
            authored_by_scribe=scribe,
            author="Practitioner/pending",
            at=self._clock.now(),
        )
        self._validator.refuse_submit(findings, step="submission" if scribe else "save")

    def _findings(self, principal: Principal, draft: Draft) -> list[Finding]:
        """Findings of the current version, as if approved now by ``principal``."""
        return self._validator.version_findings(
            draft,
            draft.current,
            Preview(
                author=principal.fhir_user or "Practitioner/pending",
                at=self._clock.now(),
                content_type=self._ehr.note_content_type(
                    principal.tenant, draft.current.content.note.content_type
                ),
            ),
            doc_status="preliminary",
        )

    def _approval_gate(
        self,
        principal: Principal,
        draft: Draft,
        payload: JsonObject,
        acknowledged: tuple[str, ...],
        now: datetime,
        *,
        doc_status: str = "preliminary",
    ) -> Verdict:
        """Every finding of the version being approved and of what will be sent.

        Any error, or a warning not named in ``acknowledged``, raises ``ValidationFailed``;
        the transaction rolls back, so nothing is queued.
        """
        version = draft.current
        findings = self._validator.content_findings(
            patient=draft.patient,
            encounter=draft.encounter,
            content=version.content,
            authored_by_scribe=version.author.startswith("scribe:"),
            author=str(principal.fhir_user),
            at=now,
        )
        findings += self._validator.document_findings(payload, doc_status=doc_status)
        findings += self._validator.provenance_findings(
            self._validator.provenance_preview(
                draft,
                version,
                Preview(author=str(principal.fhir_user), at=now),
                policy_hash=self._policy.content_hash,
            )
        )
        return self._validator.judge_approval(findings, acknowledged)

    def _routes_for_signing(self, tenant: str) -> bool:
        """Whether the tenant's EHR routes a new note to its authenticator for signature."""
        routing = self._ehr.profile(tenant).authenticator
        return routing is AuthenticatorRouting.ROUTES_FOR_SIGNING

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
        # Every version chartgate writes carries its own mark, so the worker can always tell
        # its own write from someone else's (domain/writeback.py).
        payload = mark(payload, approval.writeback_id)
        record = WritebackRecord(
            tenant=draft.tenant,
            # One id names the outbox row, the business identifier of a new document and the
            # Provenance tag: reconciliation searches by it, so it must be the same everywhere.
            id=approval.writeback_id,
            draft_id=draft.id,
            approval_id=approval.id,
            kind=WritebackKind(approval.kind),
            state=WritebackState.QUEUED,
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
                patient=self._pseudonym(draft.tenant, draft.patient),
            )
        )

    def _pseudonym(self, tenant: str, reference: str) -> str | None:
        """The ledger's keyed HMAC of a patient or encounter reference (None without keys)."""
        if self._pseudonyms is None:
            return None
        return self._pseudonyms.reference(tenant, reference)


def _chart_document(records: list[WritebackRecord]) -> WritebackRecord | None:
    """The write-back whose document is the draft's note in the chart now (newest landed).

    A write-back whose note landed but whose Provenance was refused (``partial``) counts: its
    note is in the chart.
    """
    landed = [
        r
        for r in records
        if r.document_landed and r.document_id and r.kind is not WritebackKind.RETRACT
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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
