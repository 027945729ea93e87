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
from dataclasses import replace
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from chartgate.sandbox.answers import (
    bundle_of,
    capability_statement,
    fhir_response,
    install_error_handlers,
    json_response,
    operation_outcome,
    version_headers,
)
from chartgate.sandbox.fault_injector import FaultInjector
from chartgate.sandbox.faults import FaultPlan, FaultSpecError
from chartgate.sandbox.rate_limiter import RateLimiter
from chartgate.sandbox.search import subset
from chartgate.sandbox.seed import SEED_RESOURCES
from chartgate.sandbox.store import (
    FhirError,
    JsonObject,
    ResourceStore,
    StoredVersion,
    parse_search,
)
from chartgate.sandbox.transactions import header_provenance, run_transaction
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
        "Location",
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
    install_error_handlers(app)
    return app


def _fhir_router(  # noqa: C901 - one closure per interaction
    store: ResourceStore, profile: VendorProfile, limiter: RateLimiter
) -> APIRouter:
    router = APIRouter(dependencies=[Depends(limiter)])

    @router.get("/metadata")
    async def capabilities() -> Response:
        return fhir_response(200, capability_statement(profile, RESOURCE_TYPES))

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
        return fhir_response(200, bundle_of("searchset", _base(request), found, str(request.url)))

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
        provenance = request.headers.get("x-provenance")
        await run_in_threadpool(
            header_provenance, store, profile, provenance, stored, made_version=created
        )
        return _write_answer(request, profile, stored, status=201 if created else 200)

    @router.post("")
    async def transaction(request: Request) -> Response:
        bundle = await _resource_body(request, "Bundle")

        def rules(resource: JsonObject, creating: bool) -> JsonObject:
            return _apply_vendor_rules(profile, resource, creating=creating)

        answer = await run_in_threadpool(run_transaction, store, profile, bundle, rules)
        return fhir_response(200, answer)

    @router.get("/{resource_type}/{resource_id}")
    async def read(resource_type: str, resource_id: str, request: Request) -> Response:
        _check_type(resource_type, resource_id)
        stored = await run_in_threadpool(store.read, resource_type, resource_id)
        if request.headers.get("if-none-match") in {stored.etag, f'"{stored.version_id}"'}:
            return Response(status_code=304, headers=version_headers(stored))
        return fhir_response(200, stored.resource, version_headers(stored))

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
        provenance = request.headers.get("x-provenance")
        await run_in_threadpool(
            header_provenance, store, profile, provenance, stored, made_version=True
        )
        return _write_answer(request, profile, stored, status=201 if created else 200)

    @router.get("/{resource_type}/{resource_id}/_history")
    async def history(resource_type: str, resource_id: str, request: Request) -> Response:
        _check_type(resource_type, resource_id)
        versions = await run_in_threadpool(store.history, resource_type, resource_id)
        return fhir_response(200, bundle_of("history", _base(request), versions, str(request.url)))

    @router.get("/{resource_type}/{resource_id}/_history/{version_id}")
    async def vread(
        resource_type: str, resource_id: str, version_id: str, request: Request
    ) -> Response:
        del request
        _check_type(resource_type, resource_id)
        stored = await run_in_threadpool(store.vread, resource_type, resource_id, version_id)
        return fhir_response(200, stored.resource, version_headers(stored))

    return router


def _control_router(store: ResourceStore, plan: FaultPlan, limiter: RateLimiter) -> APIRouter:
    router = APIRouter(prefix="/__sandbox")

    @router.get("/traffic")
    async def traffic() -> Response:
        return json_response(200, limiter.traffic())

    @router.get("/faults")
    async def get_faults() -> Response:
        return json_response(200, plan.to_json())

    @router.post("/faults")
    async def set_faults(request: Request) -> Response:
        try:
            plan.load_json(json.loads(await request.body() or b"{}"))
        except (ValueError, FaultSpecError) as e:
            raise FhirError(400, "invalid", f"Bad fault plan: {e}") from e
        return json_response(200, plan.to_json())

    @router.post("/reset")
    async def reset() -> Response:
        await run_in_threadpool(store.reset)
        plan.clear()
        limiter.reset()
        return json_response(200, {"reset": True})

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
    headers = {**version_headers(stored), "location": location}
    preference = _return_preference(request, profile)
    if preference == "minimal":
        return Response(status_code=status, headers=headers)
    if preference == "OperationOutcome":
        verb = "Created" if status == 201 else "Stored"  # noqa: PLR2004 - HTTP 201
        outcome = operation_outcome(
            "information", "informational", f"{verb} {stored.versioned_path}"
        )
        return fhir_response(status, outcome, headers)
    return fhir_response(status, stored.resource, headers)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + FHIR_BASE_PATH
