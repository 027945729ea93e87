"""Consent evidence and disclosure rules: record, require at approval, write into the chart.

``ConsentService.record`` stores a consent record for an encounter: the scribe inside its live
session for that encounter, or a clinician bound to it. The approval use case asks
``consent_gate`` whether the policy requires consent for the tenant's jurisdiction (refusing
the approval without a record) and gets back the system-written text to append to the note:
the consent statement rendered from the record and any disclosure line a rule requires, with
each disclosure rule's id, source and outcome for the approval's ledger event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from chartgate.domain.consent import (
    CONSENT_SECTION,
    Consenter,
    ConsentMethod,
    ConsentRecord,
    RecordingScope,
    suffix_hash,
    system_suffix,
)
from chartgate.domain.drafts import Approval, Draft
from chartgate.domain.errors import InputError, PolicyDenied
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.policy.consent_rules import Audience, Exemption
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import VersionContent
from chartgate.service import authz
from chartgate.service.context import Context
from chartgate.service.ports import JsonObject, UnitOfWork
from chartgate.service.scribe_context import live_session

DISCLOSURE_SECTION = "AI assistance disclosure"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentSubmission:
    """What the scribe or clinician states about consent (the API body)."""

    patient: str
    encounter: str
    consenter: Consenter
    method: ConsentMethod
    consented_at: datetime
    jurisdiction: str
    scope: tuple[RecordingScope, ...]
    captured_by: str
    session: str | None = None  # a scribe names its live session


@dataclass(frozen=True, slots=True)
class ConsentOutcome:
    """What approval adds: the consent digest, system-written text and disclosure outcomes."""

    consent_digest: str | None = None
    appended_text: str = ""
    disclosures: list[JsonObject] = field(default_factory=list)

    @property
    def text_hash(self) -> str | None:
        """The hash of what ``with_system_text`` appends (recorded with the approval)."""
        return suffix_hash(self.appended_text)


@dataclass(frozen=True, slots=True)
class ConsentPreview:
    """Before approval: chartgate's own text the note will carry, or why approval is refused."""

    appended_text: str
    refusal: str | None


def with_consent(
    ctx: Context, uow: UnitOfWork, draft: Draft, approval: Approval, content: VersionContent
) -> tuple[Approval, VersionContent]:
    """In an approval's transaction: refuse without required consent, else add chartgate's text.

    Returns the approval carrying the consent record's digest and the appended text's hash,
    and the content to send (the approved content plus chartgate's own consent/disclosure
    text, if any).
    """
    outcome = chart_consent(ctx, uow, draft)
    noted = replace(
        approval, consent_digest=outcome.consent_digest, system_text_hash=outcome.text_hash
    )
    return noted, with_system_text(content, outcome)


def consent_facts(ctx: Context, draft: Draft, approval: Approval) -> JsonObject:
    """The approval's ledger facts: consent digest, each disclosure rule and its outcome.

    The approval itself is the evidence of a licensed provider's review.
    """
    jurisdiction = ctx.access.rules(draft.tenant).jurisdiction
    return {
        "consent_digest": approval.consent_digest,
        "disclosures": disclosure_outcomes(ctx.policy, jurisdiction)[1],
    }


def chart_consent(ctx: Context, uow: UnitOfWork, draft: Draft) -> ConsentOutcome:
    """Inside an approval's transaction: judge consent and disclosures for ``draft``."""
    return judge_consent(
        ctx.policy,
        uow.context.consent_for(draft.tenant, draft.encounter),
        tenant=draft.tenant,
        jurisdiction=ctx.access.rules(draft.tenant).jurisdiction,
    )


