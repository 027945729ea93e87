"""The ASGI layer that applies a ``FaultPlan`` to the sandbox's FHIR requests.

The plan (what goes wrong next) is in ``faults.py``; this module serves it: an error answer,
a late answer, or a committed write whose connection is then aborted (see ``faults.py``'s
docstring for the contract and why the injector must be the outermost layer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from chartgate.sandbox.faults import (
    MUTATING_METHODS,
    Fault,
    FaultKind,
    FaultPlan,
    SandboxConnectionDropped,
)

_DISCONNECT_WAIT_SECONDS = 5.0

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


class FaultInjector:
    """ASGI layer that applies a ``FaultPlan`` to requests under ``path_prefix``.

    It must wrap the whole app (outside Starlette's error middleware) so that it receives
    the server's own ``send`` and can abort the connection for ``commit_then_drop``.
    """

    def __init__(self, app: ASGIApp, plan: FaultPlan, *, path_prefix: str) -> None:
        self.app = app
        self.plan = plan
        self.path_prefix = path_prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection, with whatever fault the plan holds for it."""
        if scope["type"] != "http" or not self._applies(scope):
            await self.app(scope, receive, send)
            return
        latency = self.plan.latency_seconds
        if latency:
            await asyncio.sleep(latency)
        fault = self.plan.next_fault(
            mutating=scope["method"] in MUTATING_METHODS, resource_type=self._resource_type(scope)
        )
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind is FaultKind.TOKEN_EXPIRY:
            await _send_outcome(
                send,
                401,
                "expired",
                "The access token expired (sandbox fault injection)",
                {"www-authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            )
        elif fault.kind is FaultKind.STATUS_STORM:
            headers = {} if fault.retry_after is None else {"retry-after": str(fault.retry_after)}
            code = "throttled" if fault.status == 429 else "transient"  # noqa: PLR2004 - HTTP 429
            await _send_outcome(
                send, fault.status, code, "Try again later (sandbox fault injection)", headers
            )
        elif fault.kind is FaultKind.REFUSE:
            await _send_outcome(
                send, fault.status, "business-rule", "Refused (sandbox fault injection)", {}
            )
        elif fault.kind is FaultKind.COMMIT_THEN_DROP:
            await self._commit_then_drop(scope, receive, send)
        else:
            await self._answer_late(scope, receive, send, fault)

    def _applies(self, scope: Scope) -> bool:
        path = self._path(scope)
        return path == self.path_prefix or path.startswith(self.path_prefix + "/")

    def _resource_type(self, scope: Scope) -> str | None:
        """The FHIR resource type a request is about (its first path segment)."""
        rest = self._path(scope)[len(self.path_prefix) :].strip("/")
        return rest.split("/", 1)[0] or None

    @staticmethod
    def _path(scope: Scope) -> str:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        return path

    async def _commit_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def swallow(message: Message) -> None:
            del message

        await self.app(scope, receive, swallow)
        transport = _server_transport(send)
        if transport is None:
            raise SandboxConnectionDropped("the sandbox committed the write and dropped the answer")
        transport.abort()
        # Wait until the server has seen the connection go, so that it neither logs the
        # unanswered request as an application error nor tries to send a 500 of its own.
        async with asyncio.timeout(_DISCONNECT_WAIT_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass

    async def _answer_late(self, scope: Scope, receive: Receive, send: Send, fault: Fault) -> None:
        body = await _read_body(receive)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if fault.before_commit:
            await self._hold(fault.seconds)
            await self.app(scope, replay, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, replay, hold)
        await self._hold(fault.seconds)
        for message in held:
            await send(message)

    async def _hold(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the plan's ``release_held`` is called meanwhile."""
        released = asyncio.Event()
        loop = asyncio.get_running_loop()

        def release() -> None:  # called from the test's thread
            loop.call_soon_threadsafe(released.set)

        forget = self.plan.on_release(release)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), seconds)
        finally:
            forget()


def _server_transport(send: Send) -> asyncio.Transport | None:
    """Find the connection's transport behind uvicorn's ``send`` (None when there is none)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_outcome(
    send: Send, status: int, code: str, diagnostics: str, headers: Mapping[str, str]
) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }
    body = json.dumps(outcome).encode()
    raw_headers = [
        (b"content-type", b"application/fhir+json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
