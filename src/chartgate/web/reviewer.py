"""The reviewer page's shared plumbing: its state, the session check, forms and answers.

Used by the sign-in (``signin.py``), the pages (``review.py``) and the forms (``actions.py``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from chartgate.bootstrap import Application
from chartgate.domain.errors import (
    AuthError,
    PayloadTooLarge,
)
from chartgate.domain.principal import Principal
from chartgate.service.context import RequestMeta
from chartgate.web.oidc import OidcClient
from chartgate.web.security import FramePolicy
from chartgate.web.session import (
    SESSION_COOKIE,
    ReviewerSession,
    SessionEnded,
    Sessions,
)
from chartgate.web.smart_launch import with_launch

HERE = Path(__file__).parent
DRAFT_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")
_RETURN_TO = re.compile(r"^/review/(?:[A-Za-z0-9\-]{1,64}|admin/report)$")


@dataclass
class Reviewer:
    """The reviewer page's own state: sessions, the OpenID client, templates, headers."""

    application: Application
    sessions: Sessions  # the database store in serve (ADR 0020)
    oidc: OidcClient
    templates: jinja2.Environment
    frames: FramePolicy

    def issuers(self) -> list[str]:
        """Every configured issuer, each once."""
        return sorted({i for t in self.application.settings.tenants for i in t.issuers})


# -- plumbing ---------------------------------------------------------------------------


def reviewer_of(request: Request) -> Reviewer:
    """The reviewer page's state, installed on the app by ``routes.install``."""
    found: Reviewer = request.app.state.reviewer
    return found


async def read_form(request: Request) -> FormData:
    """The posted form, read only now (after the session check), within ``max_body_bytes``.

    The declared length is checked here; a chunked body is counted as it streams by the
    API's ``RequestGuard``, which fails the read that crosses the limit.
    """
    limit = reviewer_of(request).application.settings.max_body_bytes
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


async def read_posted(request: Request) -> Posted:
    """Check the session first; a post without one is answered without reading its body."""
    reviewer = reviewer_of(request)
    try:
        session, principal = await run_in_threadpool(authenticated, reviewer, request)
    except SessionEnded:
        return Posted(None, None, FormData())
    return Posted(session, principal, await read_form(request))


async def read_logout_posted(request: Request) -> Posted:
    """Sign-out needs a session (not a valid token): the form is read only when there is one."""
    reviewer = reviewer_of(request)
    session = reviewer.sessions.peek(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return Posted(None, None, FormData())
    return Posted(session, None, await read_form(request))


PostedDep = Annotated[Posted, Depends(read_posted)]


def request_meta(request: Request) -> RequestMeta:
    """A new request id for the audit trail (kept on the request for the logs)."""
    request_id = str(uuid.uuid4())
    request.state.request_id = request_id
    return RequestMeta(request_id=request_id)


def render_page(
    reviewer: Reviewer,
    template: str,
    status: int = 200,
    **context: Any,  # noqa: ANN401 - template variables
) -> HTMLResponse:
    """One of the page's templates, rendered with ``context``."""
    page = reviewer.templates.get_template(template).render(**context)
    return HTMLResponse(page, status_code=status)


def show_message(
    reviewer: Reviewer,
    status: int,
    title: str,
    text: str,
    *,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    """A page with one message (and an optional link onwards)."""
    return render_page(reviewer, "message.html", status, title=title, text=text, link=link)


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class BaseUrlMissing(Exception):
    """``reviewer_base_url`` is unset and the request did not come to a loopback address."""


def base_url(request: Request) -> str:
    """Our public URL: ``reviewer_base_url``; derived from ``Host`` only on loopback (dev).

    A redirect URI or origin taken from an attacker-chosen ``Host`` header would send sign-in
    codes elsewhere, so outside a developer's machine the setting is required.
    """
    configured = reviewer_of(request).application.settings.reviewer_base_url
    if configured:
        return configured
    if request.url.hostname not in _LOOPBACK:
        raise BaseUrlMissing
    return f"{request.url.scheme}://{request.url.netloc}"


def safe_return(value: str | None) -> str:
    """Only our own review pages: never an open redirect."""
    return value if value is not None and _RETURN_TO.fullmatch(value) else "/review/"


def authenticated(
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
    request.state.frame_tenant = session.tenant  # the tenant's EHR may frame this answer
    return session, with_launch(principal, session)


def same_origin(request: Request) -> bool:
    """A form post must come from our own pages (defence in depth beside the CSRF token)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == base_url(request)


def to_login(return_to: str) -> RedirectResponse:
    """Send the browser to sign in, then back to ``return_to``."""
    return RedirectResponse(f"/review/login?return_to={return_to}", status_code=303)


def session_ended_page(reviewer: Reviewer, return_to: str) -> HTMLResponse:
    """The answer to a post without a live session: nothing changed, sign in again."""
    return show_message(
        reviewer,
        401,
        "Your session has ended",
        "Nothing was changed. Sign in again to continue; your session ends after a "
        "period without activity and after a fixed time.",
        link=(f"/review/login?return_to={return_to}", "Sign in again"),
    )


def form_field(form: FormData, name: str) -> str | None:
    """One text field of a posted form (None when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else None
