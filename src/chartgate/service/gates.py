"""The checks a draft's content must pass before it moves: policy, validation, kill switch.

Shared by drafting (submit, save) and approvals (approve, amend): a note type the policy
refuses is refused at submission, at save and at approval alike.
"""

from __future__ import annotations

from datetime import datetime

from chartgate.domain.drafts import Draft
from chartgate.domain.errors import PolicyDenied
from chartgate.domain.findings import Finding, Verdict
from chartgate.domain.killswitch import Target
from chartgate.domain.principal import Principal
from chartgate.domain.submission import VersionContent
from chartgate.service.context import Context
from chartgate.service.killswitch import content_target
from chartgate.service.ports import JsonObject
from chartgate.service.validation import Preview, model_texts


def check_policy(ctx: Context, content: VersionContent, *, vendor: str) -> None:
    """The matrix must let this note type and every resource be drafted for ``vendor``."""
    note = ctx.policy.policy.decide_note(content.note.type, vendor=vendor)
    if not note.may_draft:
        raise PolicyDenied(
            f"note type {content.note.type} is not allowed: {note.reason}",
            expression="note.type",
        )
    for index, resource in enumerate(content.resources):
        decision = ctx.policy.policy.decide_resource(resource["resourceType"], vendor=vendor)
        if not decision.may_draft:
            raise PolicyDenied(
                f"{resource['resourceType']} is not allowed: {decision.reason}",
                expression=f"resources[{index}]",
            )


def require_writable(ctx: Context, principal: Principal, note_type: str) -> None:
    """The matrix must let this note type reach the chart with approval, at this strength."""
    vendor = ctx.ehr.vendor(principal.tenant)
    decision = ctx.policy.policy.decide_note(note_type, vendor=vendor)
    if not decision.allowed or not decision.requires_approval:
        raise PolicyDenied(
            f"policy does not allow writing this note type: {decision.reason}",
            expression="note.type",
        )
    ctx.access.require_strength(principal, decision.auth)


def refuse_malformed(
    ctx: Context, patient: str, encounter: str, content: VersionContent, *, scribe: bool
) -> None:
    """Refuse a submission or save with findings nobody can have meant (Stage.SUBMIT)."""
    findings = ctx.validator.content_findings(
        patient=patient,
        encounter=encounter,
        content=content,
        authored_by_scribe=scribe,
        author="Practitioner/pending",
        at=ctx.clock.now(),
    )
    ctx.validator.refuse_submit(findings, step="submission" if scribe else "save")


def findings(ctx: Context, principal: Principal, draft: Draft) -> list[Finding]:
    """Findings of the current version, as if approved now by ``principal``."""
    return ctx.validator.version_findings(
        draft,
        draft.current,
        Preview(
            author=principal.fhir_user or "Practitioner/pending",
            at=ctx.clock.now(),
            content_type=ctx.ehr.note_content_type(
                principal.tenant, draft.current.content.note.content_type
            ),
        ),
        doc_status="preliminary",
    )


def approval_gate(
    ctx: Context,
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
    found = ctx.validator.content_findings(
        patient=draft.patient,
        encounter=draft.encounter,
        content=version.content,
        authored_by_scribe=version.author.startswith("scribe:"),
        author=str(principal.fhir_user),
        at=now,
        model_texts=model_texts(draft),
    )
    found += ctx.validator.document_findings(payload, doc_status=doc_status)
    found += ctx.validator.provenance_findings(
        ctx.validator.provenance_preview(
            draft,
            version,
            Preview(author=str(principal.fhir_user), at=now),
            policy_hash=ctx.policy.content_hash,
        )
    )
    return ctx.validator.judge_approval(found, acknowledged)


def target(ctx: Context, draft: Draft, content: VersionContent | None = None) -> Target:
    """What the kill switch sees of an action on ``draft`` (with new ``content``: amend)."""
    model = draft.origin.model
    return content_target(
        draft.tenant,
        ctx.ehr.vendor(draft.tenant),
        content or draft.current.content,
        (model.name, model.version),
        draft.origin.prompt_template,
    )
