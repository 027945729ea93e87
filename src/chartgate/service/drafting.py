"""Drafting use cases: submit, view, save, validate, rebase and discard a draft.

Nothing here leaves chartgate: a draft reaches the chart only through ``approvals.py``.
Each use case owns its transaction. Submit, save, rebase and discard change the draft, whose
methods record domain events; the unit of work (``ctx.unit``) writes their audit records as
it commits (ADR 0033). View and validate change nothing: they append their read explicitly
(``ctx.audit_read``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chartgate.domain.drafts import Approval, Draft
from chartgate.domain.events import EventType
from chartgate.domain.findings import Finding, Verdict
from chartgate.domain.killswitch import Mode
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import DraftSubmission, VersionEdit
from chartgate.service import gates
from chartgate.service.context import Context, RequestMeta
from chartgate.service.idempotency import settle
from chartgate.service.killswitch import refuse_if_engaged, submission_target
from chartgate.service.ports import JsonObject, WritebackRecord
from chartgate.service.structured_view import structured_view


@dataclass(slots=True)
class DraftView:
    """A draft with its approvals and write-backs, for reading."""

    draft: Draft
    approvals: list[Approval] = field(default_factory=list)
    writebacks: list[WritebackRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # of the current version
    structured: list[JsonObject] = field(default_factory=list)
    """Each structured proposal with its fate and write-back (``structured_view``)."""


class Drafting:
    """A scribe proposes a note; a clinician reads, edits, checks, rebases or discards it."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def submit_draft(
        self, principal: Principal, submission: DraftSubmission, meta: RequestMeta
    ) -> Draft:
        """A scribe proposes a note for one encounter; nothing leaves chartgate."""
        ctx = self._ctx
        ctx.access.require_role(principal, Role.SCRIBE)
        gates.check_policy(ctx, submission.content(), vendor=ctx.ehr.vendor(principal.tenant))
        gates.refuse_malformed(
            ctx, submission.patient, submission.encounter, submission.content(), scribe=True
        )
        draft = Draft.submit(
            draft_id=ctx.ids.new_id(),
            tenant=principal.tenant,
            patient=submission.patient,
            encounter=submission.encounter,
            origin=submission.origin,
            content=submission.content(),
            baseline=submission.baseline,
            correlation_id=ctx.ids.new_id(),
            author=f"scribe:{principal.subject}",
            at=ctx.clock.now(),
        )
        gates.stamp_current(ctx, draft)  # the schema over what approval sends (ADR 0032)
        with ctx.unit(principal, meta) as uow:
            vendor = ctx.ehr.vendor(principal.tenant)
            refuse_if_engaged(
                uow, Mode.STOP_DRAFTING, submission_target(draft.tenant, vendor, submission)
            )
            uow.drafts.add(draft)  # draft.received: recorded on commit
            settle(uow, draft)  # the answer commits with the effect
        return draft

    def view_draft(self, principal: Principal, draft_id: str, meta: RequestMeta) -> DraftView:
        """Read a draft with its versions, approvals and write-backs (the read is audited)."""
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.uow() as uow:
            draft = ctx.bound_draft(uow, principal, draft_id)
            approvals = uow.approvals.for_draft(principal.tenant, draft_id)
            records = uow.writebacks.for_draft(principal.tenant, draft_id)
            view = DraftView(
                draft=draft,
                approvals=approvals,
                writebacks=[r for r in records if r.kind.writes_note],
                findings=gates.findings(ctx, principal, draft),
                structured=structured_view(
                    draft,
                    approvals,
                    records,
                    ctx.policy.policy,
                    ctx.ehr.profile(principal.tenant),
                ),
            )
            ctx.audit_read(
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
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.unit(principal, meta) as uow:
            draft = ctx.bound_draft(uow, principal, draft_id, for_update=True)
            gates.check_policy(ctx, edit.content(), vendor=ctx.ehr.vendor(principal.tenant))
            gates.refuse_malformed(
                ctx, draft.patient, draft.encounter, edit.content(), scribe=False
            )
            now = ctx.clock.now()
            draft.save_version(
                edit.content(),
                expected_version=expected_version,
                author=f"clinician:{principal.subject}",
                at=now,
            )
            gates.stamp_current(ctx, draft)  # the schema over what approval sends (ADR 0032)
            uow.drafts.save(draft, at=now)  # draft.version_saved: recorded on commit
            settle(uow, draft)  # the answer commits with the effect
        return draft

    def validate(
        self,
        principal: Principal,
        draft_id: str,
        meta: RequestMeta,
        acknowledged: tuple[str, ...] = (),
    ) -> tuple[Draft, Verdict]:
        """Dry run: every finding of the current version, and whether approval would pass."""
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.uow() as uow:
            draft = ctx.bound_draft(uow, principal, draft_id)
            verdict = Verdict.of(gates.findings(ctx, principal, draft), acknowledged)
            ctx.audit_read(
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

    def rebase(
        self,
        principal: Principal,
        draft_id: str,
        *,
        baseline: dict[str, str],
        meta: RequestMeta,
    ) -> Draft:
        """After a conflict: a new version against the chart's new baseline, for re-approval."""
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.unit(principal, meta) as uow:
            draft = ctx.bound_draft(uow, principal, draft_id, for_update=True)
            now = ctx.clock.now()
            draft.rebase(baseline, author=f"clinician:{principal.subject}", at=now)
            gates.stamp_current(ctx, draft)  # the schema over what approval sends (ADR 0032)
            uow.drafts.save(draft, at=now)  # draft.rebased: recorded on commit
            settle(uow, draft)  # the answer commits with the effect
        return draft

    def discard(self, principal: Principal, draft_id: str, meta: RequestMeta) -> Draft:
        """Discard a draft that was never sent."""
        ctx = self._ctx
        ctx.access.require_role(principal, Role.CLINICIAN)
        with ctx.unit(principal, meta) as uow:
            draft = ctx.bound_draft(uow, principal, draft_id, for_update=True)
            draft.discard()
            uow.drafts.save(draft, at=ctx.clock.now())  # draft.discarded: recorded on commit
            settle(uow, draft)  # the answer commits with the effect
        return draft
