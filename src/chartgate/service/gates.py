"""The checks a draft's content must pass before it moves: policy, validation, kill switch.

Shared by drafting (submit, save) and approvals (approve, amend): a note type the policy
refuses is refused at submission, at save and at approval alike.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from chartgate.domain.documents import NoteWrite, build_document_reference
from chartgate.domain.drafts import Draft
from chartgate.domain.errors import PolicyDenied
from chartgate.domain.findings import Finding, Verdict
from chartgate.domain.killswitch import Target
from chartgate.domain.principal import Principal
from chartgate.domain.submission import VersionContent
from chartgate.domain.vendor_profile import AuthenticatorRouting
from chartgate.service.context import Context
from chartgate.service.killswitch import content_target
from chartgate.service.ports import JsonObject
from chartgate.service.provenance_travel import note_footer
from chartgate.service.validation import PENDING_AUTHOR, PENDING_ID, Preview, model_texts

PLACEHOLDER_AT = datetime(2000, 1, 1, tzinfo=UTC)
"""Stands for the approval time in a stamp's templates (ADR 0032)."""


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


def note_write(
    ctx: Context,
    draft: Draft,
    content: VersionContent,
    *,
    writeback_id: str,
    version: int,
    author: str,
    doc_status: str,
    date: datetime,
    replaces: str | None = None,
) -> NoteWrite:
    """What approving ``content`` of ``draft`` writes (approve, finalize, amend).

    One builder for the approval, its stamp's template, the finalize and the amendment, so
    they differ only in the values passed here: the profile's signing route, content type
    and attestation footer are read in one place. ``replaces``: the document an amendment
    replaces (``DocumentReference/<id>``).
    """
    profile = ctx.ehr.profile(draft.tenant)
    return NoteWrite(
        writeback_id=writeback_id,
        patient=draft.patient,
        encounter=draft.encounter,
        author=author,
        content=content,
        doc_status=doc_status,
        date=date,
        content_type=ctx.ehr.note_content_type(draft.tenant, content.note.content_type),
        replaces=replaces,
        routes_for_signing=profile.authenticator is AuthenticatorRouting.ROUTES_FOR_SIGNING,
        footer=note_footer(
            profile.provenance_mode,
            origin=draft.origin,
            writeback_id=writeback_id,
            version=version,
        ),
    )


def templates(
    ctx: Context, draft: Draft, content: VersionContent, *, doc_status: str
) -> tuple[JsonObject, JsonObject]:
    """What approving the current version sends, with placeholders (ADR 0032).

    The DocumentReference and the Provenance preview, with placeholders for the write-back
    id, the approver and the time.
    """
    version = draft.current
    document = build_document_reference(
        note_write(
            ctx,
            draft,
            content,
            writeback_id=PENDING_ID,
            version=version.number,
            author=PENDING_AUTHOR,
            doc_status=doc_status,
            date=PLACEHOLDER_AT,
        )
    )
    provenance = ctx.validator.provenance_preview(
        draft,
        version,
        Preview(author=PENDING_AUTHOR, at=PLACEHOLDER_AT),
        policy_hash=ctx.policy.content_hash,
    )
    return document, provenance


def stamp_current(ctx: Context, draft: Draft) -> None:
    """At submit, save and rebase: prove the schema over what approval would send.

    The templates of the note approval would send (``templates``: ``preliminary``, or
    ``final`` where the EHR takes signed notes only); the stamp is kept on the
    version, None when the schema finds anything (approval then runs the full check).
    """
    version = draft.current
    # What approval there will send: signed (``final``) where the EHR takes nothing else.
    accepts_preliminary = ctx.ehr.profile(draft.tenant).accepts_preliminary
    doc_status = "preliminary" if accepts_preliminary else "final"
    document, provenance = templates(ctx, draft, version.content, doc_status=doc_status)
    draft.versions[-1] = replace(
        version, schema_stamp=ctx.validator.schema_stamp(document, provenance)
    )


def _stamped(ctx: Context, draft: Draft, content: VersionContent, doc_status: str) -> bool:
    """Whether the current version's stamp proves the schema over this approval's templates."""
    stamp = draft.current.schema_stamp
    if stamp is None:
        return False
    return ctx.validator.stamp_digest(*templates(ctx, draft, content, doc_status=doc_status)) == (
        stamp
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
    sent: tuple[VersionContent, str] | None = None,
) -> Verdict:
    """Every finding of the version being approved and of what will be sent.

    Any error, or a warning not named in ``acknowledged``, raises ``ValidationFailed``;
    the transaction rolls back, so nothing is queued.

    ``sent``: the content and write-back id ``payload`` was built from with ``note_write``.
    When the version's stamp matches the templates of that content, the FHIR schema is not
    run again over the DocumentReference and the Provenance preview; it judges the
    approval-time values alone (ADR 0032). Every other rule runs on what is sent.
    """
    version = draft.current
    proven = sent is not None and _stamped(ctx, draft, sent[0], doc_status)
    found = ctx.validator.content_findings(
        patient=draft.patient,
        encounter=draft.encounter,
        content=version.content,
        authored_by_scribe=version.author.startswith("scribe:"),
        author=str(principal.fhir_user),
        at=now,
        model_texts=model_texts(draft),
    )
    found += ctx.validator.document_findings(payload, doc_status=doc_status, schema=not proven)
    found += ctx.validator.provenance_findings(
        ctx.validator.provenance_preview(
            draft,
            version,
            Preview(author=str(principal.fhir_user), at=now),
            policy_hash=ctx.policy.content_hash,
        ),
        schema=not proven,
    )
    if proven and sent is not None:
        found += ctx.validator.approval_values_findings(
            author=str(principal.fhir_user), at=now, writeback_id=sent[1]
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
