"""Serve an ASGI app with uvicorn on a background thread (demo, sandbox and tests).

The socket is bound at construction so the URL is known before the server starts, and
``stop()`` joins the thread: nothing is left running afterwards.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

_POLL_SECONDS = 0.02
_GRACEFUL_SHUTDOWN_SECONDS = 1


class ThreadedServer:
    """uvicorn on a thread, bound to loopback by default."""

    def __init__(
        self,
        app: Any,  # noqa: ANN401 - any ASGI application
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self._startup_timeout = startup_timeout
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the
        # protocol says TCP, and without it every kept-alive answer waits ~40 ms for a
        # delayed ACK (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except BaseException:
            self._socket.close()
            raise
        self.host, self.port = self._socket.getsockname()[:2]
        self.base_url = f"http://{self.host}:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Start serving and wait until the port accepts connections."""
        if self._server is not None:
            raise RuntimeError("a threaded server runs once; build a new one")
        config = uvicorn.Config(
            self.app,
            http="h11",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"chartgate-http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start")
            time.sleep(_POLL_SECONDS)
        return self

    def signal_stop(self) -> None:
        """Ask uvicorn to stop and return at once; ``stop()`` then waits for it.

        Stopping takes uvicorn a loop tick and a shutdown pause (0.1-0.2 s): a caller that
        runs several servers signals them all first, so they wind down together.
        """
        if self._server is not None:
            self._server.should_exit = True

    def stop(self) -> None:
        """Stop uvicorn, join its thread and close the socket."""
        thread, server = self._thread, self._server
        if thread is not None and server is not None:
            server.should_exit = True
            thread.join(timeout=_GRACEFUL_SHUTDOWN_SECONDS + 10)
            if thread.is_alive():
                raise RuntimeError("the server thread did not stop")
        self._thread = None
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
