"""The outermost ASGI layer: byte limits on headers and bodies, before any route runs.

* Every request body — API JSON and reviewer forms alike, ``Content-Length`` or chunked —
  is counted while it streams: a declared length over ``max_body_bytes`` is answered 413
  without reading a byte, and a body that grows past it ends the read that crosses the
  limit (the app sees the client leave) and is answered 413, so nothing is parsed whole.
* A header line over ``MAX_HEADER_BYTES`` or a header block over ``MAX_HEADERS_BYTES``
  is answered 431 (RFC 6585) before routing.
* Every answer carries ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import json
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_HEADER_BYTES: Final = 32 * 1024
MAX_HEADERS_BYTES: Final = 64 * 1024
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
        await _Exchange(self.max_body_bytes, receive, send).run(self.app, scope)


class _Exchange:
    """One request: counts the body as the app reads it, and marks every answer nosniff.

    When the body crosses the limit the app is told the client left (``http.disconnect``),
    whatever it was about to answer is dropped, and a 413 OperationOutcome is sent instead.
    """

    def __init__(self, limit: int, receive: Receive, send: Send) -> None:
        self.limit, self._receive, self._send = limit, receive, send
        self.seen = 0
        self.exceeded = False
        self.started = False

    async def run(self, app: ASGIApp, scope: Scope) -> None:
        try:
            await app(scope, self.receive, self.send)
        except Exception:
            if not self.exceeded:
                raise
        if self.exceeded and not self.started:
            await _refuse(
                self._send, 413, "too-costly", f"body is over the {self.limit}-byte limit"
            )

    async def receive(self) -> Message:
        if self.exceeded:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.exceeded = True
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded and not self.started:
            return  # the app's answer to a body it never got whole: replaced by the 413
        if message["type"] == "http.response.start":
            self.started = True
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                headers.append((b"x-content-type-options", b"nosniff"))
            message = {**message, "headers": headers}
        await self._send(message)


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
