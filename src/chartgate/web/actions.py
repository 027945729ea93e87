"""The reviewer page's forms: save, approve, finalize, discard, amend, retract, rebase.

Thin like the API routes: check the session and the CSRF token, parse the form, call the
same use case the API calls, and show the answer. Every POST answers with a redirect
(post/redirect/get), so reloading never repeats an action.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from chartgate.domain.errors import (
    AuthError,
    ChartgateError,
    Forbidden,
    InputError,
    NotFound,
    ValidationFailed,
    VersionMismatch,
)
from chartgate.domain.principal import Principal
from chartgate.domain.submission import Note, VersionEdit, check_baseline
from chartgate.service.authz import StepUpRequired
from chartgate.service.context import RequestMeta
from chartgate.service.error_table import status_and_code
from chartgate.service.resolution import CHART_RESOURCE, RESOLUTIONS
from chartgate.web.chart_now import current_baseline, read_chart
from chartgate.web.presenter import RETRACTION_REASONS
from chartgate.web.review import draft_page, not_found_page
from chartgate.web.reviewer import (
    DRAFT_ID,
    Posted,
    PostedDep,
    Reviewer,
    form_field,
    request_meta,
    reviewer_of,
    same_origin,
    session_ended_page,
    show_message,
)
from chartgate.web.session import (
    ReviewerSession,
)
from chartgate.web.signin import begin_login

router = APIRouter(prefix="/review", include_in_schema=False)


def _text(form: FormData, name: str) -> str:
    """A textarea's value with the browser's CRLF line breaks made LF again (HTML §4.10.11)."""
    return (form_field(form, name) or "").replace("\r\n", "\n")


def _number(form: FormData, name: str) -> int:
    value = form_field(form, name) or ""
    if not value.isdigit() or len(value) > 9:  # noqa: PLR2004
        raise InputError(f"the form's {name} is missing", expression=name)
    return int(value)


def _confirmed(form: FormData, what: str) -> None:
    if form_field(form, "confirm") != "yes":
        raise InputError(f"Tick the confirmation box to {what}.", expression="confirm")


def _edit(form: FormData) -> VersionEdit:
    """The edited note and resources as a ``VersionEdit`` (the handler judges them)."""
    raw = form_field(form, "resources") or "[]"
    try:
        resources = json.loads(raw)
    except ValueError:
        raise InputError(
            "Structured resources must be valid JSON (a list of FHIR resources).",
            expression="resources",
        ) from None
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise InputError(
            "Structured resources must be a JSON list of FHIR resources.", expression="resources"
        )
    try:
        return VersionEdit(
            note=Note(
                type=form_field(form, "note_type") or "",
                title=form_field(form, "title") or "",
                content_type=form_field(form, "content_type") or "text/plain",
                text=_text(form, "text"),
            ),
            resources=tuple(resources),
        )
    except ValidationError as e:
        first = e.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The edit cannot be saved: {where}: {first['msg']}.") from None


def mutate(
    request: Request,
    draft_id: str,
    posted: Posted,
    action: Callable[[Principal, RequestMeta], str],
    *,
    keeps_text: bool = False,
) -> Response:
    """Session, origin and CSRF checks, then the handler; errors are shown on the page."""
    reviewer = reviewer_of(request)
    if not DRAFT_ID.fullmatch(draft_id):
        return not_found_page(reviewer)
    session, principal, form = posted.session, posted.principal, posted.form
    if session is None or principal is None:
        return session_ended_page(reviewer, f"/review/{draft_id}")
    if not same_origin(request) or not session.csrf_ok(form_field(form, "csrf_token")):
        return show_message(
            reviewer,
            403,
            "This form was refused",
            "It did not carry this session's security token (it may be stale, or it did not "
            "come from chartgate). Nothing was changed.",
            link=(f"/review/{draft_id}", "Back to the draft"),
        )
    edit_text = _text(form, "text") if keeps_text else None
    try:
        notice = action(principal, request_meta(request))
    except ChartgateError as e:
        return _refusal(
            reviewer,
            request,
            (session, principal),
            draft_id,
            e,
            edit_text=edit_text,
        )
    session.notify("ok", notice)
    return RedirectResponse(f"/review/{draft_id}", status_code=303)


def _refusal(
    reviewer: Reviewer,
    request: Request,
    who: tuple[ReviewerSession, Principal],
    draft_id: str,
    error: ChartgateError,
    *,
    edit_text: str | None,
) -> Response:
    """Show why a handler said no; a step-up refusal sends the browser to sign in again."""
    session, principal = who
    back = (f"/review/{draft_id}", "Back to the draft")
    if isinstance(error, StepUpRequired):
        return begin_login(
            reviewer, request, issuer=session.issuer, return_to=back[0], step_up=error
        )
    if isinstance(error, NotFound):
        return not_found_page(reviewer)
    if isinstance(error, Forbidden):
        return show_message(reviewer, 403, "Not allowed", error.message, link=back)
    if isinstance(error, AuthError):
        reviewer.sessions.end(session.id)
        return session_ended_page(reviewer, back[0])
    message = error.message
    if isinstance(error, VersionMismatch):
        message = f"The draft changed since you opened it ({error.message}). Review it again."
    findings = error.findings if isinstance(error, ValidationFailed) else ()
    return draft_page(
        reviewer,
        request,
        session,
        principal,
        draft_id,
        status=status_and_code(error)[0],
        error=message,
        error_findings=[f.as_dict() for f in findings],
        edit_text=edit_text,
    )


@router.post("/{draft_id}/save")
def save(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Save draft: a new version; nothing leaves chartgate."""
    drafting = reviewer_of(request).application.drafting
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        draft = drafting.save_version(
            principal,
            draft_id,
            expected_version=_number(form, "version"),
            edit=_edit(form),
            meta=meta,
        )
        return f"Saved as version {draft.current.number}. Nothing was sent to the chart."

    return mutate(request, draft_id, posted, action, keeps_text=True)


