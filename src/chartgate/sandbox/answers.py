"""How the sandbox EHR answers: FHIR JSON, Bundles, its CapabilityStatement, OperationOutcomes.

Split from ``sandbox/fhir.py`` (the routes): everything here shapes an answer, nothing decides
one. Errors of every kind leave as an ``OperationOutcome`` (https://hl7.org/fhir/R4/http.html).
"""

from __future__ import annotations

import json
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartgate.domain.fhir_codes import FHIR_JSON
from chartgate.sandbox.store import FhirError, JsonObject, StoredVersion

if TYPE_CHECKING:
    from chartgate.sandbox.vendors import VendorProfile

__all__ = [
    "bundle_of",
    "capability_statement",
    "fhir_response",
    "install_error_handlers",
    "json_response",
    "operation_outcome",
    "version_headers",
]


def version_headers(stored: StoredVersion) -> dict[str, str]:
    """ETag and Last-Modified of one stored version."""
    return {
        "etag": stored.etag,
        "last-modified": format_datetime(stored.last_updated, usegmt=True),
    }


def bundle_of(
    kind: Literal["searchset", "history"], base: str, versions: list[StoredVersion], self_url: str
) -> JsonObject:
    """A searchset or history Bundle of stored versions."""
    entries: list[JsonObject] = []
    for stored in versions:
        entry: JsonObject = {
            "fullUrl": f"{base}/{stored.resource_type}/{stored.resource_id}",
            "resource": stored.resource,
        }
        if kind == "searchset":
            entry["search"] = {"mode": "match"}
        else:
            first = stored.version_id == 1
            entry["request"] = {
                "method": "POST" if first else "PUT",
                "url": stored.resource_type
                if first
                else f"{stored.resource_type}/{stored.resource_id}",
            }
            entry["response"] = {
                "status": "201 Created" if first else "200 OK",
                "etag": stored.etag,
                "lastModified": stored.resource["meta"]["lastUpdated"],
            }
        entries.append(entry)
    return {
        "resourceType": "Bundle",
        "type": kind,
        "total": len(entries),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    }


def capability_statement(profile: VendorProfile, resource_types: frozenset[str]) -> JsonObject:
    """The sandbox's CapabilityStatement: what it serves, as the vendor profile says."""
    interactions = [
        {"code": c}
        for c in ("read", "vread", "update", "history-instance", "create", "search-type")
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-24",
        "kind": "instance",
        "software": {"name": f"chartgate sandbox EHR ({profile.name})"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": resource_type,
                        "interaction": interactions,
                        "versioning": "versioned-update",
                        "readHistory": True,
                        "updateCreate": profile.update_as_create,
                        "conditionalCreate": profile.conditional_create,
                        "searchParam": [
                            {"name": "_id", "type": "token"},
                            {"name": "identifier", "type": "token"},
                            {"name": "patient", "type": "reference"},
                            {"name": "subject", "type": "reference"},
                            {"name": "encounter", "type": "reference"},
                        ],
                    }
                    for resource_type in sorted(resource_types)
                ],
            }
        ],
    }


def operation_outcome(
    severity: str, code: str, diagnostics: str, expression: str | None = None
) -> JsonObject:
    """A one-issue OperationOutcome."""
    """A one-issue OperationOutcome."""
    issue: JsonObject = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression is not None:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def fhir_response(status: int, body: JsonObject, headers: dict[str, str] | None = None) -> Response:
    """A FHIR JSON answer."""
    return Response(
        content=json.dumps(body).encode(), status_code=status, headers=headers, media_type=FHIR_JSON
    )


def json_response(status: int, body: Any) -> Response:  # noqa: ANN401 - any JSON value
    """A plain JSON answer (the control endpoints)."""
    return Response(
        content=json.dumps(body).encode(), status_code=status, media_type="application/json"
    )


async def _fhir_error_handler(request: Request, exc: FhirError) -> Response:
    """A plain JSON answer (the control endpoints)."""
    del request
    outcome = operation_outcome("error", exc.code, exc.diagnostics, exc.expression)
    if exc.vendor_code is not None:
        outcome["issue"][0]["details"] = {"coding": [{"code": exc.vendor_code}]}
    return fhir_response(exc.status, outcome, exc.headers or None)


async def _http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    del request
    code = {404: "not-found", 405: "not-supported", 429: "throttled"}.get(
        exc.status_code, "processing"
    )
    return fhir_response(
        exc.status_code, operation_outcome("error", code, str(exc.detail)), dict(exc.headers or {})
    )


async def _validation_error_handler(request: Request, exc: RequestValidationError) -> Response:
    del request, exc
    return fhir_response(400, operation_outcome("error", "invalid", "The request is not valid"))


async def _unexpected_error_handler(request: Request, exc: Exception) -> Response:
    del request, exc
    return fhir_response(500, operation_outcome("fatal", "exception", "Internal sandbox error"))


def install_error_handlers(app: FastAPI) -> None:
    """Every error the sandbox answers is an OperationOutcome (never a traceback)."""
    app.add_exception_handler(FhirError, _fhir_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error_handler)
