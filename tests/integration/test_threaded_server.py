"""The shared test/demo HTTP server answers kept-alive requests without Nagle's delay."""

from __future__ import annotations

import socket

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from chartgate.threaded_server import ThreadedServer


async def _ok(_request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_accepted_connections_have_tcp_nodelay() -> None:
    """The listening socket says TCP, so asyncio turns Nagle off on every connection."""
    app = Starlette(routes=[Route("/", _ok)])
    with ThreadedServer(app) as server, socket.create_connection((server.host, server.port)) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(1024).startswith(b"HTTP/1.1 200")
        assert server._socket.proto == socket.IPPROTO_TCP
