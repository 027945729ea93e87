"""A FHIR stub EHR for benchmarks: accepts every create, stores nothing, optionally slow.

``PUT /{type}/{id}`` and ``POST /{type}`` answer 201 with the resource, ``meta.versionId`` 1,
an ETag and a Location. ``GET`` reads (and ``_id`` searches) find the one synthetic patient
and encounter the bench drafts name (approval checks them, ``service/patient_context.py``);
any other ``GET`` answers 404 or an empty searchset. ``latency`` seconds are slept
before every answer (a 300 ms EHR is ``StubEhr(latency=0.3)``). It is threaded (one thread
per connection, HTTP/1.1 keep-alive, Nagle off), so concurrent requests overlap their waits as
a real EHR's would. It is a bench fixture only: near-zero cost per request, so what a
benchmark measures against it is chartgate's own overhead.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

CHART: dict[str, dict[str, object]] = {
    "Patient/pat-001": {"resourceType": "Patient", "id": "pat-001", "birthDate": "1970-01-01"},
    "Encounter/enc-001": {
        "resourceType": "Encounter",
        "id": "enc-001",
        "status": "in-progress",
        "subject": {"reference": "Patient/pat-001"},
    },
}
"""The synthetic chart: what the bench's drafts (``tests/builders.py``) point at."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    latency = 0.0

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_: object) -> None:
        return

    def _answer(self, status: int, body: dict[str, object], headers: dict[str, str]) -> None:
        if self.latency:
            time.sleep(self.latency)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _created(self, resource_type: str, resource_id: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        body.update({"id": resource_id, "meta": {**body.get("meta", {}), "versionId": "1"}})
        location = f"{self.server_base}/{resource_type}/{resource_id}/_history/1"
        self._answer(201, body, {"ETag": 'W/"1"', "Location": location})

    @property
    def server_base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def do_PUT(self) -> None:
        _, resource_type, resource_id = self.path.split("?")[0].split("/")[:3]
        self._created(resource_type, resource_id)

    def do_POST(self) -> None:
        resource_type = self.path.split("?")[0].strip("/").split("/")[0]
        self._created(resource_type, uuid.uuid4().hex)

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2:  # a read
            found = CHART.get(f"{parts[0]}/{parts[1]}")
            if found is None:
                self._answer(404, {"resourceType": "OperationOutcome", "issue": []}, {})
            else:
                self._answer(200, found, {"ETag": 'W/"1"'})
            return
        wanted = dict(p.partition("=")[::2] for p in query.split("&") if p).get("_id")
        hit = CHART.get(f"{parts[0]}/{wanted}") if parts and wanted else None
        entry = [{"resource": hit}] if hit else []
        self._answer(200, {"resourceType": "Bundle", "type": "searchset", "entry": entry}, {})


class StubEhr:
    """The stub on a loopback port, in a daemon thread, for a ``with`` block."""

    def __init__(self, *, latency: float = 0.0) -> None:
        handler = type("Handler", (_Handler,), {"latency": latency})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 256
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The FHIR base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def floor(self, n: int) -> float:
        """Seconds per request of ``n`` sequential PUTs on one kept-alive connection."""
        import httpx  # noqa: PLC0415 - only the bench needs it

        body = {"resourceType": "DocumentReference", "status": "current"}
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        with httpx.Client(base_url=self.base_url, transport=transport, timeout=10) as client:
            started = time.perf_counter()
            for i in range(n):
                client.put(f"/DocumentReference/floor-{i}", json=body)
            return (time.perf_counter() - started) / n

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
