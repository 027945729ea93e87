"""Errors as FHIR OperationOutcome, from the one table in ``service/error_table.py``.

Routes never build error responses themselves; they raise domain errors and this module
shapes them as FHIR OperationOutcome (http://hl7.org/fhir/R4/operationoutcome.html) with
codes from http://hl7.org/fhir/R4/valueset-issue-type.html. Messages carry no PHI.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartgate.domain import errors as e
from chartgate.domain.findings import FINDING_SYSTEM
from chartgate.domain.validation import submission_finding_code
from chartgate.service.authz import OutsideBinding, StepUpRequired
from chartgate.service.error_table import status_and_code

FHIR_JSON = "application/fhir+json"


def operation_outcome(
    code: str, diagnostics: str, *, severity: str = "error", expression: str | None = None
) -> dict[str, Any]:
    """One-issue OperationOutcome."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def findings_outcome(error: e.ValidationFailed) -> dict[str, Any]:
    """A summary issue, then one issue per finding (code in ``details``, errors first)."""
    summary = operation_outcome("invalid", error.message, expression=error.expression)
    summary["issue"].extend(finding.as_issue() for finding in error.findings)
    return summary


def status_and_outcome(error: e.ChartgateError) -> tuple[int, dict[str, Any]]:
    """Look ``error`` up in the table."""
    if isinstance(error, e.ValidationFailed):
        return 422, findings_outcome(error)
    status, code = status_and_code(error)
    if status == 500:  # noqa: PLR2004 - never echo what we did not expect
        return 500, operation_outcome("exception", "internal error")
    return status, operation_outcome(code, error.message, expression=error.expression)


def headers_for(error: e.ChartgateError) -> dict[str, str]:
    """Extra headers: RFC 6750 / RFC 9470 ``WWW-Authenticate`` on 401s."""
    if isinstance(error, StepUpRequired):
        parts = [
            'Bearer error="insufficient_user_authentication"',
            'error_description="step-up authentication required"',
        ]
        if error.acr_values:
            parts.append(f'acr_values="{error.acr_values}"')
        if error.max_age:
            parts.append(f"max_age={error.max_age}")
        return {"WWW-Authenticate": ", ".join(parts)}
    if isinstance(error, e.MissingCredentials):
        return {"WWW-Authenticate": 'Bearer realm="chartgate"'}
    if isinstance(error, e.AuthError) and not isinstance(error, e.Forbidden):
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if isinstance(error, e.StoreUnavailable):
        return {"Retry-After": "1"}
    return {}


def error_response(error: e.ChartgateError) -> JSONResponse:
    """The HTTP response for a domain error."""
    status, body = status_and_outcome(error)
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers_for(error))


def record_refusal(request: Request, error: e.ChartgateError, status: int) -> None:
    """Record a verified caller's refusal in its tenant's ledger (``security.authz_denied``).

    Only when the token verified: an unverified token names no tenant we can trust, so
    those failures go to the application log, not to a tenant's ledger. Recording must
    never turn the refusal into a 500, so a failure here is logged and swallowed.
    """
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    try:
        request.app.state.chartgate.ledger.audit.record_denied(
            principal,
            request_id=getattr(request.state, "request_id", None),
            method=request.method,
            route=getattr(request.scope.get("route"), "path", "unmatched"),
            status=status,
            reason=error.message,
        )
    except Exception:
        logging.getLogger(__name__).exception("could not record a refusal in the ledger")


def allowed_methods(request: Request) -> list[str]:
    """Every method the API serves at this path (RFC 9110 15.5.6 ``Allow``).

    Starlette's own ``Allow`` names only the first route that matched the path; the
    published contract knows them all.
    """
    methods: set[str] = set()
    for template, item in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)), request.url.path):
            methods.update(method.upper() for method in item)
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into an OperationOutcome."""

    async def _domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.ChartgateError)
        response = error_response(exc)
        if isinstance(exc, e.Forbidden | OutsideBinding):
            await run_in_threadpool(record_refusal, request, exc, response.status_code)
        return response

    async def _validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if exc.errors() and all(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
            # A malformed id names nothing: answered as an unknown id, never echoed.
            return JSONResponse(
                operation_outcome("not-found", "not found", expression="id"),
                status_code=404,
                media_type=FHIR_JSON,
            )
        issues = []
        for err in exc.errors()[:20]:
            location = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            malformed_body = err.get("type") in {"json_invalid", "utf8_invalid"}
            finding = submission_finding_code(str(err.get("type", "")))
            issues.append(
                {
                    "severity": "error",
                    "code": "structure" if malformed_body else "invalid",
                    "details": {"coding": [{"system": FINDING_SYSTEM, "code": finding}]},
                    # The message names the rule broken, never the value sent.
                    "diagnostics": str(err.get("msg", "invalid")),
                    "expression": [location or "body"],
                }
            )
        malformed = any(err.get("type") in {"json_invalid", "utf8_invalid"} for err in exc.errors())
        return JSONResponse(
            {"resourceType": "OperationOutcome", "issue": issues},
            status_code=400 if malformed else 422,
            media_type=FHIR_JSON,
        )

    async def _http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # noqa: PLR2004 - Allow names every route of this path
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        code = {
            404: "not-found",
            405: "not-supported",
            413: "too-costly",
            415: "not-supported",
            431: "too-costly",
        }.get(exc.status_code, "processing")
        return JSONResponse(
            operation_outcome(code, str(exc.detail)),
            status_code=exc.status_code,
            media_type=FHIR_JSON,
            headers=headers,
        )

    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and (
            exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
        ):
            # The database went away outside a unit of work (a ledger-only write, a
            # store read): the same retryable answer as inside one.
            return error_response(
                e.StoreUnavailable("the database is unavailable; nothing was written, try again")
            )
        del exc  # never echo internals: they may hold PHI
        return JSONResponse(
            operation_outcome("exception", "internal error"), status_code=500, media_type=FHIR_JSON
        )

    app.add_exception_handler(e.ChartgateError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
