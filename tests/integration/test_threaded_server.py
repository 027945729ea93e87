"""The shared test/demo HTTP server answers kept-alive requests without Nagle's delay."""

from __future__ import annotations

import socket

import pytest
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


def test_signalled_servers_stop_together_and_stop_still_joins() -> None:
    """``signal_stop`` only asks; ``stop`` then joins each thread and frees each port."""
    app = Starlette(routes=[Route("/", _ok)])
    first, second = ThreadedServer(app), ThreadedServer(app)
    first.signal_stop()  # not started: nothing to ask, and no error
    first.start()
    second.start()
    threads = [first._thread, second._thread]
    first.signal_stop()
    second.signal_stop()
    first.stop()
    second.stop()
    assert all(thread is not None and not thread.is_alive() for thread in threads)
    for server in (first, second):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, server.port), timeout=2).close()