@router.post("/{draft_id}/save-approve")
def save_and_approve(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Save and approve: the edit becomes a version, and that version is approved (one step).

    The confirmation is the same as Approve's and is checked before anything is saved; if
    the approval is then refused (a finding, a warning to acknowledge), the saved version
    stays, the page says so, and nothing is queued.
    """
    application = reviewer_of(request).application
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "approve the note for the chart")
        draft = application.drafting.save_version(
            principal,
            draft_id,
            expected_version=_number(form, "version"),
            edit=_edit(form),
            meta=meta,
        )
        saved = draft.current.number
        if posted.session is not None:
            posted.session.notify("ok", f"Saved as version {saved}.")
        approved, record = application.approvals.approve(
            principal, draft_id, expected_version=saved, meta=meta, acknowledged=()
        )
        return (
            f"Approved version {approved.approved_version} for the chart. It is queued "
            f"(write-back {record.id})."
        )

    return mutate(request, draft_id, posted, action, keeps_text=True)


@router.post("/{draft_id}/approve")
def approve(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Approve for chart: freeze the version, queue exactly one write-back."""
    approvals = reviewer_of(request).application.approvals
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "approve the note for the chart")
        acknowledged = tuple(v for v in form.getlist("acknowledge") if isinstance(v, str))
        draft, record = approvals.approve(
            principal,
            draft_id,
            expected_version=_number(form, "version"),
            meta=meta,
            acknowledged=acknowledged,
            sign=form.get("sign") == "yes",
        )
        return (
            f"Approved version {draft.approved_version} for the chart. It is queued "
            f"(write-back {record.id})."
        )

    return mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/finalize")
def finalize(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Finalize note: step-up, then the chart's note becomes docStatus final."""
    approvals = reviewer_of(request).application.approvals
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "finalize the note")
        approvals.finalize(principal, draft_id, meta)
        return "Finalization queued: the note in the chart will become final."

    return mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/discard")
