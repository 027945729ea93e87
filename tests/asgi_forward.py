"""Test EHR proxies in ASGI: read a request, forward it to a FHIR server, relay its answer.

Used by the integration tests that put a proxy in front of the sandbox EHR to hold, delay or
record requests (``test_kill_switch_in_flight.py``, ``test_worker_concurrency.py``).
"""

from __future__ import annotations

from typing import Any

import httpx

_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


async def read_body(receive: Any) -> bytes:
    """The whole request body, over as many messages as it came in."""
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def forward(
    scope: dict[str, Any],
    body: bytes,
    upstream: str,
    send: Any,
) -> None:
    """Send the request to ``upstream`` (its ``/fhir`` prefix dropped) and relay the answer."""
    headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k != b"host"]
    query = scope.get("query_string", b"").decode()
    url = f"{upstream}{scope['path'].removeprefix('/fhir')}"
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.request(
            scope["method"], url + (f"?{query}" if query else ""), headers=headers, content=body
        )
    await send(
        {
            "type": "http.response.start",
            "status": answer.status_code,
            "headers": [
                (k.encode(), v.encode())
                for k, v in answer.headers.items()
                if k.lower() not in _HOP_BY_HOP
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer.content})
