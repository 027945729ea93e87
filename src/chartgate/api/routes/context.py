"""Minimum-necessary context and consent (issue 17): thin over ``service/scribe_context.py``.

``POST /v1/scribe-sessions`` (clinician) opens a session; ``POST /v1/scribe-sessions/{id}/close``
(its scribe, or a clinician of the encounter) ends it early; ``GET /v1/context`` (scribe) reads
inside it; ``POST /v1/consents`` (scribe in its session, or clinician) records consent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chartgate.api import errors
from chartgate.api.deps import (
    AppDep,
    BodyDep,
    MetaDep,
    PrincipalDep,
    bearer,
    fingerprint,
    parse_body,
)
from chartgate.domain.consent import Consenter, ConsentMethod, RecordingScope
from chartgate.domain.errors import InputError
from chartgate.domain.minimum_necessary import QUERY_PARAMETERS, ContextRequest
from chartgate.domain.principal import Role
from chartgate.domain.scribe_session import MAX_SESSION_TTL
from chartgate.service.consent import ConsentSubmission
from chartgate.service.context import RequestMeta
from chartgate.service.idempotency import Answer
from chartgate.service.scribe_context import SessionRequest

router = APIRouter(prefix="/v1", tags=["context"])

PATIENT = r"^Patient/[A-Za-z0-9\-.]{1,64}$"
ENCOUNTER = r"^Encounter/[A-Za-z0-9\-.]{1,64}$"
REFERENCE = r"^[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}$"
SESSION = r"^[A-Za-z0-9\-]{1,64}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionBody(_In):
    """What a clinician names to open a scribe session."""

    patient: str = Field(pattern=PATIENT)
    encounter: str = Field(pattern=ENCOUNTER)
    template: str = Field(pattern=r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$", max_length=64)
    scribe_client: str = Field(min_length=1, max_length=200)
    ttl_seconds: int | None = Field(default=None, gt=0, le=int(MAX_SESSION_TTL.total_seconds()))


class ConsentBody(_In):
    """Consent evidence for one encounter."""

    patient: str = Field(pattern=PATIENT)
    encounter: str = Field(pattern=ENCOUNTER)
    consenter: Consenter
    method: ConsentMethod
    consented_at: AwareDatetime
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")
    scope: list[RecordingScope] = Field(min_length=1, max_length=3)
    captured_by: str = Field(min_length=1, max_length=200)
    session: str | None = Field(default=None, pattern=SESSION)


def _created(
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: RequestMeta,
    body: bytes,
    action: Callable[[], dict[str, Any]],
    *,
    operation: str,
    roles: tuple[Role, ...],
    status: int = 201,
) -> JSONResponse:
    """Run ``action`` under the request's Idempotency-Key (if any); ``status`` or the error."""

    def authorize(stored: Answer) -> None:
        del stored
        app.replays.authorize_replay(principal, roles=roles, operation=operation, meta=meta)

    (status, payload), replayed = app.idempotency.run(
        principal,
        request.headers.get("idempotency-key"),
        fingerprint(request, body),
        lambda: (status, action()),
        error_answer=errors.status_and_outcome,
        authorize=authorize,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    media = errors.FHIR_JSON if payload.get("resourceType") == "OperationOutcome" else None
    return JSONResponse(payload, status_code=status, headers=headers, media_type=media)


@router.post("/scribe-sessions", status_code=201)
def open_session(
    request: Request, app: AppDep, principal: PrincipalDep, meta: MetaDep, body: BodyDep
) -> JSONResponse:
    """Clinician: let one scribe client read this encounter's context until the session ends."""
    return _created(
        request, app, principal, meta, body,
        lambda: _open(app, principal, meta, body, bearer(request.headers.get("authorization"))),
        operation="open-session", roles=(Role.CLINICIAN,),
    )  # fmt: skip


def _open(
    app: AppDep, principal: PrincipalDep, meta: RequestMeta, body: bytes, token: str | None
) -> dict[str, Any]:
    parsed = parse_body(SessionBody, body)
    session = app.context.open_session(
        principal,
        SessionRequest(
            patient=parsed.patient,
            encounter=parsed.encounter,
            template=parsed.template,
            scribe_client=parsed.scribe_client,
            ttl=timedelta(seconds=parsed.ttl_seconds) if parsed.ttl_seconds else None,
        ),
        request_id=meta.request_id,
        token=token,
    )
    return {
        "id": session.id,
        "patient": session.patient,
        "encounter": session.encounter,
        "template": session.template,
        "scribe_client": session.scribe_client,
        "expires_at": _iso(session.expires_at),
    }


@router.post("/scribe-sessions/{session_id}/close")
def close_session(
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
    session_id: Annotated[str, Path(pattern=SESSION)],
) -> JSONResponse:
    """Scribe (its own session) or clinician of the encounter: end the session now.

    Every later context read or consent submission in it is refused; a delegated EHR token
    it held is forgotten. 404 for an unknown session, 409 for one that has already ended.
    """

    def close() -> dict[str, Any]:
        session = app.context.close_session(principal, session_id, request_id=meta.request_id)
        return {
            "id": session.id,
            "closed_at": _iso(session.closed_at or app.clock.now()),
            "closed_by": session.closed_by,
        }

    return _created(
        request, app, principal, meta, body, close,
        operation="close-session", roles=(Role.CLINICIAN, Role.SCRIBE), status=200,
    )  # fmt: skip


@router.get("/context")
def read_context(
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    session: Annotated[str, Query(pattern=SESSION)],
    resource_type: Annotated[
        str | None, Query(alias="type", pattern=r"^[A-Z][A-Za-z]{1,63}$")
    ] = None,
    reference: Annotated[str | None, Query(pattern=REFERENCE)] = None,
    patient: Annotated[str | None, Query(pattern=PATIENT)] = None,
    encounter: Annotated[str | None, Query(pattern=ENCOUNTER)] = None,
    category: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9\-.]{1,64}$")] = None,
    elements: Annotated[
        str | None,
        Query(alias="_elements", pattern=r"^[A-Za-z\[\]]{1,64}(?:,[A-Za-z\[\]]{1,64}){0,49}$"),
    ] = None,
    count: Annotated[int | None, Query(alias="_count", ge=1, le=10_000)] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
) -> JSONResponse:
    """Scribe: chart context inside your live session, narrowed by the template's read profile.

    Name ``type`` (a search: ``PatientQuery``) or ``reference`` (one resource: ``PatientRead``).
    Anything the profile does not allow is refused with 403 and recorded in the ledger.
    """
    unknown = tuple(sorted(set(request.query_params) - QUERY_PARAMETERS))
    context_request = ContextRequest(
        resource_type=resource_type,
        reference=reference,
        patient=patient,
        encounter=encounter,
        category=category,
        elements=tuple(elements.split(",")) if elements else None,
        count=count,
        since=since,
        until=until,
        unknown=unknown,
    )
    bundle = app.context.read(principal, session, context_request, request_id=meta.request_id)
    return JSONResponse(bundle, media_type="application/fhir+json")


