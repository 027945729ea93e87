"""The sandbox EHR's FHIR R4 REST API, with vendor quirks and fault injection.

A test and demo tool, not a product FHIR server: it stores any JSON object whose
``resourceType`` matches the URL, validates almost nothing, trusts every caller (it never
checks a bearer token; ``token_expiry`` faults only imitate an expired one) and holds only
synthetic data. What it does follow is the REST contract chartgate's write-back depends on
(https://hl7.org/fhir/R4/http.html):

- create: ``POST [base]/Type`` → 201 with ``Location: [base]/Type/id/_history/vid``,
  ``ETag: W/"vid"``, ``Last-Modified``; conditional create with ``If-None-Exist`` (0 matches →
  201, 1 → 200 with the existing resource, more → 412) when the vendor profile supports it;
- read, vread (``/_history/vid``), history (``/_history``), search by ``identifier``,
  ``patient``, ``subject``, ``encounter`` and ``_id``;
- update: ``PUT [base]/Type/id`` with ``If-Match: W/"vid"``; a stale version → 412;
- ``Prefer: return=representation | minimal | OperationOutcome`` on create and update;
- every error as an ``OperationOutcome``.

Control endpoints (never faulted): ``GET``/``POST /__sandbox/faults`` (see ``faults.py`` for
the JSON) and ``POST /__sandbox/reset`` (delete all resources, re-seed, clear the faults).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import replace
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from chartgate.domain.fhir_codes import FHIR_JSON
from chartgate.sandbox.fault_injector import FaultInjector
from chartgate.sandbox.faults import FaultPlan, FaultSpecError
from chartgate.sandbox.search import subset
from chartgate.sandbox.seed import SEED_RESOURCES
from chartgate.sandbox.store import (
    FhirError,
    JsonObject,
    ResourceStore,
    StoredVersion,
    parse_search,
)
from chartgate.sandbox.vendors import (
    EPIC_REQUIRED_MISSING,
    ReturnPreference,
    VendorProfile,
    vendor_profile,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp

FHIR_BASE_PATH = "/fhir/R4"
MAX_BODY_BYTES = 16 * 1024 * 1024

RESOURCE_TYPES = frozenset(
    {
        "AllergyIntolerance",
        "AuditEvent",
        "Binary",
        "Composition",
        "Condition",
        "Device",
        "DocumentReference",
        "Encounter",
        "MedicationRequest",
        "Observation",
        "Organization",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
    }
)
"""Resource types the sandbox stores; any other type in a URL answers 404."""

_ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")  # https://hl7.org/fhir/R4/datatypes.html#id
_IF_MATCH_PATTERN = re.compile(r'^(?:W/)?"?([A-Za-z0-9\-.]{1,64}|\*)"?$')


class _FaultInjectingFastAPI(FastAPI):
    """A FastAPI app whose outermost layer is the fault injector.

    Outside Starlette's error middleware the injector receives the server's own ``send``,
    which it needs to abort a connection for ``commit_then_drop``.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """Wrap the usual middleware stack in the fault injector."""
        plan: FaultPlan = self.state.faults
        return FaultInjector(super().build_middleware_stack(), plan, path_prefix=FHIR_BASE_PATH)


