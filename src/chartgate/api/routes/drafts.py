"""Scribe and clinician endpoints for drafts: thin over the handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from chartgate.api import errors
from chartgate.api.deps import (
    AppDep,
    BodyDep,
    MetaDep,
    PrincipalDep,
    fingerprint,
    if_match_version,
    parse_body,
)
from chartgate.api.schemas import draft_json, writeback_json
from chartgate.domain.submission import DraftSubmission, VersionEdit

router = APIRouter(prefix="/v1", tags=["drafts"])


def _body_schema(model: Any) -> dict[str, Any]:  # noqa: ANN401 - a pydantic model class
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _respond(
    app: AppDep,
    request: Request,
    principal: PrincipalDep,
    body: bytes,
    action: Callable[[], tuple[int, dict[str, Any]]],
) -> JSONResponse:
    key = request.headers.get("idempotency-key")
    (status, payload), replayed = app.idempotency.run(
        principal,
        key,
        fingerprint(request, body),
        action,
        error_answer=errors.status_and_outcome,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if "current_version" in payload:
        headers["ETag"] = f'W/"{payload["current_version"]}"'
    media = errors.FHIR_JSON if payload.get("resourceType") == "OperationOutcome" else None
    return JSONResponse(payload, status_code=status, headers=headers, media_type=media)


@router.post("/drafts", status_code=201, openapi_extra=_body_schema(DraftSubmission))
def submit_draft(
    request: Request, app: AppDep, principal: PrincipalDep, meta: MetaDep, body: BodyDep
) -> JSONResponse:
    """Scribe: submit a draft note for one encounter (nothing is written to the chart)."""

    def action() -> tuple[int, dict[str, Any]]:
        submission = parse_body(DraftSubmission, body)
        draft = app.handlers.submit_draft(principal, submission, meta)
        return 201, draft_json(draft)

    return _respond(app, request, principal, body, action)


@router.get("/drafts/{draft_id}")
def get_draft(draft_id: str, app: AppDep, principal: PrincipalDep, meta: MetaDep) -> JSONResponse:
    """Clinician: the draft with its versions, approvals and write-backs."""
    view = app.handlers.view_draft(principal, draft_id, meta)
    return JSONResponse(
        draft_json(view.draft, view), headers={"ETag": f'W/"{view.draft.current.number}"'}
    )


@router.get("/drafts/{draft_id}/diff")
def get_diff(
    draft_id: str,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    from_version: int = 1,
    to_version: int | None = None,
) -> JSONResponse:
    """Clinician: what changed between two versions (default: the AI's draft to now)."""
    view = app.handlers.view_draft(principal, draft_id, meta)
    return JSONResponse(view.draft.diff(to_version=to_version, from_version=from_version).as_dict())


@router.put("/drafts/{draft_id}", openapi_extra=_body_schema(VersionEdit))
def save_version(
    draft_id: str,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: Save draft — a new version; If-Match names the version edited."""

    def action() -> tuple[int, dict[str, Any]]:
        expected = if_match_version(request, required=True)
        edit = parse_body(VersionEdit, body)
        draft = app.handlers.save_version(
            principal, draft_id, expected_version=int(expected or 0), edit=edit, meta=meta
        )
        return 200, draft_json(draft)

    return _respond(app, request, principal, body, action)


@router.post("/drafts/{draft_id}/approve", status_code=202)
def approve(
    draft_id: str,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: Approve for chart — freezes the version named by If-Match, queues the write."""

    def action() -> tuple[int, dict[str, Any]]:
        expected = if_match_version(request, required=True)
        draft, record = app.handlers.approve(
            principal, draft_id, expected_version=int(expected or 0), meta=meta
        )
        return 202, {"draft": draft_json(draft), "writeback": writeback_json(record)}

    return _respond(app, request, principal, body, action)


@router.post("/drafts/{draft_id}/finalize", status_code=202)
def finalize(
    draft_id: str,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: Finalize note — step-up required; the chart's note becomes final."""

    def action() -> tuple[int, dict[str, Any]]:
        draft, record = app.handlers.finalize(principal, draft_id, meta)
        return 202, {"draft": draft_json(draft), "writeback": writeback_json(record)}

    return _respond(app, request, principal, body, action)


@router.post("/drafts/{draft_id}/discard")
def discard(
    draft_id: str,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: discard a draft that was never sent."""

    def action() -> tuple[int, dict[str, Any]]:
        return 200, draft_json(app.handlers.discard(principal, draft_id, meta))

    return _respond(app, request, principal, body, action)


@router.get("/writebacks/{writeback_id}")
def get_writeback(writeback_id: str, app: AppDep, principal: PrincipalDep) -> JSONResponse:
    """The status of one write-back: state, the EHR's resource id and version, Provenance."""
    return JSONResponse(writeback_json(app.handlers.writeback(principal, writeback_id)))
