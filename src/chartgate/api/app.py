"""``create_app(application)``: the FastAPI app over a wired chartgate."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from chartgate import __version__
from chartgate.api import contract, errors
from chartgate.api.guard import RequestGuard
from chartgate.api.routes import admin, audit, context, drafts, ops, worklists
from chartgate.bootstrap import Application, observe
from chartgate.domain.errors import ChartgateError
from chartgate.observability import Metrics, current_trace_id, log_request
from chartgate.web import routes as reviewer


def create_app(application: Application) -> FastAPI:
    """Build the HTTP API; every route under /v1 authenticates.

    No interactive docs (``/docs``, ``/redoc``): they load scripts from a CDN. The contract
    is ``/openapi.json``; open it in any OpenAPI viewer or generate a client from it.
    """
    app = FastAPI(
        title="chartgate",
        version=__version__,
        description="Safe, approved, exactly-once write-back of AI-scribe notes to FHIR R4.",
        docs_url=None,
        redoc_url=None,
        # Operation ids are the route functions' names (submit_draft, approve, ...): what a
        # generated client calls its functions.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.chartgate = application
    app.state.metrics = observe(application)
    errors.install(app)
    _count_refusals(app)
    app.include_router(drafts.router)
    app.include_router(ops.router)
    app.include_router(audit.router)
    app.include_router(admin.router)  # kill switch (issue 14)
    app.include_router(worklists.router)  # GET /v1/drafts, GET /v1/writebacks (issue 14)
    app.include_router(context.router)  # scribe sessions, context, consent (issue 17)
    reviewer.install(app, application)  # the reviewer page, /review (issue 7)
    contract.install(app)  # /openapi.json: request and answer models, errors, bearer scheme
    application.tracing.instrument_app(app)  # only when an exporter is configured

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics: Metrics = request.app.state.metrics
        metrics.requests.labels(template, request.method, f"{response.status_code // 100}xx").inc()
        elapsed = time.perf_counter() - started
        metrics.latency.labels(template).observe(elapsed)
        request_id = getattr(request.state, "request_id", None)
        principal = getattr(request.state, "principal", None)
        log_request(
            route=template,
            method=request.method,
            status=response.status_code,
            duration_s=elapsed,
            request_id=request_id,
            tenant=getattr(principal, "tenant", None),
            trace_id=current_trace_id(),
        )
        if request_id:
            response.headers["X-Request-Id"] = request_id
        response.headers["Cache-Control"] = "no-store"
        return response

    # Outermost: size limits on headers and bodies before any route (or form parser) runs.
    app.add_middleware(RequestGuard, max_body_bytes=application.settings.max_body_bytes)
    return app


def _count_refusals(app: FastAPI) -> None:
    """Count policy and validation refusals by rule before the error table answers."""
    answer = app.exception_handlers[ChartgateError]

    async def counted(request: Request, exc: Exception) -> Response:
        request.app.state.metrics.count_refusal(exc)
        response = answer(request, exc)
        if inspect.isawaitable(response):
            return await response
        return response

    app.exception_handlers[ChartgateError] = counted
