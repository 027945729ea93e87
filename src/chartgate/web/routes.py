"""The reviewer page: ``GET /review/{draft_id}``, its forms, and sign-in through the tenant's IdP.

Thin like the API routes: check the session and the CSRF token, parse the form, call the
same handler the API calls (``view_draft``, ``save_version``, ``approve``, ``finalize``,
``discard``, ``amend``, ``retract``, ``rebase``), and show the answer. A handler that asks
for a stronger sign-in (``StepUpRequired``, RFC 9470) sends the browser back through the
identity provider with ``prompt=login``, ``max_age`` and ``acr_values``, then back here.
Every POST answers with a redirect (post/redirect/get), so reloading never repeats an action.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from chartgate.adapters.identity.failures import record_authn_failure
from chartgate.bootstrap import Application
from chartgate.domain.errors import (
    AuthError,
    ChartgateError,
    Forbidden,
    InputError,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    VersionMismatch,
)
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import Note, VersionEdit, check_baseline
from chartgate.service.authz import StepUpRequired
from chartgate.service.context import RequestMeta
from chartgate.service.error_table import status_and_code
from chartgate.web import security
from chartgate.web.oidc import OidcClient, SignInFailed, Tokens
from chartgate.web.presenter import RETRACTION_REASONS, page_model
from chartgate.web.session import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    PendingLogin,
    ReviewerSession,
    SessionEnded,
    SessionLimits,
    SessionStore,
)

HERE = Path(__file__).parent
_DRAFT_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")
_RETURN_TO = re.compile(r"^/review/[A-Za-z0-9\-]{1,64}$")

router = APIRouter(prefix="/review", include_in_schema=False)


@dataclass
class Reviewer:
    """The reviewer page's own state: sessions, the OpenID client, templates, headers."""

    application: Application
    sessions: SessionStore
    oidc: OidcClient
    templates: jinja2.Environment
    headers: dict[str, str]

    def issuers(self) -> list[str]:
        """Every configured issuer, each once."""
        return sorted({i for t in self.application.settings.tenants for i in t.issuers})


def install(app: FastAPI, application: Application) -> None:
    """Mount the reviewer page, its static files and its security headers on ``app``."""
    settings = application.settings
    reviewer = Reviewer(
        application=application,
        sessions=SessionStore(
            SessionLimits(
                idle=settings.reviewer_session_idle_seconds,
                absolute=settings.reviewer_session_absolute_seconds,
            )
        ),
        oidc=OidcClient(settings.reviewer_client_id),
        templates=jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        ),
        headers=security.headers(
            issuers=[i for t in settings.tenants for i in t.issuers],
            frame_ancestors=settings.reviewer_frame_ancestors,
        ),
    )
    app.state.reviewer = reviewer

    async def _no_base_url(_: Request, exc: Exception) -> Response:
        del exc
        return _message(
            reviewer,
            503,
            "Sign-in is not configured",
            "This chartgate does not know its public address (reviewer_base_url).",
        )

    app.add_exception_handler(BaseUrlMissing, _no_base_url)
    app.mount("/review/static", StaticFiles(directory=HERE / "static"), name="review-static")
    app.include_router(router)

    @app.middleware("http")
    async def _review_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        if request.url.path.startswith("/review"):
            response.headers.update(reviewer.headers)
        return response


# -- plumbing ---------------------------------------------------------------------------


def _reviewer(request: Request) -> Reviewer:
    found: Reviewer = request.app.state.reviewer
    return found


async def _read_form(request: Request) -> FormData:
    """The posted form, read only now (after the session check), within ``max_body_bytes``.

    The declared length is checked here; a chunked body is counted as it streams by the
    API's ``RequestGuard``, which fails the read that crosses the limit.
    """
    limit = _reviewer(request).application.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is over the {limit}-byte limit", expression="body")
    return await request.form(max_files=0, max_fields=200)


@dataclass
class Posted:
    """A form post: the session and principal, and the form — read only when signed in."""

    session: ReviewerSession | None
    principal: Principal | None
    form: FormData


async def _posted(request: Request) -> Posted:
    """Check the session first; a post without one is answered without reading its body."""
    reviewer = _reviewer(request)
    try:
        session, principal = await run_in_threadpool(_authenticated, reviewer, request)
    except SessionEnded:
        return Posted(None, None, FormData())
    return Posted(session, principal, await _read_form(request))


