"""Reviewer sign-in through the tenant's OpenID provider: login, callback and logout.

A handler that asks for a stronger sign-in (``StepUpRequired``, RFC 9470) sends the browser
back through the identity provider with ``prompt=login``, ``max_age`` and ``acr_values``
(``begin_login``), then back to the page.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from chartgate.adapters.identity.failures import record_authn_failure
from chartgate.domain.errors import (
    AuthError,
)
from chartgate.domain.principal import Principal, Role
from chartgate.domain.reviewer_sessions import LaunchContext
from chartgate.service.authz import StepUpRequired
from chartgate.web.admin import ADMIN_PREFIX, ADMIN_SCOPE, REPORT_PATH
from chartgate.web.cookies import delete_cookie, set_cookie
from chartgate.web.oidc import SignInFailed, Tokens
from chartgate.web.reviewer import (
    Posted,
    Reviewer,
    base_url,
    form_field,
    read_logout_posted,
    render_page,
    request_meta,
    reviewer_of,
    safe_return,
    same_origin,
    show_message,
)
from chartgate.web.session import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    PendingLogin,
)
from chartgate.web.smart_launch import context_of_sign_in

router = APIRouter(prefix="/review", include_in_schema=False)


def begin_login(
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
        return show_message(reviewer, 502, "Sign-in is not available", str(e))
    browser = secrets.token_urlsafe(32)
    pending = reviewer.sessions.begin_login(
        browser_secret=browser, issuer=issuer, return_to=return_to, step_up=step_up is not None
    )
    idle = reviewer.application.settings.reviewer_session_idle_seconds
    url = reviewer.oidc.authorization_url(
        meta,
        redirect_uri=base_url(request) + "/review/callback",
        state=pending.state,
        nonce=pending.nonce,
        verifier=pending.verifier,
        # A sign-in older than the idle limit must be renewed: an unattended screen cannot be
        # re-entered through the identity provider's single sign-on alone.
        max_age=step_up.max_age if step_up is not None else idle,
        prompt="login" if step_up is not None else None,
        acr_values=step_up.acr_values if step_up is not None else None,
        scope=ADMIN_SCOPE if return_to.startswith(ADMIN_PREFIX) else "openid fhirUser",
    )
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, LOGIN_COOKIE, browser, max_age=LOGIN_SECONDS)
    return response


@router.get("/login")
def login(request: Request, return_to: str | None = None, issuer: str | None = None) -> Response:
    """Start a sign-in with the tenant's OpenID provider (a choice when there are several)."""
    reviewer = reviewer_of(request)
    target = safe_return(return_to)
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
        return render_page(reviewer, "choose.html", choices=choices, return_to=target)
    return begin_login(reviewer, request, issuer=issuer, return_to=target)


@router.get("/callback")
def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    """The identity provider's answer: exchange the code, verify, start a new session."""
    reviewer = reviewer_of(request)
    pending = reviewer.sessions.finish_login(state, request.cookies.get(LOGIN_COOKIE))
    if pending is not None and pending.launch_tenant is not None:
        request.state.frame_tenant = pending.launch_tenant  # answers shown in the EHR's frame
    if pending is None:
        return show_message(
            reviewer,
            400,
            "This sign-in cannot be completed",
            "It expired, was already used, or was started in another browser. Start again.",
            link=("/review/login", "Sign in"),
        )
    if error is not None or code is None:
        shown = error if error and re.fullmatch(r"[a-z_]{1,40}", error) else "no code"
        return show_message(
            reviewer,
            401,
            "Sign-in was not completed",
            f"The identity provider answered: {shown}.",
            link=(f"/review/login?return_to={pending.return_to}", "Try again"),
        )
    try:
        tokens, principal = _redeem(reviewer, request, pending, code)
        launch = context_of_sign_in(reviewer.application.settings, pending, tokens, principal)
    except _Refused as e:
        return show_message(reviewer, e.status, e.title, e.text, link=e.link)
    except SignInFailed as e:
        return show_message(reviewer, 403, "Sign-in refused", str(e))
    previous = reviewer.sessions.peek(request.cookies.get(SESSION_COOKIE))
    if previous is not None:
        reviewer.sessions.end(previous.id)  # a new id every time: no session fixation
        if pending.step_up and previous.subject != principal.subject:
            return show_message(
                reviewer,
                403,
                "Sign-in refused",
                "You re-authenticated as another person; sign in again from the start.",
                link=("/review/login", "Sign in"),
            )
    if launch is None and pending.step_up and previous is not None:
        # A step-up inside the EHR keeps the launch's patient and encounter.
        launch = LaunchContext(previous.launch_patient, previous.launch_encounter)
    session = reviewer.sessions.create(
        tenant=principal.tenant,
        subject=principal.subject,
        sid=principal.session_id,
        issuer=pending.issuer,
        access_token=tokens.access_token,
        launch=launch,
    )
    if pending.step_up:
        session.notify(
            "info",
            "You signed in again. Press the button once more to finish the action.",
        )
    response = RedirectResponse(pending.return_to, status_code=303)
    set_cookie(response, SESSION_COOKIE, session.id)
    delete_cookie(response, LOGIN_COOKIE)
    return response


class _Refused(Exception):
    def __init__(
        self, status: int, title: str, text: str, link: tuple[str, str] | None = None
    ) -> None:
        super().__init__(text)
        self.status, self.title, self.text, self.link = status, title, text, link


def _redeem(
    reviewer: Reviewer, request: Request, pending: PendingLogin, code: str
) -> tuple[Tokens, Principal]:
    """Exchange the code, check the ID token, verify the access token as the API would."""
    try:
        meta = reviewer.oidc.metadata(pending.issuer)
        tokens = reviewer.oidc.exchange(
            meta,
            code=code,
            redirect_uri=base_url(request) + "/review/callback",
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
            request_id=request_meta(request).request_id,
            route="/review/callback",
            method=request.method,
            peer=request.client.host if request.client else None,
        )
        raise _Refused(403, "Sign-in refused", f"The token was not accepted: {e}.") from e
    if claims.get("sub") != principal.subject or claims.get("sid") != principal.session_id:
        raise _Refused(403, "Sign-in refused", "The ID token and the access token disagree.")
    admin_page = pending.return_to.startswith(ADMIN_PREFIX)  # the admin report (web/admin.py)
    if principal.role is not (Role.ADMIN if admin_page else Role.CLINICIAN):
        # An administrator who came to the reviewer page is shown the way to their own page.
        onwards = (
            (f"/review/login?return_to={REPORT_PATH}", "Open the administrators' report")
            if principal.role is Role.ADMIN
            else None
        )
        raise _Refused(403, "Sign-in refused", "The reviewer page is for clinicians.", onwards)
    return tokens, principal


@router.post("/logout")
def logout(request: Request, posted: Annotated[Posted, Depends(read_logout_posted)]) -> Response:
    """Sign out of chartgate (the identity provider's own session is its business)."""
    reviewer = reviewer_of(request)
    session = posted.session
    if (
        session is None
        or not same_origin(request)
        or not session.csrf_ok(form_field(posted.form, "csrf_token"))
    ):
        return show_message(
            reviewer, 403, "Refused", "This sign-out did not come from your session."
        )
    reviewer.sessions.end(session.id)
    response = show_message(
        reviewer,
        200,
        "You are signed out",
        "Close this window, or sign in again.",
        link=("/review/login", "Sign in"),
    )
    delete_cookie(response, SESSION_COOKIE)
    return response
