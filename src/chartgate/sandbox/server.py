"""The whole sandbox (FHIR EHR + dev IdP) as one ASGI app, and a server to run it in-process.

``SandboxServer`` is what ``chartgate demo`` and the integration tests use: uvicorn in a
background thread on 127.0.0.1, a free port picked by the OS, and a ``stop()`` that leaves
no thread, socket or temporary file behind::

    with SandboxServer(vendor="epic") as sandbox:
        token = sandbox.idp.mint_for("clinician")
        httpx.get(f"{sandbox.fhir_base}/Patient/pat-001", headers={...})
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Self

from chartgate.sandbox.faults import FaultPlan
from chartgate.sandbox.fhir import FHIR_BASE_PATH, create_fhir_app
from chartgate.sandbox.idp import DevIdentityProvider
from chartgate.sandbox.idp_http import create_idp_router
from chartgate.threaded_server import ThreadedServer

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from fastapi import FastAPI
    from joserfc.jwk import ECKey, RSAKey

    from chartgate.sandbox.idp import Algorithm
    from chartgate.sandbox.vendors import VendorProfile

IDP_PATH = "/idp"


def create_sandbox_app(
    db_path: str,
    *,
    vendor: str | VendorProfile = "generic-r4",
    issuer_base: str,
    faults: FaultPlan | None = None,
    idp: DevIdentityProvider | None = None,
    signing_keys: Mapping[Algorithm, RSAKey | ECKey] | None = None,
) -> FastAPI:
    """Build the sandbox: FHIR R4 at ``/fhir/R4``, the IdP at ``/idp``, controls at ``/__sandbox``.

    Args:
        db_path: SQLite file of the FHIR store.
        vendor: Vendor profile name or profile.
        issuer_base: The server's base URL; the issuer is ``<issuer_base>/idp``.
        faults: Fault plan (a new empty one when None); applies to ``/fhir/R4`` only.
        idp: An existing identity provider to serve (a new one when None).
        signing_keys: The new identity provider's signing keys (fresh ones when None).

    Returns:
        The app; ``app.state`` holds ``store``, ``vendor``, ``faults`` and ``idp``.
    """
    provider = (
        idp
        if idp is not None
        else DevIdentityProvider(issuer_base.rstrip("/") + IDP_PATH, signing_keys=signing_keys)
    )
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
        signing_keys: The IdP's RS256 and ES256 keys (fresh ones when None).

    ``base_url``, ``fhir_base``, ``issuer`` and ``idp`` are known from construction (the
    socket is bound then); the server answers only between ``start()`` and ``stop()``.
    uvicorn runs with h11: ``commit_then_drop`` reaches the transport through h11's cycle.
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
        signing_keys: Mapping[Algorithm, RSAKey | ECKey] | None = None,
    ) -> None:
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if db_path is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="chartgate-sandbox-")
            db_path = Path(self._tempdir.name) / "sandbox.sqlite3"
        self.db_path = str(db_path)
        self._http = ThreadedServer(None, host=host, port=port, startup_timeout=startup_timeout)
        try:
            self.host, self.port = self._http.host, self._http.port
            self.base_url = self._http.base_url
            self.faults = faults if faults is not None else FaultPlan()
            self.app = create_sandbox_app(
                self.db_path,
                vendor=vendor,
                issuer_base=self.base_url,
                faults=self.faults,
                signing_keys=signing_keys,
            )
        except BaseException:
            self._http.stop()
            self._release()
            raise
        self._http.app = self.app
        self.idp: DevIdentityProvider = self.app.state.idp
        self.fhir_base = self.base_url + FHIR_BASE_PATH
        self.issuer = self.idp.issuer

    def start(self) -> Self:
        """Start serving and wait until the port accepts connections.

        Raises:
            RuntimeError: Started before (a server runs once), or uvicorn did not come up in
                time.
        """
        self._http.start()
        return self

    def signal_stop(self) -> None:
        """Ask the server to stop without waiting (``stop()`` waits; see ``ThreadedServer``)."""
        self._http.signal_stop()

    def stop(self) -> None:
        """Stop uvicorn, wait for its thread, and remove the temporary database.

        Requests still held by a ``timeout`` fault are cancelled after one second.
        """
        self._http.stop()
        self._release()

    def _release(self) -> None:
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