@router.post("/consents", status_code=201)
def record_consent(
    request: Request, app: AppDep, principal: PrincipalDep, meta: MetaDep, body: BodyDep
) -> JSONResponse:
    """Scribe (in its session) or clinician: record consent to ambient documentation."""
    return _created(
        request, app, principal, meta, body, lambda: _consent(app, principal, meta, body),
        operation="record-consent", roles=(Role.SCRIBE, Role.CLINICIAN),
    )  # fmt: skip


def _consent(
    app: AppDep, principal: PrincipalDep, meta: RequestMeta, body: bytes
) -> dict[str, Any]:
    parsed = parse_body(ConsentBody, body)
    if len(set(parsed.scope)) != len(parsed.scope):
        raise InputError("scope names an item twice", expression="scope")
    record = app.consents.record(
        principal,
        ConsentSubmission(
            patient=parsed.patient,
            encounter=parsed.encounter,
            consenter=parsed.consenter,
            method=parsed.method,
            consented_at=parsed.consented_at,
            jurisdiction=parsed.jurisdiction,
            scope=tuple(parsed.scope),
            captured_by=parsed.captured_by,
            session=parsed.session,
        ),
        request_id=meta.request_id,
    )
    return {"id": record.id, "digest": record.digest, "recorded_at": _iso(record.recorded_at)}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
