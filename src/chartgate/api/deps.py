"""Request plumbing shared by the routes: who is calling, the request id, the body."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from chartgate.adapters.identity.failures import record_authn_failure
from chartgate.bootstrap import Application
from chartgate.domain.errors import AuthError, InputError, MissingCredentials, PayloadTooLarge
from chartgate.domain.principal import Principal
from chartgate.service.context import RequestMeta

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_\-:.]{1,200}$")
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$')
ID_PATTERN = r"^[A-Za-z0-9\-]{1,64}$"
"""Draft and write-back ids (UUIDs, or any id an operator imported): what a path may name."""
JSON_TYPES = frozenset({"application/json", "application/fhir+json"})

M = TypeVar("M", bound=BaseModel)


def application(request: Request) -> Application:
    """The wired application this FastAPI app was created with."""
    app: Application = request.app.state.chartgate
    return app


def request_id(request: Request) -> str:
    """The caller's X-Request-Id when well formed, else a new one (echoed in the answer)."""
    known: str | None = getattr(request.state, "request_id", None)
    if known is None:
        incoming = request.headers.get("x-request-id")
        known = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else str(uuid.uuid4())
        request.state.request_id = known
    return known


def bearer(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None."""
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _refuse_header(header: str | None) -> None:
    """No usable bearer token: 401 with the challenge RFC 6750 asks for."""
    if header is None:
        raise MissingCredentials("a bearer token is required", expression="Authorization")
    raise AuthError("a bearer token is required", expression="Authorization")


def principal(request: Request, app: Annotated[Application, Depends(application)]) -> Principal:
    """Verify the bearer token; the tenant comes from the token, never the URL or body.

    Every refusal is recorded as a security event (never the token), see ``failures``.
    """
    token = bearer(request.headers.get("authorization"))
    try:
        if token is None:
            _refuse_header(request.headers.get("authorization"))
        verified = app.authenticate(str(token))
    except AuthError as error:
        record_authn_failure(
            reason=error.message,
            token=token,
            request_id=request_id(request),
            route=getattr(request.scope.get("route"), "path", "unmatched"),
            method=request.method,
            peer=request.client.host if request.client else None,
        )
        raise
    request.state.principal = verified  # so a refusal can be recorded in its tenant's ledger
    return verified


def request_meta(request: Request) -> RequestMeta:
    """The request's id, for the audit trail."""
    return RequestMeta(request_id=request_id(request))


async def raw_body(request: Request, app: Annotated[Application, Depends(application)]) -> bytes:
    """Read the body, refusing anything over ``max_body_bytes`` before it is all in memory."""
    limit = app.settings.max_body_bytes
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in JSON_TYPES:
        raise HTTPException(415, "send JSON: application/json or application/fhir+json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is over the {limit}-byte limit", expression="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit", expression="body")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(model: type[M], body: bytes) -> M:
    """Parse JSON into ``model``; malformed JSON is a 400, schema errors a 422."""
    try:
        text = body.decode("utf-8")  # RFC 8259 §8.1: JSON between systems is UTF-8, nothing else
    except UnicodeDecodeError:
        raise RequestValidationError(
            [{"type": "utf8_invalid", "loc": ("body",), "msg": "body is not UTF-8 encoded"}]
        ) from None
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, huge ints
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "body is not valid JSON"}]
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {"type": err["type"], "loc": ("body", *err["loc"]), "msg": err["msg"]}
                for err in exc.errors(include_input=False)
            ]
        ) from None


def if_match_version(request: Request, *, required: bool) -> int | None:
    """The draft version named by ``If-Match`` (``W/"3"``, ``"3"`` or ``3``)."""
    header = request.headers.get("if-match")
    if header is None:
        if required:
            raise InputError(
                'If-Match is required: name the version you reviewed, e.g. W/"2"',
                expression="If-Match",
            )
        return None
    match = _IF_MATCH.fullmatch(header)
    if match is None:
        raise InputError('If-Match must name a draft version, e.g. W/"2"', expression="If-Match")
    return int(match.group(1))


def fingerprint(request: Request, body: bytes) -> str:
    """What makes two requests 'the same' for Idempotency-Key: method, path, If-Match, body."""
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.headers.get("if-match", "")):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return "sha256:" + digest.hexdigest()


AppDep = Annotated[Application, Depends(application)]
PrincipalDep = Annotated[Principal, Depends(principal)]
MetaDep = Annotated[RequestMeta, Depends(request_meta)]
BodyDep = Annotated[bytes, Depends(raw_body)]
DraftId = Annotated[str, Path(pattern=ID_PATTERN, description="A draft id.")]
WritebackId = Annotated[str, Path(pattern=ID_PATTERN, description="A write-back id.")]
