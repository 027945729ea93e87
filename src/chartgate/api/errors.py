"""The ONE error table: exception -> HTTP status -> OperationOutcome issue code.

Routes never build error responses themselves; they raise domain errors and this module
shapes them as FHIR OperationOutcome (http://hl7.org/fhir/R4/operationoutcome.html) with
codes from http://hl7.org/fhir/R4/valueset-issue-type.html. Messages carry no PHI.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartgate.domain import errors as e
from chartgate.service.authz import StepUpRequired

FHIR_JSON = "application/fhir+json"

# Most specific first: the first matching row wins.
ERROR_TABLE: tuple[tuple[type[e.ChartgateError], int, str], ...] = (
    (StepUpRequired, 401, "login"),
    (e.Forbidden, 403, "forbidden"),
    (e.AuthError, 401, "login"),
    (e.PolicyDenied, 403, "business-rule"),
    (e.PayloadTooLarge, 413, "too-costly"),
    (e.IdempotencyMismatch, 422, "conflict"),
    (e.PolicyFileError, 422, "invalid"),
    (e.InputError, 422, "invalid"),
    (e.NotFound, 404, "not-found"),
    (e.VersionMismatch, 412, "conflict"),
    (e.IdempotencyInFlight, 409, "conflict"),
    (e.StateConflict, 409, "business-rule"),
    (e.IntegrityError, 409, "conflict"),
    (e.EhrError, 502, "transient"),
)


def operation_outcome(
    code: str, diagnostics: str, *, severity: str = "error", expression: str | None = None
) -> dict[str, Any]:
    """One-issue OperationOutcome."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def status_and_outcome(error: e.ChartgateError) -> tuple[int, dict[str, Any]]:
    """Look ``error`` up in the table."""
    for kind, status, code in ERROR_TABLE:
        if isinstance(error, kind):
            return status, operation_outcome(code, error.message, expression=error.expression)
    return 500, operation_outcome("exception", "internal error")


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
    if isinstance(error, e.AuthError) and not isinstance(error, e.Forbidden):
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return {}


def error_response(error: e.ChartgateError) -> JSONResponse:
    """The HTTP response for a domain error."""
    status, body = status_and_outcome(error)
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers_for(error))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into an OperationOutcome."""

    async def _domain(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.ChartgateError)
        return error_response(exc)

    async def _validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        issues = []
        for err in exc.errors()[:20]:
            location = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            issues.append(
                {
                    "severity": "error",
                    "code": "invalid" if err.get("type") != "json_invalid" else "structure",
                    # The message names the rule broken, never the value sent.
                    "diagnostics": str(err.get("msg", "invalid")),
                    "expression": [location or "body"],
                }
            )
        malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
        return JSONResponse(
            {"resourceType": "OperationOutcome", "issue": issues},
            status_code=400 if malformed else 422,
            media_type=FHIR_JSON,
        )

    async def _http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not-found", 405: "not-supported", 413: "too-costly"}.get(
            exc.status_code, "processing"
        )
        return JSONResponse(
            operation_outcome(code, str(exc.detail)),
            status_code=exc.status_code,
            media_type=FHIR_JSON,
        )

    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        del exc  # never echo internals: they may hold PHI
        return JSONResponse(
            operation_outcome("exception", "internal error"), status_code=500, media_type=FHIR_JSON
        )

    app.add_exception_handler(e.ChartgateError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
