"""The worker's own operations port: ``/metrics``, ``/healthz`` and ``/readyz``.

The worker has no HTTP API, yet an operator must scrape it and a supervisor must know it
is alive. A stdlib HTTP server on a daemon thread is enough for three fixed, unauthenticated
GETs; it binds loopback by default and answers nothing else (404), with no PHI anywhere.

``/healthz`` is liveness: 200 while the poll loop keeps turning (a loop stuck longer than
``stall_seconds`` answers 503, so a supervisor restarts it). ``/readyz`` is readiness: 200
while the last poll reached the store, 503 during a store outage.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class WorkerHealth:
    """What the poll loop last did, for ``/healthz`` and ``/readyz``."""

    def __init__(
        self, *, stall_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stall = stall_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last_turn = clock()
        self._store_ok = True
        self._failures = 0

    def turned(self, *, store_ok: bool) -> None:
        """The loop completed one poll; ``store_ok`` is False when it could not reach the store."""
        with self._lock:
            self._last_turn = self._clock()
            self._store_ok = store_ok
            self._failures = 0 if store_ok else self._failures + 1

    @property
    def consecutive_failures(self) -> int:
        """Polls in a row that could not reach the store."""
        with self._lock:
            return self._failures

    def live(self) -> tuple[bool, dict[str, object]]:
        """Liveness: the loop turned within ``stall_seconds``."""
        with self._lock:
            since = self._clock() - self._last_turn
        return since <= self._stall, {"seconds_since_poll": round(since, 3)}

    def ready(self) -> tuple[bool, dict[str, object]]:
        """Readiness: the last poll reached the store."""
        with self._lock:
            ok, failures = self._store_ok, self._failures
        return ok, {"store": "ok" if ok else "unreachable", "failed_polls": failures}


class OpsServer:
    """``/metrics``, ``/healthz``, ``/readyz`` on a background thread; ``stop()`` joins it."""

    def __init__(
        self,
        registry: CollectorRegistry,
        health: WorkerHealth,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        handler = _handler(registry, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="chartgate-ops", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the port."""
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        """Serve in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _handler(registry: CollectorRegistry, health: WorkerHealth) -> type[BaseHTTPRequestHandler]:
    class _Ops(BaseHTTPRequestHandler):
        server_version = "chartgate-worker"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in {"/healthz", "/readyz"}:
                ok, detail = health.live() if path == "/healthz" else health.ready()
                body = {"status": "ok" if ok else "unavailable", **detail}
                self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b'{"status": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            """Scrapes every few seconds are not worth a log line each."""
            del format, args

    return _Ops
