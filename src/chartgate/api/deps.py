"""Request plumbing shared by the routes: who is calling, the request id, the body."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from chartgate.bootstrap import Application
from chartgate.domain.errors import AuthError, InputError, MissingCredentials, PayloadTooLarge
from chartgate.domain.principal import Principal
from chartgate.service.handlers import RequestMeta

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_\-:.]{1,200}$")
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$')

M = TypeVar("M", bound=BaseModel)


def application(request: Request) -> Application:
    """The wired application this FastAPI app was created with."""
    app: Application = request.app.state.chartgate
    return app


def principal(request: Request, app: Annotated[Application, Depends(application)]) -> Principal:
    """Verify the bearer token; the tenant comes from the token, never the URL or body."""
    header = request.headers.get("authorization")
    if header is None:
        raise MissingCredentials("a bearer token is required", expression="Authorization")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("a bearer token is required", expression="Authorization")
    verified = app.authenticate(token.strip())
    request.state.principal = verified  # so a refusal can be recorded in its tenant's ledger
    return verified


def request_meta(request: Request) -> RequestMeta:
    """The caller's X-Request-Id when well formed, else a new one (echoed in the answer)."""
    incoming = request.headers.get("x-request-id")
    request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else str(uuid.uuid4())
    request.state.request_id = request_id
    return RequestMeta(request_id=request_id)


async def raw_body(request: Request, app: Annotated[Application, Depends(application)]) -> bytes:
    """Read the body, refusing anything over ``max_body_bytes`` before it is all in memory."""
    limit = app.settings.max_body_bytes
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
