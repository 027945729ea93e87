"""The reviewer page's views: the worklist, one draft's page, and the write-back poll."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from chartgate.bootstrap import Application
from chartgate.domain.drafts import Draft
from chartgate.domain.errors import (
    ChartgateError,
    Forbidden,
    NotFound,
)
from chartgate.domain.patient_context import ContextProblem, PatientContext
from chartgate.domain.principal import Principal, Role
from chartgate.domain.structured import WRITE_ORDER
from chartgate.service.patient_context import (
    read_encounter_context,
    read_patient_context,
    with_location_name,
)
from chartgate.service.worklists import DraftItem, Page
from chartgate.web.admin import REPORT_PATH
from chartgate.web.chart_now import read_chart
from chartgate.web.presenter import RETRACTION_REASONS, page_model
from chartgate.web.reading import attestation_preview, reading
from chartgate.web.reviewer import (
    DRAFT_ID,
    Reviewer,
    authenticated,
    render_page,
    request_meta,
    reviewer_of,
    show_message,
    to_login,
)
from chartgate.web.session import (
    ReviewerSession,
    SessionEnded,
)
from chartgate.web.worklist_view import (
    ATTENTION_STATES,
    ATTENTION_WRITEBACKS,
    ON_THE_WAY_STATES,
    REVIEW_STATES,
    name_lines,
    section,
)

router = APIRouter(prefix="/review", include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    """The clinician's worklist; opened from an EHR launch, that encounter's draft or list."""
    reviewer = reviewer_of(request)
    try:
        session, principal = authenticated(reviewer, request)
    except SessionEnded:
        return to_login("/review/")
    if principal.role is Role.ADMIN:  # signed in for the admin page: no worklist, its link
        return show_message(
            reviewer,
            200,
            "Signed in as an administrator",
            "Administrators do not review notes; the report and drift charts are here.",
            link=(REPORT_PATH, "Open the write-back report"),
        )
    return _worklist(reviewer, request, session, principal)


def _worklist(
    reviewer: Reviewer, request: Request, session: ReviewerSession, principal: Principal
) -> Response:
    """Drafts to review, write-backs that need the clinician, notes on their way (issue 16)."""
    lists = reviewer.application.worklists
    meta = request_meta(request)
    encounter = session.launch_encounter  # inside the EHR: the launched encounter only

    def page(states: str, writebacks: str | None = None) -> Page[DraftItem]:
        return lists.drafts(
            principal,
            state=states,
            encounter=encounter,
            cursor=None,
            limit=50,
            request_id=meta.request_id,
            writebacks=writebacks,
        )

    try:
        review = section(page(REVIEW_STATES))
        attention = section(page(ATTENTION_STATES, ATTENTION_WRITEBACKS), attention=True)
        on_the_way = section(page(ON_THE_WAY_STATES))
    except ChartgateError as e:
        return show_message(reviewer, 403, "No worklist", e.message)
    if encounter is not None and len(review.lines) == 1 and not attention.lines:
        # Launched for one encounter with one draft to review: open it.
        return RedirectResponse(f"/review/{review.lines[0].item.id}", status_code=303)
    request_id = meta.request_id or f"worklist:{principal.subject}"

    def read(patient: str, encounter: str) -> PatientContext | ContextProblem:
        return read_encounter_context(
            reviewer.application.ehr,
            principal.tenant,
            patient_ref=patient,
            encounter_ref=encounter,
            request_id=request_id,
        )

    return render_page(
        reviewer,
        "worklist.html",
        principal=principal,
        csrf=session.csrf,
        review=review,
        attention=attention,
        on_the_way=on_the_way,
        names=name_lines((review, attention, on_the_way), read),
        launch_encounter=encounter,
        killswitches=reviewer.application.killswitches.engaged(principal.tenant),
    )


# -- the page ---------------------------------------------------------------------------


@router.get("/writebacks/{writeback_id}/state")
def writeback_state(request: Request, writeback_id: str) -> JSONResponse:
    """The page's background poll: where one write-back is (no audit event, no idle reset)."""
    reviewer = reviewer_of(request)
    if not DRAFT_ID.fullmatch(writeback_id):  # ids share the grammar; never reaches the store
        return JSONResponse({"state": None}, status_code=404)
    try:
        _session, principal = authenticated(reviewer, request, touch=False)
        record = reviewer.application.resolutions.writeback(principal, writeback_id, audit=False)
    except SessionEnded:
        return JSONResponse({"state": None, "signed_in": False}, status_code=401)
    except NotFound:
        return JSONResponse({"state": None}, status_code=404)
    return JSONResponse({"state": record.state})


