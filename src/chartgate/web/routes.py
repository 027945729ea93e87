"""The reviewer page, mounted: ``GET /review/{draft_id}``, its forms, and sign-in.

Three routers over one shared plumbing (``reviewer.py``: state, session check, answers):
``signin.py`` (login, callback, logout through the tenant's OpenID provider),
``launch_routes.py`` (SMART EHR launch, the provider's logouts), ``review.py``
(the worklist, a draft's page, the write-back poll) and ``actions.py`` (the forms, each
calling the same use case the API calls). Sign-in is mounted first, so that
``/review/login`` is never taken for a draft id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from chartgate.bootstrap import Application
from chartgate.web import actions, admin, consent, launch_routes, review, security, signin
from chartgate.web.oidc import OidcClient
from chartgate.web.plain_words import when
from chartgate.web.reviewer import (
    HERE,
    BaseUrlMissing,
    Reviewer,
    show_message,
)
from chartgate.web.session import database_sessions


def install(app: FastAPI, application: Application) -> None:
    """Mount the reviewer page, its static files and its security headers on ``app``."""
    settings = application.settings
    reviewer = Reviewer(
        application=application,
        sessions=database_sessions(application),  # every replica knows every session
        oidc=OidcClient(settings.reviewer_client_id, http=application.identity_client),
        templates=jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        ),
        frames=security.FramePolicy(
            issuers=[i for t in settings.tenants for i in t.issuers],
            default=settings.reviewer_frame_ancestors,
            tenants={
                t.id: t.ehr_launch.frame_ancestors if t.ehr_launch else [] for t in settings.tenants
            },
        ),
    )
    reviewer.templates.globals["when"] = when  # times for the reader's zone (plain_words)
    app.state.reviewer = reviewer

    async def _no_base_url(_: Request, exc: Exception) -> Response:
        del exc
        return show_message(
            reviewer,
            503,
            "Sign-in is not configured",
            "This chartgate does not know its public address (reviewer_base_url).",
        )

    app.add_exception_handler(BaseUrlMissing, _no_base_url)
    app.mount("/review/static", StaticFiles(directory=HERE / "static"), name="review-static")
    # Sign-in first: ``/review/login`` must not be taken for a draft id.
    app.include_router(signin.router)
    app.include_router(admin.router)  # before /review/{draft_id}
    app.include_router(launch_routes.router)  # /review/launch, /review/logout/*: before drafts
    app.include_router(review.router)
    app.include_router(actions.router)
    app.include_router(consent.router)  # record consent to ambient documentation (issue 17)

    @app.middleware("http")
    async def _review_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        if request.url.path.startswith("/review"):
            own = response.headers.get("Content-Security-Policy")  # the admin page's stricter one
            # Who may frame this answer: the tenant it belongs to (set by the route), if any.
            response.headers.update(
                reviewer.frames.headers_for(
                    tenant=getattr(request.state, "frame_tenant", None),
                    origins=getattr(request.state, "frame_origins", ()),
                )
            )
            if own is not None:
                response.headers["Content-Security-Policy"] = own
        return response