def discard(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Discard a draft that was never sent."""
    drafting = reviewer_of(request).application.drafting
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "discard the draft")
        drafting.discard(principal, draft_id, meta)
        return "Draft discarded. Nothing was sent to the chart."

    return mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/amend")
def amend(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Amend a committed note: a new approved version that replaces it in the chart."""
    approvals = reviewer_of(request).application.approvals
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "amend the note in the chart")
        draft, _record = approvals.amend(
            principal,
            form_field(form, "writeback") or "",
            expected_version=_number(form, "version"),
            edit=_edit(form),
            meta=meta,
        )
        return (
            f"Amendment approved: version {draft.current.number} is queued to replace the "
            "note in the chart."
        )

    return mutate(request, draft_id, posted, action, keeps_text=True)


@router.post("/{draft_id}/retract")
def retract(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Retract a committed note (step-up): it becomes entered-in-error, never deleted."""
    approvals = reviewer_of(request).application.approvals
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "retract the note")
        reason = form_field(form, "reason") or ""
        if reason not in {code for code, _ in RETRACTION_REASONS}:
            raise InputError("Choose why the note is retracted.", expression="reason")
        approvals.retract(principal, form_field(form, "writeback") or "", reason=reason, meta=meta)
        return "Retraction queued: the note will be marked entered-in-error in the chart."

    return mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/rebase")
def rebase(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """After a conflict: a new version against the chart's current versions."""
    drafting = reviewer_of(request).application.drafting
    application = reviewer_of(request).application

    def action(principal: Principal, meta: RequestMeta) -> str:
        # The chart's current versions, read now by chartgate (nothing typed by a person).
        view = drafting.view_draft(principal, draft_id, meta)
        now = read_chart(
            application.ehr.gateway(principal.tenant),
            view.draft.baseline,
            request_id=meta.request_id or "",
        )
        current = current_baseline(now)
        if current is None:
            missing = ", ".join(c.ref for c in now if c.current is None)
            raise InputError(
                f"chartgate could not read {missing} from the chart; nothing was changed. "
                "Try again in a moment.",
                expression="baseline",
            )
        try:
            baseline = check_baseline(current)
        except ValueError as e:
            raise InputError(str(e), expression="baseline") from None
        draft = drafting.rebase(principal, draft_id, baseline=baseline, meta=meta)
        return (
            f"Rebased as version {draft.current.number} on the chart's current versions. "
            "Review it and approve again."
        )

    return mutate(request, draft_id, posted, action)


_CHART_RESOURCE = re.compile(CHART_RESOURCE)


@router.post("/{draft_id}/writebacks/{writeback_id}/resolve")
def resolve_part(request: Request, draft_id: str, writeback_id: str, posted: PostedDep) -> Response:
    """A person decides one structured item's write-back the worker could not (per item).

    The same use case, rules and ledger event (``writeback.resolved``) as
    ``POST /v1/writebacks/{id}/resolve``; the write-back must be one of this draft's.
    """
    application = reviewer_of(request).application
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        decision = form_field(form, "action") or ""
        if decision not in RESOLUTIONS:
            raise InputError("Choose what to do with the write-back.", expression="action")
        document = (form_field(form, "document") or "").strip() or None
        if decision == "landed" and (document is None or not _CHART_RESOURCE.match(document)):
            raise InputError(
                "Name the resource in the chart as Type/id (for example Condition/123).",
                expression="document",
            )
        seen = application.resolutions.writeback(principal, writeback_id, meta, audit=False)
        if seen.draft_id != draft_id:
            raise NotFound("no such write-back on this draft")
        record = application.resolutions.resolve(
            principal, writeback_id, action=decision, document=document, meta=meta
        )
        return f"Decision recorded for the {record.target_type} write-back: it is {record.state}."

    return mutate(request, draft_id, posted, action)
