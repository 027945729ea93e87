"""Make ``/openapi.json`` true: bodies, answers, errors, headers and the bearer scheme.

Routes read their bodies themselves (streamed, byte-limited, fingerprinted for
Idempotency-Key), so FastAPI cannot see the request models; and every error is a FHIR
OperationOutcome, not FastAPI's validation error. ``install`` replaces ``app.openapi`` with
a builder that starts from FastAPI's document and then, per operation of ``OPERATIONS``:

* puts the request model in ``components/schemas`` (its ``$defs`` hoisted beside it, so
  every ``$ref`` resolves) and references it as ``application/json`` and
  ``application/fhir+json``;
* documents ``If-Match``, ``Idempotency-Key`` and ``X-Request-Id``, and the answer headers
  ``ETag``, ``Location``, ``Idempotent-Replayed``, ``X-Request-Id`` and ``WWW-Authenticate``;
* lists every error status the operation can answer, each an ``application/fhir+json``
  OperationOutcome;
* requires the ``bearer`` security scheme (RFC 6750; a JWT access token, RFC 9068).

A client generated from this document (e.g. ``openapi-python-client``) and schemathesis
run against it are how the tests keep it from drifting (``tests/contract``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from chartgate.api import models, writeback_models
from chartgate.domain.submission import DraftSubmission, VersionEdit

REF: Final = "#/components/schemas/{model}"
FHIR_JSON: Final = "application/fhir+json"
IDEMPOTENCY_KEY: Final = r"^[A-Za-z0-9_\-:.]{1,255}$"
IF_MATCH: Final = r'^\s*(W/)?"?[0-9]{1,9}"?\s*$'
REQUEST_ID: Final = r"^[A-Za-z0-9_\-:.]{1,200}$"

ERROR_TEXT: Final = {
    400: "The body is not JSON (or not UTF-8).",
    401: "No valid bearer token, or a stronger, more recent sign-in is needed (RFC 9470).",
    403: "The token's role, scopes or the policy do not allow this.",
    404: "No such id that you may see (also: outside your launch context or grants).",
    405: "Method not allowed (see Allow).",
    409: "The draft's state forbids this, or the same Idempotency-Key is still running.",
    412: "If-Match names a version that is no longer current.",
    413: "The body is over the size limit.",
    415: "The body is not application/json or application/fhir+json.",
    422: "The request is well-formed JSON but invalid (one issue per finding).",
    431: "A header line or the header block is too large.",
    502: "The EHR could not be reached or refused.",
    503: "The store could not be reached; nothing was half-written. Retry (Retry-After).",
}
READ_ERRORS: Final = (401, 403, 404, 405, 413, 422, 431, 503)
WRITE_ERRORS: Final = (400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 431, 502, 503)
OPEN_ERRORS: Final = (405, 413, 431)


@dataclass(frozen=True, slots=True)
class Operation:
    """What FastAPI cannot see of one operation."""

    answer: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    if_match: bool = False
    idempotent: bool = False
    etag: bool = False
    secured: bool = True
    also: tuple[int, ...] = ()  # error statuses beyond the read / write sets


def _approve_body() -> type[BaseModel]:
    from chartgate.api.routes.drafts import ApproveBody  # noqa: PLC0415 - avoid a cycle

    return ApproveBody


def _bodies() -> dict[str, type[BaseModel]]:
    from chartgate.api.routes.drafts import (  # noqa: PLC0415
        RebaseBody,
        ResolveBody,
        RetractBody,
    )

    return {"retract": RetractBody, "rebase": RebaseBody, "resolve": ResolveBody}


def _admin_bodies() -> dict[str, type[BaseModel]]:
    from chartgate.api.routes.admin import (  # noqa: PLC0415 - avoid a cycle
        EngageBody,
        ReleaseBody,
        WebhookBody,
    )

    return {"engage": EngageBody, "release": ReleaseBody, "webhook": WebhookBody}


def _context_bodies() -> dict[str, type[BaseModel]]:
    from chartgate.api.routes.context import ConsentBody, SessionBody  # noqa: PLC0415

    return {"session": SessionBody, "consent": ConsentBody}


def operations() -> dict[tuple[str, str], Operation]:
    """Every operation of the API, keyed by (method, path template)."""
    approve, bodies, admin = _approve_body(), _bodies(), _admin_bodies()
    return {
        # issue 14: worklists, kill switch, webhooks
        ("get", "/v1/drafts"): Operation(models.DraftWorklist),
        ("get", "/v1/writebacks"): Operation(models.WritebackWorklist),
        ("get", "/v1/admin/killswitches"): Operation(models.KillSwitches),
        ("post", "/v1/admin/killswitches"): Operation(
            models.KillSwitchEngaged, 200, admin["engage"], idempotent=True
        ),
        ("post", "/v1/admin/killswitches/{switch_id}/release"): Operation(
            models.KillSwitchReleased, 200, admin["release"], idempotent=True
        ),
        ("get", "/v1/admin/webhooks"): Operation(models.WebhookList),
        ("post", "/v1/admin/webhooks"): Operation(
            models.WebhookOne, 200, admin["webhook"], idempotent=True
        ),
        ("post", "/v1/admin/webhooks/{endpoint_id}/disable"): Operation(
            models.WebhookOne, idempotent=True
        ),
        ("get", "/v1/admin/webhooks/{endpoint_id}/deliveries"): Operation(models.WebhookDeliveries),
        # issue 17: minimum-necessary context and consent
        ("post", "/v1/scribe-sessions"): Operation(
            models.ScribeSession, 201, _context_bodies()["session"], idempotent=True
        ),
        ("post", "/v1/scribe-sessions/{session_id}/close"): Operation(
            models.ScribeSessionClosed, 200, idempotent=True
        ),
        ("get", "/v1/context"): Operation(models.ContextBundle, also=(502,)),
        ("post", "/v1/consents"): Operation(
            models.ConsentRecorded, 201, _context_bodies()["consent"], idempotent=True
        ),
        ("post", "/v1/drafts"): Operation(
            models.Draft, 201, DraftSubmission, idempotent=True, etag=True
        ),
        ("get", "/v1/drafts/{draft_id}"): Operation(models.Draft, etag=True),
        ("get", "/v1/drafts/{draft_id}/diff"): Operation(models.DiffWithFindings, also=(409,)),
        ("put", "/v1/drafts/{draft_id}"): Operation(
            models.Draft, 200, VersionEdit, if_match=True, idempotent=True, etag=True
        ),
        ("post", "/v1/drafts/{draft_id}/validate"): Operation(
            models.Validation, 200, approve, body_required=False, etag=True
        ),
        ("post", "/v1/drafts/{draft_id}/approve"): Operation(
            models.Queued, 202, approve, body_required=False, if_match=True, idempotent=True
        ),
        ("post", "/v1/drafts/{draft_id}/finalize"): Operation(models.Queued, 202, idempotent=True),
        ("post", "/v1/drafts/{draft_id}/discard"): Operation(
            models.Draft, 200, idempotent=True, etag=True
        ),
        ("post", "/v1/drafts/{draft_id}/rebase"): Operation(
            models.Draft, 200, bodies["rebase"], idempotent=True, etag=True
        ),
        ("get", "/v1/writebacks/{writeback_id}"): Operation(writeback_models.Writeback),
        ("post", "/v1/writebacks/{writeback_id}/amend"): Operation(
            models.Queued, 202, VersionEdit, if_match=True, idempotent=True
        ),
        ("post", "/v1/writebacks/{writeback_id}/retract"): Operation(
            models.Queued, 202, bodies["retract"], idempotent=True
        ),
        ("post", "/v1/writebacks/{writeback_id}/resolve"): Operation(
            models.Resolved, 200, bodies["resolve"], idempotent=True
        ),
        ("get", "/v1/audit/events"): Operation(models.AuditEvents),
        ("get", "/v1/audit/checkpoint"): Operation(models.Checkpoint),
        ("get", "/v1/audit/proof"): Operation(models.ConsistencyProof),
        ("get", "/v1/audit/proof/{seq}"): Operation(models.InclusionProof),
        ("get", "/metrics"): Operation(None),
        ("get", "/healthz"): Operation(models.Status, secured=False),
        ("get", "/readyz"): Operation(models.Readiness, secured=False),
        ("get", "/.well-known/chartgate-ledger-keys"): Operation(models.LedgerKeys, secured=False),
    }


def _component(schemas: dict[str, Any], model: type[BaseModel], mode: str) -> dict[str, str]:
    """Put ``model`` (and its ``$defs``) in ``components/schemas``; return a ``$ref`` to it."""
    schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _header(description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"description": description, "schema": schema}


def _parameter(name: str, description: str, pattern: str, *, required: bool) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def _errors(outcome: dict[str, str], statuses: tuple[int, ...]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in statuses:
        answer: dict[str, Any] = {
            "description": ERROR_TEXT[status],
            "content": {FHIR_JSON: {"schema": outcome}},
        }
        if status == 401:  # noqa: PLR2004
            answer["headers"] = {
                "WWW-Authenticate": _header("RFC 6750 / RFC 9470 Bearer challenge.")
            }
        if status == 405:  # noqa: PLR2004
            answer["headers"] = {"Allow": _header("The methods this path takes.")}
        if status == 503:  # noqa: PLR2004
            answer["headers"] = {"Retry-After": _header("Seconds to wait before retrying.")}
        answers[str(status)] = answer
    return answers


def _operation(
    item: dict[str, Any], spec: Operation, schemas: dict[str, Any], outcome: dict[str, str]
) -> None:
    """Rewrite one operation object of FastAPI's document."""
    item.pop("requestBody", None)
    parameters = [p for p in item.get("parameters", []) if p.get("in") != "header"]
    parameters.append(
        {
            "name": "X-Request-Id",
            "in": "header",
            "required": False,
            "description": "Your request id, echoed back when it matches "
            f"{REQUEST_ID}; otherwise a new one is made.",
            "schema": {"type": "string"},
        }
    )
    if spec.if_match:
        parameters.append(
            _parameter("If-Match", 'The version you reviewed, e.g. W/"2".', IF_MATCH, required=True)
        )
    if spec.idempotent:
        parameters.append(
            _parameter(
                "Idempotency-Key",
                "Repeat the request safely: the first answer is stored and replayed.",
                IDEMPOTENCY_KEY,
                required=False,
            )
        )
    item["parameters"] = parameters
    if spec.body is not None:
        ref = _component(schemas, spec.body, "validation")
        item["requestBody"] = {
            "required": spec.body_required,
            # application/fhir+json is accepted too; one media type keeps generated clients simple
            "content": {"application/json": {"schema": ref}},
        }
    headers = {"X-Request-Id": _header("The request's id (yours or a new one).")}
    if spec.etag:
        headers["ETag"] = _header('The current version, e.g. W/"2".')
    if spec.idempotent:
        headers["Idempotent-Replayed"] = _header("true when this is a stored answer.")
    if spec.status == 201:  # noqa: PLR2004
        headers["Location"] = _header("The new draft's path.")
    answer: dict[str, Any] = {"description": "Success.", "headers": headers}
    if spec.answer is not None:
        answer["content"] = {
            "application/json": {"schema": _component(schemas, spec.answer, "serialization")}
        }
    else:
        answer["content"] = {"text/plain": {"schema": {"type": "string"}}}
    responses = {str(spec.status): answer}
    if not spec.secured:
        responses.update(_errors(outcome, OPEN_ERRORS))
        if item.get("operationId", "").startswith("readyz"):
            responses["503"] = {
                "description": "A check failed (store, schema or keys); the body names it.",
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model="Readiness")}}
                },
            }
        item["security"] = []
    else:
        writes = spec.body is not None or spec.idempotent
        statuses = sorted({*(WRITE_ERRORS if writes else READ_ERRORS), *spec.also})
        responses.update(_errors(outcome, tuple(statuses)))
        item["security"] = [{"bearer": []}]
    item["responses"] = responses


def build(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``, made true (see the module docstring)."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas: dict[str, Any] = {}
    outcome = _component(schemas, models.OperationOutcome, "serialization")
    known = operations()
    served = {(m, p) for p, item in document["paths"].items() for m in item}
    if served - set(known):
        msg = f"operations missing from the contract: {sorted(served - set(known))}"
        raise LookupError(msg)
    for (method, path), spec in known.items():
        item = document["paths"].get(path, {}).get(method)
        if item is None:
            msg = f"the contract names {method.upper()} {path}, which the app does not serve"
            raise LookupError(msg)
        _operation(item, spec, schemas, outcome)
    components["schemas"] = dict(sorted(schemas.items()))
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token (RFC 9068) from one of your tenant's issuers.",
        }
    }
    return document


def install(app: FastAPI) -> None:
    """Serve the true document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
