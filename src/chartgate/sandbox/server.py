"""The whole sandbox (FHIR EHR + dev IdP) as one ASGI app, and a server to run it in-process.

``SandboxServer`` is what ``chartgate demo`` and the integration tests use: uvicorn in a
background thread on 127.0.0.1, a free port picked by the OS, and a ``stop()`` that leaves
no thread, socket or temporary file behind::

    with SandboxServer(vendor="epic") as sandbox:
        token = sandbox.idp.mint_for("clinician")
        httpx.get(f"{sandbox.fhir_base}/Patient/pat-001", headers={...})
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

import uvicorn

from chartgate.sandbox.faults import FaultPlan
from chartgate.sandbox.fhir import FHIR_BASE_PATH, create_fhir_app
from chartgate.sandbox.idp import DevIdentityProvider, create_idp_router

if TYPE_CHECKING:
    from types import TracebackType

    from fastapi import FastAPI

    from chartgate.sandbox.vendors import VendorProfile

IDP_PATH = "/idp"
_POLL_SECONDS = 0.01
_GRACEFUL_SHUTDOWN_SECONDS = 1


def create_sandbox_app(
    db_path: str,
    *,
    vendor: str | VendorProfile = "generic-r4",
    issuer_base: str,
    faults: FaultPlan | None = None,
    idp: DevIdentityProvider | None = None,
) -> FastAPI:
    """Build the sandbox: FHIR R4 at ``/fhir/R4``, the IdP at ``/idp``, controls at ``/__sandbox``.

    Args:
        db_path: SQLite file of the FHIR store.
        vendor: Vendor profile name or profile.
        issuer_base: The server's base URL; the issuer is ``<issuer_base>/idp``.
        faults: Fault plan (a new empty one when None); applies to ``/fhir/R4`` only.
        idp: An existing identity provider to serve (a new one when None).

    Returns:
        The app; ``app.state`` holds ``store``, ``vendor``, ``faults`` and ``idp``.
    """
    provider = idp if idp is not None else DevIdentityProvider(issuer_base.rstrip("/") + IDP_PATH)
    app = create_fhir_app(db_path, vendor=vendor, faults=faults)
    app.include_router(create_idp_router(provider), prefix=IDP_PATH)
    app.state.idp = provider
    return app


class SandboxServer:
    """Run the sandbox app under uvicorn in a background thread (a context manager).

    Args:
        db_path: SQLite file; a temporary one (deleted on stop) when None.
        vendor: Vendor profile name or profile.
        faults: Fault plan; a new empty one when None. Available as ``.faults``.
        host: Interface to listen on; keep it loopback, the IdP trusts every caller.
        port: TCP port; 0 lets the OS pick a free one.
        startup_timeout: Seconds to wait for uvicorn to accept connections.

    ``base_url``, ``fhir_base``, ``issuer`` and ``idp`` are known from construction (the
    socket is bound then); the server answers only between ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        vendor: str | VendorProfile = "generic-r4",
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
    ) -> None:
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if db_path is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="chartgate-sandbox-")
            db_path = Path(self._tempdir.name) / "sandbox.sqlite3"
        self.db_path = str(db_path)
        self._startup_timeout = startup_timeout
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
            self.host, self.port = self._socket.getsockname()[:2]
            self.base_url = f"http://{self.host}:{self.port}"
            self.faults = faults if faults is not None else FaultPlan()
            self.app = create_sandbox_app(
                self.db_path, vendor=vendor, issuer_base=self.base_url, faults=self.faults
            )
        except BaseException:
            self._release()
            raise
        self.idp: DevIdentityProvider = self.app.state.idp
        self.fhir_base = self.base_url + FHIR_BASE_PATH
        self.issuer = self.idp.issuer
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Start serving and wait until the port accepts connections.

        Raises:
            RuntimeError: Started before (a server runs once), or uvicorn did not come up in
                time.
        """
        if self._server is not None:
            raise RuntimeError("a sandbox server runs once; build a new one")
        config = uvicorn.Config(
            self.app,
            http="h11",  # commit_then_drop reaches the transport through h11's request cycle
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
            name=f"chartgate-sandbox-{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(_POLL_SECONDS)
        return self

    def stop(self) -> None:
        """Stop uvicorn, wait for its thread, and remove the temporary database.

        Requests still held by a ``timeout`` fault are cancelled after one second.

        Raises:
            RuntimeError: The server thread did not end.
        """
        thread, server = self._thread, self._server
        if thread is not None and server is not None:
            server.should_exit = True
            thread.join(timeout=_GRACEFUL_SHUTDOWN_SECONDS + 10)
            if thread.is_alive():
                raise RuntimeError("the sandbox server thread did not stop")
        self._thread = None
        self._release()

    def _release(self) -> None:
        self._socket.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
