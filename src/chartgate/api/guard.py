"""The outermost ASGI layer: byte limits on headers and bodies, before any route runs.

* Every request body — API JSON and reviewer forms alike, ``Content-Length`` or chunked —
  is counted while it streams: a declared length over ``max_body_bytes`` is answered 413
  without reading a byte, and a body that grows past it fails the read that crosses the
  limit (``PayloadTooLarge``, a 413 OperationOutcome), so nothing is parsed whole first.
* A header line over ``MAX_HEADER_BYTES`` or a header block over ``MAX_HEADERS_BYTES``
  is answered 431 (RFC 6585) before routing.
* Every answer carries ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import json
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chartgate.domain.errors import PayloadTooLarge

MAX_HEADER_BYTES: Final = 8 * 1024
MAX_HEADERS_BYTES: Final = 32 * 1024
_FHIR_JSON: Final = b"application/fhir+json"


class RequestGuard:
    """Refuse oversized headers and bodies; add ``nosniff`` to every response."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request's size limits, then run the app with a counting ``receive``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        sizes = [len(name) + len(value) + 4 for name, value in headers]
        if any(size > MAX_HEADER_BYTES for size in sizes) or sum(sizes) > MAX_HEADERS_BYTES:
            await _refuse(send, 431, "too-costly", "request header fields are too large")
            return
        declared = dict(headers).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(
                send, 413, "too-costly", f"body is over the {self.max_body_bytes}-byte limit"
            )
            return
        await self.app(scope, _counting(receive, self.max_body_bytes), _nosniff(send))


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"body is over the {limit}-byte limit", expression="body")
        return message

    return counted


def _nosniff(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                headers.append((b"x-content-type-options", b"nosniff"))
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def _refuse(send: Send, status: int, code: str, diagnostics: str) -> None:
    body = json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", _FHIR_JSON),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
