"""The reviewer page's issue-17 forms: record consent, end a scribe session early.

Recording consent is the same use case as ``POST /v1/consents`` (``service/consent.py``), for
the draft's patient and encounter (loaded server-side, never taken from the form); ending a
scribe session is ``POST /v1/scribe-sessions/{id}/close``, for a session of the draft's
encounter. Both with the session, origin and CSRF checks of every other form
(``actions.mutate``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from chartgate.domain.consent import Consenter, ConsentMethod, RecordingScope
from chartgate.domain.errors import InputError, NotFound
from chartgate.domain.principal import Principal
from chartgate.service.consent import ConsentSubmission
from chartgate.service.context import RequestMeta
from chartgate.web.actions import mutate
from chartgate.web.reviewer import PostedDep, form_field, reviewer_of

router = APIRouter(prefix="/review", include_in_schema=False)
JURISDICTION_LENGTHS = (2, 5, 6)  # "US", "US-CA", "US-DC1"-style subdivisions


def submission_of(
    form: FormData, *, patient: str, encounter: str, principal: Principal
) -> ConsentSubmission:
    """The form as a consent submission; a field out of its list is a clear InputError."""
    try:
        consenter = Consenter(form_field(form, "consenter") or "")
        method = ConsentMethod(form_field(form, "method") or "")
        scope = tuple(RecordingScope(v) for v in form.getlist("scope") if isinstance(v, str))
    except ValueError:
        raise InputError("Choose who consented, how, and what they consented to.") from None
    try:
        consented_at = datetime.fromisoformat(form_field(form, "consented_at") or "")
    except ValueError:
        raise InputError("Give the date and time consent was given.") from None
    jurisdiction = (form_field(form, "jurisdiction") or "").strip().upper()
    if len(jurisdiction) not in JURISDICTION_LENGTHS:
        raise InputError(
            "Give the jurisdiction as a code such as US-CA.", expression="jurisdiction"
        )
    return ConsentSubmission(
        patient=patient,
        encounter=encounter,
        consenter=consenter,
        method=method,
        consented_at=consented_at if consented_at.tzinfo else consented_at.replace(tzinfo=UTC),
        jurisdiction=jurisdiction,
        scope=scope,
        captured_by=principal.fhir_user or f"clinician:{principal.subject}",
    )


@router.post("/{draft_id}/consent")
def record_consent(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Record the patient's consent for this draft's encounter (stored encrypted)."""
    application = reviewer_of(request).application
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        draft = application.drafting.view_draft(principal, draft_id, meta).draft
        record = application.consents.record(
            principal,
            submission_of(form, patient=draft.patient, encounter=draft.encounter,
                          principal=principal),
            request_id=meta.request_id,
        )  # fmt: skip
        return f"Consent recorded ({record.digest[:19]}…). chartgate writes the consent text."

    return mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/scribe-sessions/{session_id}/close")
def close_scribe_session(
    request: Request, draft_id: str, session_id: str, posted: PostedDep
) -> Response:
    """End a scribe session of this draft's encounter now: the scribe reads nothing more."""
    application = reviewer_of(request).application

    def action(principal: Principal, meta: RequestMeta) -> str:
        draft = application.drafting.view_draft(principal, draft_id, meta).draft
        if not any(s.id == session_id for s in application.context.sessions(draft)):
            raise NotFound("scribe session not found", expression="session")
        application.context.close_session(principal, session_id, request_id=meta.request_id)
        return "Scribe session ended. The scribe can read nothing more from the chart in it."

    return mutate(request, draft_id, posted, action)