def create_fhir_app(
    db_path: str,
    *,
    vendor: str | VendorProfile = "generic-r4",
    faults: FaultPlan | None = None,
) -> FastAPI:
    """Build the sandbox EHR: FHIR R4 at ``/fhir/R4`` plus the ``/__sandbox`` controls.

    Args:
        db_path: SQLite file holding the resources (created if missing, kept if present).
        vendor: A built-in vendor profile name (``generic-r4``, ``epic``) or a profile.
        faults: The fault plan to obey; a new empty one when None. Also at ``app.state.faults``.

    Returns:
        The ASGI app; ``app.state`` holds ``store``, ``vendor`` and ``faults``.

    Raises:
        ValueError: ``vendor`` names no built-in profile.
    """
    profile = vendor_profile(vendor)
    plan = faults if faults is not None else FaultPlan()
    store = ResourceStore(db_path, seed=SEED_RESOURCES)
    app = _FaultInjectingFastAPI(
        title="chartgate sandbox EHR",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    limiter = RateLimiter(profile)
    app.state.store = store
    app.state.vendor = profile
    app.state.faults = plan
    app.state.limiter = limiter
    app.include_router(_fhir_router(store, profile, limiter), prefix=FHIR_BASE_PATH)
    app.include_router(_control_router(store, plan, limiter))
    app.add_exception_handler(FhirError, _fhir_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error_handler)
    return app


class RateLimiter:
    """The vendor's rate limit: a token bucket over every FHIR request, and a traffic log.

    Over the limit, a request is answered ``429`` with ``Retry-After`` (and, for profiles that
    report quota, a ``RateLimit`` header), before anything is processed. The log of accepted
    request times lets a test measure what reached the EHR (``GET /__sandbox/traffic``).
    """

    def __init__(self, profile: VendorProfile) -> None:
        self._profile = profile
        self._lock = threading.Lock()
        self._tokens = float(profile.rate_limit_burst)
        self._updated = time.monotonic()
        self._accepted: deque[float] = deque(maxlen=100_000)
        self._refused = 0

    def __call__(self) -> None:
        """Take a token for one FHIR request, or refuse it with 429."""
        rate = self._profile.rate_limit_per_second
        with self._lock:
            now = time.monotonic()
            if rate is not None:
                burst = float(self._profile.rate_limit_burst)
                self._tokens = min(burst, self._tokens + (now - self._updated) * rate)
                self._updated = now
                if self._tokens < 1.0:
                    self._refused += 1
                    wait = (1.0 - self._tokens) / rate
                    raise FhirError(
                        429, "throttled", "Rate limit exceeded", headers=self._headers(wait)
                    )
                self._tokens -= 1.0
            self._accepted.append(now)

    def _headers(self, wait: float) -> dict[str, str]:
        seconds = max(1, int(wait + 0.999))
        headers = {"retry-after": str(seconds)}
        if self._profile.rate_limit_header:
            headers["ratelimit"] = f'"default";r=0;t={seconds}'
        return headers

    def traffic(self) -> dict[str, Any]:
        """Accepted and refused FHIR requests, and the most accepted in any one second."""
        with self._lock:
            times = list(self._accepted)
            refused = self._refused
        busiest, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= 1.0:
                start += 1
            busiest = max(busiest, end - start + 1)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return {
            "accepted": len(times),
            "refused": refused,
            "max_in_any_second": busiest,
            "span_seconds": round(span, 3),
        }

    def reset(self) -> None:
        """Forget the traffic and refill the bucket."""
        with self._lock:
            self._accepted.clear()
            self._refused = 0
            self._tokens = float(self._profile.rate_limit_burst)
            self._updated = time.monotonic()


def _fhir_router(  # noqa: C901 - one closure per interaction
    store: ResourceStore, profile: VendorProfile, limiter: RateLimiter
) -> APIRouter:
    router = APIRouter(dependencies=[Depends(limiter)])

    @router.get("/metadata")
    async def capabilities() -> Response:
        return _fhir_json(200, _capability_statement(profile))

    @router.get("/{resource_type}")
    async def search(resource_type: str, request: Request) -> Response:
        _check_type(resource_type)
        if not profile.identifier_search and "identifier" in request.query_params:
            raise FhirError(400, "not-supported", "Unknown search parameter: identifier")
        query = parse_search(request.query_params.multi_items())
        found = await run_in_threadpool(store.search, resource_type, query)
        if query.elements is not None:
            elements = query.elements
            found = [replace(f, resource=subset(f.resource, elements)) for f in found]
        return _fhir_json(200, _bundle("searchset", _base(request), found, str(request.url)))

    @router.post("/{resource_type}")
    async def create(resource_type: str, request: Request) -> Response:
        _check_type(resource_type)
        resource = _apply_vendor_rules(
            profile, await _resource_body(request, resource_type), creating=True
        )
        condition = request.headers.get("if-none-exist") if profile.conditional_create else None
        stored, created = await run_in_threadpool(
            store.create, resource_type, resource, if_none_exist=condition
        )
        return _write_answer(request, profile, stored, status=201 if created else 200)

    @router.get("/{resource_type}/{resource_id}")
    async def read(resource_type: str, resource_id: str, request: Request) -> Response:
        _check_type(resource_type, resource_id)
        stored = await run_in_threadpool(store.read, resource_type, resource_id)
        if request.headers.get("if-none-match") in {stored.etag, f'"{stored.version_id}"'}:
            return Response(status_code=304, headers=_version_headers(stored))
        return _fhir_json(200, stored.resource, _version_headers(stored))

    @router.put("/{resource_type}/{resource_id}")
    async def update(resource_type: str, resource_id: str, request: Request) -> Response:
        _check_type(resource_type, resource_id)
        only_new = request.headers.get("if-none-match", "").strip() == "*"
        resource = _apply_vendor_rules(
            profile,
            await _resource_body(request, resource_type),
            creating=only_new or "if-match" not in request.headers,
        )
        if resource.get("id") != resource_id:
            raise FhirError(
                400, "invalid", "The body's id must equal the URL's id", expression="id"
            )
        if_match = _if_match(request.headers.get("if-match"))
        # Race-free create with a client-assigned id: "If-None-Match: *" refuses (412) when
        # any version exists (FHIR-FACTS, "race-free create").
        if if_match is None and profile.require_if_match and not only_new:
            raise FhirError(400, "required", "This server requires If-Match on update")
        stored, created = await run_in_threadpool(
            store.update,
            resource_type,
            resource_id,
            resource,
            if_match=if_match,
            allow_create=profile.update_as_create,
            only_new=only_new,
        )
        return _write_answer(request, profile, stored, status=201 if created else 200)

    @router.get("/{resource_type}/{resource_id}/_history")
    async def history(resource_type: str, resource_id: str, request: Request) -> Response:
        _check_type(resource_type, resource_id)
        versions = await run_in_threadpool(store.history, resource_type, resource_id)
        return _fhir_json(200, _bundle("history", _base(request), versions, str(request.url)))

    @router.get("/{resource_type}/{resource_id}/_history/{version_id}")
    async def vread(
        resource_type: str, resource_id: str, version_id: str, request: Request
    ) -> Response:
        del request
        _check_type(resource_type, resource_id)
        stored = await run_in_threadpool(store.vread, resource_type, resource_id, version_id)
        return _fhir_json(200, stored.resource, _version_headers(stored))

    return router


def _control_router(store: ResourceStore, plan: FaultPlan, limiter: RateLimiter) -> APIRouter:
    router = APIRouter(prefix="/__sandbox")

    @router.get("/traffic")
    async def traffic() -> Response:
        return _json(200, limiter.traffic())

    @router.get("/faults")
    async def get_faults() -> Response:
        return _json(200, plan.to_json())

    @router.post("/faults")
    async def set_faults(request: Request) -> Response:
        try:
            plan.load_json(json.loads(await request.body() or b"{}"))
        except (ValueError, FaultSpecError) as e:
            raise FhirError(400, "invalid", f"Bad fault plan: {e}") from e
        return _json(200, plan.to_json())

    @router.post("/reset")
    async def reset() -> Response:
        await run_in_threadpool(store.reset)
        plan.clear()
        limiter.reset()
        return _json(200, {"reset": True})

    return router


def _check_type(resource_type: str, resource_id: str | None = None) -> None:
    if resource_type not in RESOURCE_TYPES:
        raise FhirError(404, "not-supported", f"Resource type {resource_type!r} is not supported")
    if resource_id is not None and not _ID_PATTERN.match(resource_id):
        raise FhirError(404, "not-found", "Not a valid resource id")


async def _resource_body(request: Request, resource_type: str) -> JsonObject:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise FhirError(413, "too-costly", "The resource is too large")
    try:
        resource = json.loads(raw)
    except ValueError as e:
        raise FhirError(400, "structure", "The body is not valid JSON") from e
    if not isinstance(resource, dict):
        raise FhirError(400, "structure", "The body must be a JSON object")
    if resource.get("resourceType") != resource_type:
        raise FhirError(
            400, "invalid", f"resourceType must be {resource_type}", expression="resourceType"
        )
    return resource


def _apply_vendor_rules(  # noqa: C901 - one check per vendor rule
    profile: VendorProfile, resource: JsonObject, *, creating: bool
) -> JsonObject:
    """Refuse or trim a write the way the vendor does."""
    resource_type = str(resource.get("resourceType"))
    if profile.writable_types is not None and resource_type not in profile.writable_types:
        raise FhirError(405, "not-supported", f"{resource_type} cannot be written here")
    if resource_type != "DocumentReference":
        return resource
    if profile.final_only and resource.get("docStatus") == "preliminary":
        raise FhirError(
            422, "business-rule", "Only final documents can be written", expression="docStatus"
        )
    context = resource.get("context")
    encounters = context.get("encounter") if isinstance(context, dict) else None
    if profile.requires_encounter and not encounters:
        raise FhirError(
            422,
            "required",
            "Valid encounter required",
            expression="DocumentReference.context.encounter",
            vendor_code=EPIC_REQUIRED_MISSING if profile.vendor_codes else None,
        )
    if creating and profile.authenticator_required and not resource.get("authenticator"):
        raise FhirError(
            422,
            "required",
            "authenticator (the Practitioner who signs) is required",
            expression="DocumentReference.authenticator",
        )
    content = resource.get("content")
    if not isinstance(content, list):
        return resource
    accepted = profile.accepted_attachment_types
    if accepted is not None:
        for index, item in enumerate(content):
            attachment = item.get("attachment") if isinstance(item, dict) else None
            content_type = attachment.get("contentType") if isinstance(attachment, dict) else None
            media_type = str(content_type or "").split(";")[0].strip().lower()
            if media_type not in accepted:
                raise FhirError(
                    422,
                    "not-supported",
                    f"Attachment content type {media_type or '(none)'!r} is not accepted; "
                    f"accepted: {', '.join(sorted(accepted))}",
                    expression=f"DocumentReference.content[{index}].attachment.contentType",
                )
    if profile.first_attachment_only and len(content) > 1:
        return {**resource, "content": content[:1]}
    return resource


def _if_match(value: str | None) -> str | None:
    """Return the bare version id of an ``If-Match`` header (``W/"3"`` → ``3``)."""
    if value is None:
        return None
    match = _IF_MATCH_PATTERN.match(value.strip())
    if match is None:
        raise FhirError(400, "invalid", 'If-Match must look like W/"<versionId>"')
    return match.group(1)


def _return_preference(request: Request, profile: VendorProfile) -> ReturnPreference:
    """Read ``Prefer: return=...`` (https://hl7.org/fhir/R4/http.html#ops)."""
    for token in re.split(r"[,;]", request.headers.get("prefer", "")):
        name, _, value = token.strip().partition("=")
        if name.strip().lower() == "return":
            choice = value.strip().strip('"')
            if choice in {"representation", "minimal", "OperationOutcome"}:
                return choice  # type: ignore[return-value]
    return profile.default_return


def _write_answer(
    request: Request, profile: VendorProfile, stored: StoredVersion, *, status: int
) -> Response:
    location = (
        stored.versioned_path
        if profile.relative_location
        else f"{_base(request)}/{stored.versioned_path}"
    )
    headers = {**_version_headers(stored), "location": location}
    preference = _return_preference(request, profile)
    if preference == "minimal":
        return Response(status_code=status, headers=headers)
    if preference == "OperationOutcome":
        verb = "Created" if status == 201 else "Stored"  # noqa: PLR2004 - HTTP 201
        outcome = _outcome("information", "informational", f"{verb} {stored.versioned_path}")
        return _fhir_json(status, outcome, headers)
    return _fhir_json(status, stored.resource, headers)


def _version_headers(stored: StoredVersion) -> dict[str, str]:
    return {
        "etag": stored.etag,
        "last-modified": format_datetime(stored.last_updated, usegmt=True),
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + FHIR_BASE_PATH


def _bundle(
    kind: Literal["searchset", "history"], base: str, versions: list[StoredVersion], self_url: str
) -> JsonObject:
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


def _capability_statement(profile: VendorProfile) -> JsonObject:
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
                    for resource_type in sorted(RESOURCE_TYPES)
                ],
            }
        ],
    }