async def _logout_posted(request: Request) -> Posted:
    """Sign-out needs a session (not a valid token): the form is read only when there is one."""
    reviewer = _reviewer(request)
    session = reviewer.sessions.peek(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return Posted(None, None, FormData())
    return Posted(session, None, await _read_form(request))


PostedDep = Annotated[Posted, Depends(_posted)]


def _meta(request: Request) -> RequestMeta:
    request_id = str(uuid.uuid4())
    request.state.request_id = request_id
    return RequestMeta(request_id=request_id)


def _render(reviewer: Reviewer, template: str, status: int = 200, **context: Any) -> HTMLResponse:  # noqa: ANN401
    page = reviewer.templates.get_template(template).render(**context)
    return HTMLResponse(page, status_code=status)


def _message(
    reviewer: Reviewer,
    status: int,
    title: str,
    text: str,
    *,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    return _render(reviewer, "message.html", status, title=title, text=text, link=link)


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class BaseUrlMissing(Exception):
    """``reviewer_base_url`` is unset and the request did not come to a loopback address."""


def _base_url(request: Request) -> str:
    """Our public URL: ``reviewer_base_url``; derived from ``Host`` only on loopback (dev).

    A redirect URI or origin taken from an attacker-chosen ``Host`` header would send sign-in
    codes elsewhere, so outside a developer's machine the setting is required.
    """
    configured = _reviewer(request).application.settings.reviewer_base_url
    if configured:
        return configured
    if request.url.hostname not in _LOOPBACK:
        raise BaseUrlMissing
    return f"{request.url.scheme}://{request.url.netloc}"


def _safe_return(value: str | None) -> str:
    """Only our own review pages: never an open redirect."""
    return value if value is not None and _RETURN_TO.fullmatch(value) else "/review/"


def _authenticated(
    reviewer: Reviewer, request: Request, *, touch: bool = True
) -> tuple[ReviewerSession, Principal]:
    """The session and a freshly re-verified principal, still bound to the same sub/sid."""
    session = reviewer.sessions.get(request.cookies.get(SESSION_COOKIE), touch=touch)
    try:
        principal = reviewer.application.authenticate(session.access_token)
    except AuthError:
        reviewer.sessions.end(session.id)
        raise SessionEnded("token") from None
    if (
        principal.subject != session.subject
        or principal.session_id != session.sid
        or principal.tenant != session.tenant
        or principal.issuer != session.issuer
    ):
        reviewer.sessions.end(session.id)
        raise SessionEnded("binding")
    return session, principal


def _same_origin(request: Request) -> bool:
    """A form post must come from our own pages (defence in depth beside the CSRF token)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == _base_url(request)


def _to_login(return_to: str) -> RedirectResponse:
    return RedirectResponse(f"/review/login?return_to={return_to}", status_code=303)


def _session_ended(reviewer: Reviewer, return_to: str) -> HTMLResponse:
    return _message(
        reviewer,
        401,
        "Your session has ended",
        "Nothing was changed. Sign in again to continue; your session ends after a "
        "period without activity and after a fixed time.",
        link=(f"/review/login?return_to={return_to}", "Sign in again"),
    )


# -- sign-in ----------------------------------------------------------------------------


def _begin_login(
    reviewer: Reviewer,
    request: Request,
    *,
    issuer: str,
    return_to: str,
    step_up: StepUpRequired | None = None,
) -> Response:
    """Send the browser to the identity provider (a new sign-in or a step-up)."""
    try:
        meta = reviewer.oidc.metadata(issuer)
    except SignInFailed as e:
        return _message(reviewer, 502, "Sign-in is not available", str(e))
    browser = secrets.token_urlsafe(32)
    pending = reviewer.sessions.begin_login(
        browser_secret=browser, issuer=issuer, return_to=return_to, step_up=step_up is not None
    )
    idle = reviewer.application.settings.reviewer_session_idle_seconds
    url = reviewer.oidc.authorization_url(
        meta,
        redirect_uri=_base_url(request) + "/review/callback",
        state=pending.state,
        nonce=pending.nonce,
        verifier=pending.verifier,
        # A sign-in older than the idle limit must be renewed: an unattended screen cannot be
        # re-entered through the identity provider's single sign-on alone.
        max_age=step_up.max_age if step_up is not None else idle,
        prompt="login" if step_up is not None else None,
        acr_values=step_up.acr_values if step_up is not None else None,
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE,
        browser,
        max_age=LOGIN_SECONDS,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/login")
def login(request: Request, return_to: str | None = None, issuer: str | None = None) -> Response:
    """Start a sign-in with the tenant's OpenID provider (a choice when there are several)."""
    reviewer = _reviewer(request)
    target = _safe_return(return_to)
    issuers = reviewer.issuers()
    if issuer is None and len(issuers) == 1:
        issuer = issuers[0]
    if issuer is None or issuer not in issuers:
        choices = [
            (
                i,
                ", ".join(
                    t.display_name or t.id
                    for t in reviewer.application.settings.tenants
                    if i in t.issuers
                ),
            )
            for i in issuers
        ]
        return _render(reviewer, "choose.html", choices=choices, return_to=target)
    return _begin_login(reviewer, request, issuer=issuer, return_to=target)


@router.get("/callback")
def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    """The identity provider's answer: exchange the code, verify, start a new session."""
    reviewer = _reviewer(request)
    pending = reviewer.sessions.finish_login(state, request.cookies.get(LOGIN_COOKIE))
    if pending is None:
        return _message(
            reviewer,
            400,
            "This sign-in cannot be completed",
            "It expired, was already used, or was started in another browser. Start again.",
            link=("/review/login", "Sign in"),
        )
    if error is not None or code is None:
        shown = error if error and re.fullmatch(r"[a-z_]{1,40}", error) else "no code"
        return _message(
            reviewer,
            401,
            "Sign-in was not completed",
            f"The identity provider answered: {shown}.",
            link=(f"/review/login?return_to={pending.return_to}", "Try again"),
        )
    try:
        tokens, principal = _redeem(reviewer, request, pending, code)
    except _Refused as e:
        return _message(reviewer, e.status, e.title, e.text)
    previous = reviewer.sessions.peek(request.cookies.get(SESSION_COOKIE))
    if previous is not None:
        reviewer.sessions.end(previous.id)  # a new id every time: no session fixation
        if pending.step_up and previous.subject != principal.subject:
            return _message(
                reviewer,
                403,
                "Sign-in refused",
                "You re-authenticated as another person; sign in again from the start.",
                link=("/review/login", "Sign in"),
            )
    session = reviewer.sessions.create(
        tenant=principal.tenant,
        subject=principal.subject,
        sid=principal.session_id,
        issuer=pending.issuer,
        access_token=tokens.access_token,
    )
    if pending.step_up:
        session.notify(
            "info",
            "You signed in again. Press the button once more to finish the action.",
        )
    response = RedirectResponse(pending.return_to, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session.id, path="/", secure=True, httponly=True, samesite="lax"
    )
    response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


class _Refused(Exception):
    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


def _redeem(
    reviewer: Reviewer, request: Request, pending: PendingLogin, code: str
) -> tuple[Tokens, Principal]:
    """Exchange the code, check the ID token, verify the access token as the API would."""
    try:
        meta = reviewer.oidc.metadata(pending.issuer)
        tokens = reviewer.oidc.exchange(
            meta,
            code=code,
            redirect_uri=_base_url(request) + "/review/callback",
            verifier=pending.verifier,
        )
        claims = reviewer.oidc.id_token_claims(meta, tokens.id_token, nonce=pending.nonce)
        principal = reviewer.application.authenticate(tokens.access_token)
    except SignInFailed as e:
        raise _Refused(502, "Sign-in failed", str(e)) from e
    except AuthError as e:
        record_authn_failure(
            reason=e.message,
            token=tokens.access_token,
            request_id=_meta(request).request_id,
            route="/review/callback",
            method=request.method,
            peer=request.client.host if request.client else None,
        )
        raise _Refused(403, "Sign-in refused", f"The token was not accepted: {e}.") from e
    if claims.get("sub") != principal.subject or claims.get("sid") != principal.session_id:
        raise _Refused(403, "Sign-in refused", "The ID token and the access token disagree.")
    if principal.role is not Role.CLINICIAN:
        raise _Refused(403, "Sign-in refused", "The reviewer page is for clinicians.")
    return tokens, principal


@router.post("/logout")
def logout(request: Request, posted: Annotated[Posted, Depends(_logout_posted)]) -> Response:
    """Sign out of chartgate (the identity provider's own session is its business)."""
    reviewer = _reviewer(request)
    session = posted.session
    if (
        session is None
        or not _same_origin(request)
        or not session.csrf_ok(_field(posted.form, "csrf_token"))
    ):
        return _message(reviewer, 403, "Refused", "This sign-out did not come from your session.")
    reviewer.sessions.end(session.id)
    response = _message(
        reviewer,
        200,
        "You are signed out",
        "Close this window, or sign in again.",
        link=("/review/login", "Sign in"),
    )
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.get("/")
def home(request: Request) -> Response:
    """Nothing to list: drafts are opened from the EHR or a link chartgate gave."""
    reviewer = _reviewer(request)
    try:
        _session, principal = _authenticated(reviewer, request)
    except SessionEnded:
        return _to_login("/review/")
    return _worklist(reviewer, request, principal)


def _worklist(reviewer: Reviewer, request: Request, principal: Principal) -> HTMLResponse:
    """The signed-in clinician's worklist (issue 14): drafts to review, notes that need care."""
    lists = reviewer.application.worklists
    meta = _meta(request)
    try:
        review = lists.drafts(
            principal, state=None, encounter=None, cursor=None, limit=50, request_id=meta.request_id
        )
        attention = lists.drafts(
            principal,
            state="rejected,ambiguous,queued",
            encounter=None,
            cursor=None,
            limit=50,
            request_id=meta.request_id,
        )
    except ChartgateError as e:
        return _message(reviewer, 403, "No worklist", e.message)
    return _render(
        reviewer,
        "worklist.html",
        principal=principal,
        review=review,
        attention=attention,
        killswitches=reviewer.application.killswitches.engaged(principal.tenant),
    )


# -- the page ---------------------------------------------------------------------------


@router.get("/writebacks/{writeback_id}/state")
def writeback_state(request: Request, writeback_id: str) -> JSONResponse:
    """The page's background poll: where one write-back is (no audit event, no idle reset)."""
    reviewer = _reviewer(request)
    if not _DRAFT_ID.fullmatch(writeback_id):  # ids share the grammar; never reaches the store
        return JSONResponse({"state": None}, status_code=404)
    try:
        _session, principal = _authenticated(reviewer, request, touch=False)
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
    reviewer = _reviewer(request)
    if not _DRAFT_ID.fullmatch(draft_id):
        return _not_found(reviewer)
    try:
        session, principal = _authenticated(reviewer, request)
    except SessionEnded:
        return _to_login(f"/review/{draft_id}")
    return _page(
        reviewer,
        request,
        session,
        principal,
        draft_id,
        from_version=from_version,
        to_version=to_version,
    )


def _not_found(reviewer: Reviewer) -> HTMLResponse:
    return _message(
        reviewer,
        404,
        "Draft not found",
        "There is no draft with this id that you can see: it does not exist, or it belongs "
        "to another organisation.",
    )


def _page(
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
    try:
        view = reviewer.application.drafting.view_draft(principal, draft_id, _meta(request))
    except NotFound:
        return _not_found(reviewer)
    except Forbidden as e:
        return _message(reviewer, 403, "You cannot open this draft", e.message)
    model = page_model(
        view,
        tenant=reviewer.application.settings.tenant(principal.tenant),
        from_version=from_version,
        to_version=to_version,
        edit_text=edit_text,
    )
    model.notices = session.take_notices()
    return _render(
        reviewer,
        "review.html",
        status,
        m=model,
        draft=view.draft,
        principal=principal,
        csrf=session.csrf,
        error=error,
        error_findings=error_findings or [],
        reasons=RETRACTION_REASONS,
        killswitches=reviewer.application.killswitches.covering(view.draft),  # issue 14
    )


# -- the actions ------------------------------------------------------------------------


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _text(form: FormData, name: str) -> str:
    """A textarea's value with the browser's CRLF line breaks made LF again (HTML §4.10.11)."""
    return (_field(form, name) or "").replace("\r\n", "\n")


def _number(form: FormData, name: str) -> int:
    value = _field(form, name) or ""
    if not value.isdigit() or len(value) > 9:  # noqa: PLR2004
        raise InputError(f"the form's {name} is missing", expression=name)
    return int(value)


def _confirmed(form: FormData, what: str) -> None:
    if _field(form, "confirm") != "yes":
        raise InputError(f"Tick the confirmation box to {what}.", expression="confirm")


def _edit(form: FormData) -> VersionEdit:
    """The edited note and resources as a ``VersionEdit`` (the handler judges them)."""
    raw = _field(form, "resources") or "[]"
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
                type=_field(form, "note_type") or "",
                title=_field(form, "title") or "",
                content_type=_field(form, "content_type") or "text/plain",
                text=_text(form, "text"),
            ),
            resources=tuple(resources),
        )
    except ValidationError as e:
        first = e.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The edit cannot be saved: {where}: {first['msg']}.") from None


def _mutate(
    request: Request,
    draft_id: str,
    posted: Posted,
    action: Callable[[Principal, RequestMeta], str],
    *,
    keeps_text: bool = False,
) -> Response:
    """Session, origin and CSRF checks, then the handler; errors are shown on the page."""
    reviewer = _reviewer(request)
    if not _DRAFT_ID.fullmatch(draft_id):
        return _not_found(reviewer)
    session, principal, form = posted.session, posted.principal, posted.form
    if session is None or principal is None:
        return _session_ended(reviewer, f"/review/{draft_id}")
    if not _same_origin(request) or not session.csrf_ok(_field(form, "csrf_token")):
        return _message(
            reviewer,
            403,
            "This form was refused",
            "It did not carry this session's security token (it may be stale, or it did not "
            "come from chartgate). Nothing was changed.",
            link=(f"/review/{draft_id}", "Back to the draft"),
        )
    edit_text = _text(form, "text") if keeps_text else None
    try:
        notice = action(principal, _meta(request))
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
        return _begin_login(
            reviewer, request, issuer=session.issuer, return_to=back[0], step_up=error
        )
    if isinstance(error, NotFound):
        return _not_found(reviewer)
    if isinstance(error, Forbidden):
        return _message(reviewer, 403, "Not allowed", error.message, link=back)
    if isinstance(error, AuthError):
        reviewer.sessions.end(session.id)
        return _session_ended(reviewer, back[0])
    message = error.message
    if isinstance(error, VersionMismatch):
        message = f"The draft changed since you opened it ({error.message}). Review it again."
    findings = error.findings if isinstance(error, ValidationFailed) else ()
    return _page(
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
    drafting = _reviewer(request).application.drafting
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

    return _mutate(request, draft_id, posted, action, keeps_text=True)


@router.post("/{draft_id}/approve")
def approve(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Approve for chart: freeze the version, queue exactly one write-back."""
    approvals = _reviewer(request).application.approvals
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
        )
        return (
            f"Approved version {draft.approved_version} for the chart. It is queued "
            f"(write-back {record.id})."
        )

    return _mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/finalize")
def finalize(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Finalize note: step-up, then the chart's note becomes docStatus final."""
    approvals = _reviewer(request).application.approvals
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "finalize the note")
        approvals.finalize(principal, draft_id, meta)
        return "Finalization queued: the note in the chart will become final."

    return _mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/discard")
def discard(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Discard a draft that was never sent."""
    drafting = _reviewer(request).application.drafting
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "discard the draft")
        drafting.discard(principal, draft_id, meta)
        return "Draft discarded. Nothing was sent to the chart."

    return _mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/amend")
def amend(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Amend a committed note: a new approved version that replaces it in the chart."""
    approvals = _reviewer(request).application.approvals
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "amend the note in the chart")
        draft, _record = approvals.amend(
            principal,
            _field(form, "writeback") or "",
            expected_version=_number(form, "version"),
            edit=_edit(form),
            meta=meta,
        )
        return (
            f"Amendment approved: version {draft.current.number} is queued to replace the "
            "note in the chart."
        )

    return _mutate(request, draft_id, posted, action, keeps_text=True)


@router.post("/{draft_id}/retract")
def retract(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """Retract a committed note (step-up): it becomes entered-in-error, never deleted."""
    approvals = _reviewer(request).application.approvals
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        _confirmed(form, "retract the note")
        reason = _field(form, "reason") or ""
        if reason not in {code for code, _ in RETRACTION_REASONS}:
            raise InputError("Choose why the note is retracted.", expression="reason")
        approvals.retract(principal, _field(form, "writeback") or "", reason=reason, meta=meta)
        return "Retraction queued: the note will be marked entered-in-error in the chart."

    return _mutate(request, draft_id, posted, action)


@router.post("/{draft_id}/rebase")
def rebase(request: Request, draft_id: str, posted: PostedDep) -> Response:
    """After a conflict: a new version against the chart's current versions."""
    drafting = _reviewer(request).application.drafting
    form = posted.form

    def action(principal: Principal, meta: RequestMeta) -> str:
        refs = [v for v in form.getlist("baseline_ref") if isinstance(v, str)]
        versions = [v.strip() for v in form.getlist("baseline_version") if isinstance(v, str)]
        try:
            baseline = check_baseline(dict(zip(refs, versions, strict=True)))
        except ValueError as e:
            raise InputError(str(e), expression="baseline") from None
        draft = drafting.rebase(principal, draft_id, baseline=baseline, meta=meta)
        return (
            f"Rebased as version {draft.current.number} on the chart's current versions. "
            "Review it and approve again."
        )

    return _mutate(request, draft_id, posted, action)
