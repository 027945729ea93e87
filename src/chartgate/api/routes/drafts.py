"""Scribe and clinician endpoints for drafts: thin over the drafting and approval use cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chartgate.api import errors
from chartgate.api.deps import (
    AppDep,
    BodyDep,
    DraftId,
    MetaDep,
    PrincipalDep,
    WritebackId,
    fingerprint,
    if_match_version,
    parse_body,
)
from chartgate.api.schemas import draft_json, writeback_json
from chartgate.domain.drafts import Draft
from chartgate.domain.principal import Role
from chartgate.domain.submission import DraftSubmission, VersionEdit, check_baseline
from chartgate.service.context import RequestMeta
from chartgate.service.idempotency import Answer
from chartgate.service.ports import WritebackRecord
from chartgate.service.resolution import CHART_RESOURCE

router = APIRouter(prefix="/v1", tags=["drafts"])
# Who may have a stored answer replayed: the roles the operation itself allows.
REPLAY_ROLES: dict[str, tuple[Role, ...]] = {
    "submit": (Role.SCRIBE,),
    "resolve": (Role.CLINICIAN, Role.ADMIN),
}
MAX_VERSION = 999_999_999  # If-Match takes at most nine digits: no version is higher


def _respond(
    app: AppDep,
    request: Request,
    principal: PrincipalDep,
    meta: RequestMeta,
    body: bytes,
    effect: Callable[[], Any],
    present: Callable[[Any], Answer],
    *,
    operation: str,
    draft_id: str | None = None,
    writeback_id: str | None = None,
) -> JSONResponse:
    """Run ``effect`` under the request's Idempotency-Key (if any); ``present`` shapes its answer.

    The use case stores ``present(result)`` as the key's answer in the transaction of its
    effect (``service/idempotency.py::settle``), so a committed effect always has its answer.

    A stored answer is replayed only after the same role and binding checks as the request
    itself, and the replay is recorded in the ledger (``request.replayed``).
    """
    roles = REPLAY_ROLES.get(operation, (Role.CLINICIAN,))

    def authorize(stored: Answer) -> None:
        created = stored[1].get("id") if operation == "submit" and stored[0] == 201 else None  # noqa: PLR2004
        app.replays.authorize_replay(
            principal,
            roles=roles,
            operation=operation,
            meta=meta,
            draft_id=str(created) if created else draft_id,
            writeback_id=writeback_id,
        )

    key = request.headers.get("idempotency-key")
    (status, payload), replayed = app.idempotency.run_effect(
        principal,
        key,
        fingerprint(request, body),
        effect,
        present,
        error_answer=errors.status_and_outcome,
        authorize=authorize,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if "current_version" in payload:
        headers["ETag"] = f'W/"{payload["current_version"]}"'
    if status == 201 and "id" in payload:  # noqa: PLR2004
        headers["Location"] = f"/v1/drafts/{payload['id']}"
    media = errors.FHIR_JSON if payload.get("resourceType") == "OperationOutcome" else None
    return JSONResponse(payload, status_code=status, headers=headers, media_type=media)


def _draft_answer(status: int) -> Callable[[Draft], Answer]:
    """The answer of a use case that returns the draft."""
    return lambda draft: (status, draft_json(draft))


def _queued(result: tuple[Draft, WritebackRecord]) -> Answer:
    """The answer of a use case that queued a write-back: 202 with the draft and the write-back."""
    draft, record = result
    return 202, {"draft": draft_json(draft), "writeback": writeback_json(record)}


@router.post("/drafts", status_code=201)
def submit_draft(
    request: Request, app: AppDep, principal: PrincipalDep, meta: MetaDep, body: BodyDep
) -> JSONResponse:
    """Scribe: submit a draft note for one encounter (nothing is written to the chart)."""

    def effect() -> Draft:
        return app.drafting.submit_draft(principal, parse_body(DraftSubmission, body), meta)

    return _respond(
        app, request, principal, meta, body, effect, _draft_answer(201), operation="submit"
    )


@router.get("/drafts/{draft_id}")
def get_draft(
    draft_id: DraftId, app: AppDep, principal: PrincipalDep, meta: MetaDep
) -> JSONResponse:
    """Clinician: the draft with its versions, approvals and write-backs."""
    view = app.drafting.view_draft(principal, draft_id, meta)
    return JSONResponse(
        draft_json(view.draft, view), headers={"ETag": f'W/"{view.draft.current.number}"'}
    )


@router.get("/drafts/{draft_id}/diff")
def get_diff(
    draft_id: DraftId,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    from_version: Annotated[int, Query(ge=1, le=MAX_VERSION)] = 1,
    to_version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> JSONResponse:
    """Clinician: what changed between two versions (default: the AI's draft to now).

    A version the draft does not have is a 409 (``business-rule``).
    """
    view = app.drafting.view_draft(principal, draft_id, meta)
    diff = view.draft.diff(to_version=to_version, from_version=from_version).as_dict()
    # The current version's findings, beside what changed, for the reviewer.
    return JSONResponse({**diff, "findings": [f.as_dict() for f in view.findings]})


@router.put("/drafts/{draft_id}")
def save_version(
    draft_id: DraftId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: Save draft — a new version; If-Match names the version edited."""

    def effect() -> Draft:
        expected = if_match_version(request, required=True)
        edit = parse_body(VersionEdit, body)
        return app.drafting.save_version(
            principal, draft_id, expected_version=int(expected or 0), edit=edit, meta=meta
        )

    return _respond(
        app, request, principal, meta, body, effect, _draft_answer(200),
        operation="save", draft_id=draft_id,
    )  # fmt: skip


class ApproveBody(BaseModel):
    """Optional body of approve and validate: the warnings the clinician acknowledges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acknowledge: tuple[Annotated[str, Field(min_length=3, max_length=300)], ...] = Field(
        default=(), max_length=200, description="Warnings overridden, as 'code@location'."
    )
    sign: bool = Field(
        default=False,
        description=(
            "Approve: approve and sign in one act (step-up sign-in), written as final. Required"
            " where the EHR takes signed notes only (vendor profile accepts_preliminary = no)."
        ),
    )


def _approve_body(body: bytes) -> ApproveBody:
    """An empty body acknowledges nothing (the body stays part of the idempotency key)."""
    return ApproveBody() if not body.strip() else parse_body(ApproveBody, body)


@router.post("/drafts/{draft_id}/validate")
def validate(
    draft_id: DraftId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: dry run — every finding of the current version, and whether approve would pass."""
    del request
    acknowledged = _approve_body(body).acknowledge
    draft, verdict = app.drafting.validate(principal, draft_id, meta, acknowledged)
    return JSONResponse(
        {
            "draft_id": draft.id,
            "version": draft.current.number,
            "accepted": verdict.accepted,
            "findings": [f.as_dict() for f in verdict.findings],
            "blocking": [f.key for f in verdict.blocking],
            "acknowledged": list(verdict.acknowledged),
        },
        headers={"ETag": f'W/"{draft.current.number}"'},
    )


@router.post("/drafts/{draft_id}/approve", status_code=202)
def approve(
    draft_id: DraftId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: Approve for chart — freezes the version named by If-Match, queues the write."""

    def effect() -> tuple[Draft, WritebackRecord]:
        expected = if_match_version(request, required=True)
        return app.approvals.approve(
            principal,
            draft_id,
            expected_version=int(expected or 0),
            meta=meta,
            acknowledged=_approve_body(body).acknowledge,
            sign=_approve_body(body).sign,
        )

    return _respond(
        app, request, principal, meta, body, effect, _queued,
        operation="approve", draft_id=draft_id,
    )  # fmt: skip


@router.post("/drafts/{draft_id}/finalize", status_code=202)
def finalize(
    draft_id: DraftId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: Finalize note — step-up required; the chart's note becomes final."""
    return _respond(
        app, request, principal, meta, body,
        lambda: app.approvals.finalize(principal, draft_id, meta), _queued,
        operation="finalize", draft_id=draft_id,
    )  # fmt: skip


@router.post("/drafts/{draft_id}/discard")
def discard(
    draft_id: DraftId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: discard a draft that was never sent."""
    return _respond(
        app, request, principal, meta, body,
        lambda: app.drafting.discard(principal, draft_id, meta), _draft_answer(200),
        operation="discard", draft_id=draft_id,
    )  # fmt: skip


@router.get("/writebacks/{writeback_id}")
def get_writeback(
    writeback_id: WritebackId, app: AppDep, principal: PrincipalDep, meta: MetaDep
) -> JSONResponse:
    """The status of one write-back: state, the EHR's resource id and version, Provenance."""
    return JSONResponse(writeback_json(app.resolutions.writeback(principal, writeback_id, meta)))


class RetractBody(BaseModel):
    """``POST /v1/writebacks/{id}/retract``: why (a code, never free text)."""

    model_config = ConfigDict(extra="forbid")
    reason: Literal["wrong-patient", "wrong-encounter", "clinical-error", "duplicate", "other"]


class RebaseBody(BaseModel):
    """``POST /v1/drafts/{id}/rebase``: the chart versions the new version is made against."""

    model_config = ConfigDict(extra="forbid")
    baseline: dict[str, str] = Field(max_length=50)

    @field_validator("baseline")
    @classmethod
    def _shape(cls, value: dict[str, str]) -> dict[str, str]:
        return check_baseline(value)


@router.post("/writebacks/{writeback_id}/amend", status_code=202)
def amend(
    writeback_id: WritebackId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: amend a committed note — a new version replaces it (relatesTo replaces)."""

    def effect() -> tuple[Draft, WritebackRecord]:
        expected = if_match_version(request, required=True)
        edit = parse_body(VersionEdit, body)
        return app.approvals.amend(
            principal, writeback_id, expected_version=int(expected or 0), edit=edit, meta=meta
        )

    return _respond(
        app, request, principal, meta, body, effect, _queued,
        operation="amend", writeback_id=writeback_id,
    )  # fmt: skip


@router.post("/writebacks/{writeback_id}/retract", status_code=202)
def retract(
    writeback_id: WritebackId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: retract a committed note (step-up) — it becomes entered-in-error."""

    def effect() -> tuple[Draft, WritebackRecord]:
        reason = parse_body(RetractBody, body).reason
        return app.approvals.retract(principal, writeback_id, reason=reason, meta=meta)

    return _respond(
        app, request, principal, meta, body, effect, _queued,
        operation="retract", writeback_id=writeback_id,
    )  # fmt: skip


class ResolveBody(BaseModel):
    """``POST /v1/writebacks/{id}/resolve``: a person's decision on a parked write-back."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["resend", "landed", "retry-follow-up"]
    document: str | None = Field(
        default=None,
        max_length=200,
        pattern=CHART_RESOURCE,
    )


@router.post("/writebacks/{writeback_id}/resolve")
def resolve(
    writeback_id: WritebackId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician or admin: decide a write-back that needs a person (or a refused follow-up)."""

    def effect() -> WritebackRecord:
        decision = parse_body(ResolveBody, body)
        return app.resolutions.resolve(
            principal,
            writeback_id,
            action=decision.action,
            document=decision.document,
            meta=meta,
        )

    return _respond(
        app, request, principal, meta, body, effect,
        lambda record: (200, {"writeback": writeback_json(record)}),
        operation="resolve", writeback_id=writeback_id,
    )  # fmt: skip


@router.post("/drafts/{draft_id}/rebase")
def rebase(
    draft_id: DraftId,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Clinician: after a conflict, a new version against the chart's new baseline."""

    def effect() -> Draft:
        baseline = parse_body(RebaseBody, body).baseline
        return app.drafting.rebase(principal, draft_id, baseline=baseline, meta=meta)

    return _respond(
        app, request, principal, meta, body, effect, _draft_answer(200),
        operation="rebase", draft_id=draft_id,
    )  # fmt: skip