def _outcome(
    severity: str, code: str, diagnostics: str, expression: str | None = None
) -> JsonObject:
    issue: JsonObject = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression is not None:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _fhir_json(status: int, body: JsonObject, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=json.dumps(body).encode(), status_code=status, headers=headers, media_type=FHIR_JSON
    )


def _json(status: int, body: Any) -> Response:  # noqa: ANN401 - any JSON value
    return Response(
        content=json.dumps(body).encode(), status_code=status, media_type="application/json"
    )


async def _fhir_error_handler(request: Request, exc: FhirError) -> Response:
    del request
    outcome = _outcome("error", exc.code, exc.diagnostics, exc.expression)
    if exc.vendor_code is not None:
        outcome["issue"][0]["details"] = {"coding": [{"code": exc.vendor_code}]}
    return _fhir_json(exc.status, outcome, exc.headers or None)


async def _http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    del request
    code = {404: "not-found", 405: "not-supported", 429: "throttled"}.get(
        exc.status_code, "processing"
    )
    return _fhir_json(
        exc.status_code, _outcome("error", code, str(exc.detail)), dict(exc.headers or {})
    )


async def _validation_error_handler(request: Request, exc: RequestValidationError) -> Response:
    del request, exc
    return _fhir_json(400, _outcome("error", "invalid", "The request is not valid"))


async def _unexpected_error_handler(request: Request, exc: Exception) -> Response:
    del request, exc
    return _fhir_json(500, _outcome("fatal", "exception", "Internal sandbox error"))
