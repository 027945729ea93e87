"""The reviewer page inside the EHR: SMART EHR launch and the identity provider's logouts.

``GET /review/launch?iss=…&launch=…`` starts a SMART App Launch 2.2 EHR launch
(``smart_launch``): the sign-in then comes back to the same ``/review/callback`` as a
standalone one, and the session carries the launch's patient and encounter.

``POST /review/logout/backchannel`` (OpenID Connect Back-Channel Logout 1.0) and
``GET /review/logout/frontchannel`` (Front-Channel Logout 1.0) end the sessions of one sign-in
at the identity provider when the clinician signs out of the EHR. The first is authenticated
by the signed logout token; the second names the issuer and the sign-in's ``sid`` (an
unguessable value only the identity provider and chartgate know), so neither needs a cookie —
a cookie would not even reach them from the provider's page.
"""

from __future__ import annotations

import base64
import json
import re
import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from chartgate.web import smart_launch
from chartgate.web.cookies import set_cookie
from chartgate.web.oidc import SignInFailed
from chartgate.web.reviewer import Reviewer, base_url, read_form, reviewer_of, show_message
from chartgate.web.security import origin_of
from chartgate.web.session import LOGIN_COOKIE, LOGIN_SECONDS

router = APIRouter(prefix="/review", include_in_schema=False)
_SID = re.compile(r"^[\x21-\x7e]{1,256}$")


@router.get("/launch")
def launch(request: Request, iss: str | None = None, launch: str | None = None) -> Response:
    """An EHR opens the page: find the tenant by ``iss``, then sign in with the launch."""
    reviewer = reviewer_of(request)
    try:
        tenant = smart_launch.tenant_for(reviewer.application.settings, iss, launch)
    except smart_launch.LaunchRefused as e:
        return show_message(reviewer, 400, "This launch cannot start", str(e))
    request.state.frame_tenant = tenant.id  # the EHR may frame even the error pages
    try:
        found = smart_launch.discover(reviewer.oidc, tenant, iss or "", launch or "")
    except SignInFailed as e:
        return show_message(reviewer, 502, "EHR launch is not available", str(e))
    browser = secrets.token_urlsafe(32)
    pending = reviewer.sessions.begin_login(
        browser_secret=browser,
        issuer=found.meta.issuer,
        return_to="/review/",
        step_up=False,
        launch_tenant=tenant.id,
    )
    url = reviewer.oidc.authorization_url(
        found.meta,
        redirect_uri=base_url(request) + "/review/callback",
        state=pending.state,
        nonce=pending.nonce,
        verifier=pending.verifier,
        # No max_age: inside the EHR, the EHR's own session and screen lock govern, and a
        # launch is single sign-on by design (SMART App Launch 2.2 §2.0.5).
        max_age=None,
        launch=(found.launch, found.iss),
        extra_scopes=tuple(tenant.ehr_launch.scopes if tenant.ehr_launch else ()),
    )
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, LOGIN_COOKIE, browser, max_age=LOGIN_SECONDS)
    return response


def _unverified_issuer(token: str) -> str | None:
    """The ``iss`` a JWT claims, read only to pick the keys that will verify it."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 16 * 1024:  # noqa: PLR2004
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None


def _end_backchannel(reviewer: Reviewer, token: str) -> bool:
    """Verify a logout token from a configured issuer and end the sessions it names."""
    issuer = _unverified_issuer(token)
    if issuer is None or issuer not in reviewer.issuers():
        return False
    try:
        meta = reviewer.oidc.metadata(issuer)
        claims = reviewer.oidc.logout_token_claims(meta, token)
    except SignInFailed:
        return False
    reviewer.sessions.end_for(issuer, sid=claims.get("sid"), subject=claims.get("sub"))
    return True


@router.post("/logout/backchannel")
async def backchannel_logout(request: Request) -> Response:
    """The identity provider says a sign-in ended: end chartgate's sessions of it."""
    reviewer = reviewer_of(request)
    form = await read_form(request)
    token = form.get("logout_token")
    if not isinstance(token, str) or not await run_in_threadpool(_end_backchannel, reviewer, token):
        return JSONResponse(
            {"error": "invalid_request", "error_description": "the logout token is not valid"},
            status_code=400,
        )
    return Response(status_code=200)


@router.get("/logout/frontchannel")
def frontchannel_logout(
    request: Request, iss: str | None = None, sid: str | None = None
) -> Response:
    """The identity provider's sign-out page loads this in an iframe: end that sign-in here."""
    reviewer = reviewer_of(request)
    if iss is None or iss not in reviewer.issuers() or sid is None or not _SID.fullmatch(sid):
        return show_message(
            reviewer, 400, "Refused", "This sign-out names no sign-in of chartgate."
        )
    request.state.frame_origins = [origin_of(iss)]
    reviewer.sessions.end_for(iss, sid=sid, subject=None)
    return show_message(reviewer, 200, "You are signed out", "chartgate ended this sign-in.")