@router.get("/{draft_id}")
def review(
    request: Request,
    draft_id: str,
    from_version: Annotated[int, Query(alias="from", ge=1, le=10_000)] = 1,
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=10_000)] = None,
) -> Response:
    """The reviewer page of one draft."""
    reviewer = reviewer_of(request)
    if not DRAFT_ID.fullmatch(draft_id):
        return not_found_page(reviewer)
    try:
        session, principal = authenticated(reviewer, request)
    except SessionEnded:
        return to_login(f"/review/{draft_id}")
    return draft_page(
        reviewer,
        request,
        session,
        principal,
        draft_id,
        from_version=from_version,
        to_version=to_version,
    )


def not_found_page(reviewer: Reviewer) -> HTMLResponse:
    """The same answer for a missing draft and one the clinician may not see."""
    return show_message(
        reviewer,
        404,
        "Draft not found",
        "There is no draft with this id that you can see: it does not exist, or it belongs "
        "to another organisation.",
    )


def _patient_banner(application: Application, draft: Draft, request_id: str) -> dict[str, Any]:
    """Who and which visit, from the EHR (the ehr helper's patient-context read).

    ``problem`` says what the EHR's answer refuses (a missing encounter, another patient's);
    ``unread`` that the EHR could not be read now (the page still shows the draft's ids).
    """
    try:
        judged = read_patient_context(application.ehr, draft, request_id=request_id)
    except ChartgateError:
        return {"unread": True}
    if isinstance(judged, ContextProblem):
        return {"problem": judged.value}
    named = with_location_name(application.ehr, draft.tenant, judged, request_id=request_id)
    return dict(named.banner())


def draft_page(
    reviewer: Reviewer,
    request: Request,
    session: ReviewerSession,
    principal: Principal,
    draft_id: str,
    *,
    status: int = 200,
    from_version: int = 1,
    to_version: int | None = None,
    error: str | None = None,
    error_findings: list[dict[str, Any]] | None = None,
    edit_text: str | None = None,
) -> HTMLResponse:
    """One draft's page (with the error of a refused action, when there was one)."""
    try:
        view = reviewer.application.drafting.view_draft(principal, draft_id, request_meta(request))
    except NotFound:
        return not_found_page(reviewer)
    except Forbidden as e:
        return show_message(reviewer, 403, "You cannot open this draft", e.message)
    model = page_model(
        view,
        tenant=reviewer.application.settings.tenant(principal.tenant),
        from_version=from_version,
        to_version=to_version,
        edit_text=edit_text,
    )
    model.notices = session.take_notices()
    application = reviewer.application
    vendor = application.ehr.vendor(principal.tenant)
    chart = None
    if "rebase" in model.actions and view.draft.baseline:
        chart = read_chart(
            application.ehr.gateway(principal.tenant),
            view.draft.baseline,
            request_id=request_meta(request).request_id or "",
        )
    return render_page(
        reviewer,
        "review.html",
        status,
        m=model,
        r=reading(
            view,
            model,
            decide=lambda kind: application.policy.policy.decide_resource(kind, vendor=vendor),
            writable=lambda kind: (
                kind in WRITE_ORDER
                and kind in application.ehr.profile(principal.tenant).writable_types
            ),
        ),
        patient=_patient_banner(application, view.draft, request_meta(request).request_id or ""),
        consent=application.consents.preview(view.draft) if "approve" in model.actions else None,
        attestation=(
            attestation_preview(application.ehr.profile(principal.tenant), view.draft)
            if "approve" in model.actions
            else ""
        ),
        scribe_sessions=scribe_sessions(application, view.draft),
        chart_now=chart,
        edit_open=edit_text is not None,
        save_approve=True,
        draft=view.draft,
        principal=principal,
        csrf=session.csrf,
        error=error,
        error_findings=error_findings or [],
        reasons=RETRACTION_REASONS,
        killswitches=reviewer.application.killswitches.covering(view.draft),  # issue 14
    )


def scribe_sessions(application: Application, draft: Draft) -> list[dict[str, object]]:
    """The encounter's scribe sessions for the page: who, which template, until when, live."""
    now = application.clock.now()
    return [
        {
            "id": s.id,
            "scribe_client": s.scribe_client,
            "template": s.template,
            "opened_at": s.opened_at.strftime("%Y-%m-%d %H:%M UTC"),
            "expires_at": s.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            "live": s.live(now),
            "ended": "closed early" if s.closed_at else "expired",
        }
        for s in application.context.sessions(draft)
    ]


# -- the actions ------------------------------------------------------------------------