class ConsentService:
    """Record consent evidence; judge it (and disclosures) at approval."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def record(
        self, principal: Principal, submission: ConsentSubmission, *, request_id: str | None
    ) -> ConsentRecord:
        """Store one consent record (encrypted) and its digest in the ledger."""
        self._bind(principal, submission)
        now = self._ctx.clock.now()
        if submission.consented_at > now:
            raise InputError("consented_at is in the future", expression="consented_at")
        if not submission.scope:
            raise InputError("scope names at least one item", expression="scope")
        record = ConsentRecord(
            id=self._ctx.ids.new_id(),
            tenant=principal.tenant,
            patient=submission.patient,
            encounter=submission.encounter,
            consenter=submission.consenter,
            method=submission.method,
            consented_at=submission.consented_at,
            jurisdiction=submission.jurisdiction,
            scope=submission.scope,
            captured_by=submission.captured_by,
            recorded_by=f"{principal.role.value}:{principal.subject}",
            recorded_at=now,
        )
        with self._ctx.uow() as uow:
            uow.context.add_consent(record)
            uow.audit.append(
                AuditRecord(
                    type=EventType.CONSENT_RECORDED,
                    tenant=record.tenant,
                    at=now,
                    correlation_id=submission.session or record.id,
                    actor=record.recorded_by,
                    request_id=request_id,
                    data={
                        "consent": record.id,
                        "digest": record.digest,
                        "method": record.method.value,
                        "jurisdiction": record.jurisdiction,
                        "encounter": self._pseudonym(record.tenant, record.encounter),
                    },
                    patient=self._pseudonym(record.tenant, record.patient),
                )
            )
        return record

    def preview(self, draft: Draft) -> ConsentPreview:
        """What approving ``draft`` would add to its note, shown before the clinician clicks.

        The same judgement as approval (``judge_consent``) on the consent on record now; the
        caller has already checked the principal's access to the draft (the page's view did).
        """
        jurisdiction = self._ctx.access.rules(draft.tenant).jurisdiction
        with self._ctx.uow(read_only=True) as uow:
            record = uow.context.consent_for(draft.tenant, draft.encounter)
        try:
            outcome = judge_consent(
                self._ctx.policy, record, tenant=draft.tenant, jurisdiction=jurisdiction
            )
        except PolicyDenied as refused:
            return ConsentPreview(appended_text="", refusal=refused.message)
        return ConsentPreview(appended_text=outcome.appended_text, refusal=None)

    def _bind(self, principal: Principal, submission: ConsentSubmission) -> None:
        if principal.role is Role.SCRIBE:
            if submission.session is None:
                raise InputError("a scribe names its live session", expression="session")
            session = live_session(self._ctx, principal, submission.session)
            if (session.patient, session.encounter) != (submission.patient, submission.encounter):
                raise PolicyDenied(
                    "consent is recorded for the session's own patient and encounter",
                    expression="encounter",
                )
            return
        authz.require_role(principal, Role.CLINICIAN)
        access = self._ctx.access.rules(principal.tenant)
        authz.require_encounter(
            principal,
            submission.encounter,
            patient=submission.patient,
            grants=access.grants,
            now=self._ctx.clock.now(),
            base=access.ehr_base,
            missing="encounter not found",
        )

    def _pseudonym(self, tenant: str, reference: str) -> str | None:
        return self._ctx.pseudonym(tenant, reference)


def judge_consent(
    policy: LoadedPolicy,
    record: ConsentRecord | None,
    *,
    tenant: str,
    jurisdiction: str | None,
) -> ConsentOutcome:
    """Refuse approval without a required consent record; else the system-written additions.

    The consent paragraph is rendered from the record with the policy's statement; each
    disclosure rule of the tenant's jurisdiction for notes is recorded with its source and
    outcome (a licensed provider's approval exempts where the rule says so, otherwise the
    rule's line is added).
    """
    rules = policy.policy
    if record is None and rules.consent.required(tenant=tenant, jurisdiction=jurisdiction):
        raise PolicyDenied(
            "consent to ambient documentation must be on record before approval"
            f" (policy: required in {jurisdiction or 'this tenant'}); record it with"
            " POST /v1/consents",
            expression="consent",
        )
    parts: list[str] = []
    if record is not None:
        parts.append(f"## {CONSENT_SECTION}\n{record.statement(rules.consent.statement)}")
    lines, outcomes = disclosure_outcomes(policy, jurisdiction)
    parts.extend(lines)
    return ConsentOutcome(
        consent_digest=record.digest if record else None,
        appended_text="\n\n".join(parts),
        disclosures=outcomes,
    )


def disclosure_outcomes(
    policy: LoadedPolicy, jurisdiction: str | None
) -> tuple[list[str], list[JsonObject]]:
    """The disclosure lines to add to a note and each rule's ``{rule, source, outcome}``."""
    lines: list[str] = []
    outcomes: list[JsonObject] = []
    for rule in policy.policy.disclosures:
        if not rule.applies(jurisdiction, Audience.NOTE):
            continue
        exempt = rule.unless is Exemption.LICENSED_PROVIDER_REVIEW
        if not exempt:
            lines.append(f"## {DISCLOSURE_SECTION}\n{rule.text}")
        outcome = (
            "exempt: reviewed and approved by a licensed provider"
            if exempt
            else "disclosure line added"
        )
        outcomes.append({"rule": rule.id, "source": rule.source, "outcome": outcome})
    return lines, outcomes


def with_system_text(content: VersionContent, outcome: ConsentOutcome) -> VersionContent:
    """The approved content with chartgate's own consent and disclosure text appended.

    What is sent, never what was approved: the approved version keeps its hash; the payload's
    hash (computed at queue time) covers the added text.
    """
    if not outcome.appended_text:
        return content
    text = content.note.text.rstrip() + system_suffix(outcome.appended_text)
    return content.model_copy(update={"note": content.note.model_copy(update={"text": text})})
