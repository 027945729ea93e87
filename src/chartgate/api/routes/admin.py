"""Admin endpoints: the kill switch of the admin's own tenant.

A global switch (every tenant) is the deployment operator's: ``chartgate killswitch``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from chartgate.api import errors
from chartgate.api.deps import AppDep, BodyDep, MetaDep, PrincipalDep, fingerprint, parse_body
from chartgate.domain.killswitch import MAX_REASON, Mode, Scope
from chartgate.domain.principal import Role
from chartgate.service import authz

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class EngageBody(BaseModel):
    """``POST /v1/admin/killswitches``: what to stop, where, and why (no patient data)."""

    model_config = ConfigDict(extra="forbid")
    mode: Mode
    scope: Scope
    value: str | None = Field(default=None, max_length=200)
    reason: str = Field(min_length=1, max_length=MAX_REASON)


class ReleaseBody(BaseModel):
    """``POST /v1/admin/killswitches/{id}/release``: why it is safe to go on."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=MAX_REASON)


def _schema(model: Any) -> dict[str, Any]:  # noqa: ANN401 - a pydantic model class
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
    """Run an admin mutation under its Idempotency-Key (if any); a replay re-checks the role."""

    def authorize(stored: tuple[int, dict[str, Any]]) -> None:
        del stored
        authz.require_role(principal, Role.ADMIN)

    (status, payload), replayed = app.idempotency.run(
        principal,
        request.headers.get("idempotency-key"),
        fingerprint(request, body),
        action,
        error_answer=errors.status_and_outcome,
        authorize=authorize,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    media = errors.FHIR_JSON if payload.get("resourceType") == "OperationOutcome" else None
    return JSONResponse(payload, status_code=status, headers=headers, media_type=media)


@router.get("/killswitches")
def killswitch_status(
    app: AppDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JSONResponse:
    """Admin: the switches engaged for your tenant (its own and global ones), and history."""
    authz.require_role(principal, Role.ADMIN)
    engaged = app.killswitches.engaged(principal.tenant)
    history = app.killswitches.history(principal.tenant, limit=limit)
    return JSONResponse(
        {
            "engaged": [s.public() for s in engaged],
            "history": [s.public() for s in history],
        }
    )


@router.post("/killswitches", openapi_extra=_schema(EngageBody))
def engage(
    request: Request, app: AppDep, principal: PrincipalDep, meta: MetaDep, body: BodyDep
) -> JSONResponse:
    """Admin: engage a switch in your tenant; answers once it holds everywhere.

    ``created`` is false when the same switch was already engaged; for ``hold-write-back``
    the answer waits until every EHR request in flight has ended (``acknowledged``; false
    when that took longer than the drain limit: engage again until it is true).
    """

    def action() -> tuple[int, dict[str, Any]]:
        authz.require_role(principal, Role.ADMIN)
        parsed = parse_body(EngageBody, body)
        spec = app.killswitches.admin_spec(
            principal,
            scope=parsed.scope.value,
            value=parsed.value,
            mode=parsed.mode.value,
            reason=parsed.reason,
        )
        engaged = app.killswitches.engage(
            spec, actor=f"admin:{principal.subject}", request_id=meta.request_id
        )
        return 200, {
            "switch": engaged.switch.public(),
            "created": engaged.created,
            "acknowledged": engaged.acknowledged,
            "drained": engaged.drained,
            "still_in_flight": engaged.still_in_flight,
        }

    return _respond(app, request, principal, body, action)


@router.post("/killswitches/{switch_id}/release", openapi_extra=_schema(ReleaseBody))
def release(
    switch_id: str,
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    body: BodyDep,
) -> JSONResponse:
    """Admin: release a switch of your tenant; held write-backs resume, exactly once."""

    def action() -> tuple[int, dict[str, Any]]:
        authz.require_role(principal, Role.ADMIN)
        parsed = parse_body(ReleaseBody, body)
        switch = app.killswitches.release(
            switch_id,
            actor=f"admin:{principal.subject}",
            reason=parsed.reason,
            tenant=principal.tenant,
            request_id=meta.request_id,
        )
        return 200, {"switch": switch.public()}

    return _respond(app, request, principal, body, action)


class WebhookBody(BaseModel):
    """``POST /v1/admin/webhooks``: where to send, which secret (by name), which events."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=500)
    secret: str = Field(min_length=1, max_length=100, description="a name from webhook_secrets")
    events: list[str] | None = Field(default=None, max_length=20)


@router.post("/webhooks", openapi_extra=_schema(WebhookBody))
def register_webhook(
    request: Request, app: AppDep, principal: PrincipalDep, meta: MetaDep, body: BodyDep
) -> JSONResponse:
    """Admin: register a webhook endpoint for your tenant (events from now on)."""

    def action() -> tuple[int, dict[str, Any]]:
        authz.require_role(principal, Role.ADMIN)
        parsed = parse_body(WebhookBody, body)
        endpoint = app.webhooks.register(
            principal,
            url=parsed.url,
            secret=parsed.secret,
            events=parsed.events,
            request_id=meta.request_id,
        )
        return 200, {"webhook": endpoint.public()}

    return _respond(app, request, principal, body, action)


@router.get("/webhooks")
def list_webhooks(app: AppDep, principal: PrincipalDep) -> JSONResponse:
    """Admin: your tenant's webhook endpoints and where each stands."""
    return JSONResponse({"webhooks": [e.public() for e in app.webhooks.endpoints(principal)]})


@router.post("/webhooks/{endpoint_id}/disable")
def disable_webhook(
    endpoint_id: str, request: Request, app: AppDep, principal: PrincipalDep, body: BodyDep
) -> JSONResponse:
    """Admin: stop deliveries to an endpoint (its delivery log stays)."""

    def action() -> tuple[int, dict[str, Any]]:
        return 200, {"webhook": app.webhooks.disable(principal, endpoint_id).public()}

    return _respond(app, request, principal, body, action)


@router.get("/webhooks/{endpoint_id}/deliveries")
def webhook_deliveries(
    endpoint_id: str,
    app: AppDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """Admin: the endpoint's delivery log, newest first (event ids, statuses; no payloads)."""
    found = app.webhooks.deliveries(principal, endpoint_id, limit=limit)
    return JSONResponse({"deliveries": [d.public() for d in found]})
