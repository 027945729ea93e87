"""Per-tenant TLS through the one client factory, against a real TLS server on loopback.

Certificates come from ``trustme`` (throwaway CAs made in the test). The EHR call goes the
production way: ``ConfiguredEhrDirectory`` builds the tenant's client with ``build_client``,
the processor gate and ``tls.tls_context`` from the tenant's ``EhrSettings``.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory
from chartgate.adapters.processors import gate
from chartgate.domain.errors import EhrError, EhrUnreachable, TlsConfigError
from chartgate.settings import EhrSettings, ProcessorSettings, Settings, TenantSettings

TENANT = "clinic-tls"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    peer_subjects: list[Any]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A refused handshake is the expected outcome of some tests: keep stderr quiet."""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        """Answer any read with a synthetic Patient; remember the client certificate."""
        self.server.peer_subjects.append(self.connection.getpeercert())  # type: ignore[attr-defined]
        body = json.dumps({"resourceType": "Patient", "id": "pat-001"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """No access log on stderr."""


@contextmanager
def tls_server(cert: trustme.LeafCert, *, client_ca: trustme.CA | None = None) -> Iterator[_Server]:
    """An HTTPS server on 127.0.0.1 with ``cert``; with ``client_ca`` it demands mTLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    server = _Server(("127.0.0.1", 0), _Handler)
    server.peer_subjects = []
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _directory(server: _Server, **ehr: Any) -> ConfiguredEhrDirectory:
    base = f"https://127.0.0.1:{server.server_address[1]}/fhir"
    settings = Settings(
        dev_mode=False,
        processors=[
            ProcessorSettings(
                id="tls-ehr",
                legal_entity="TLS test EHR",
                role="ehr",
                purpose="transport tests",
                endpoints=[base],
                phi_categories=["synthetic-test-data"],
                baa_signed=date(2026, 1, 1),
            )
        ],
        tenants=[
            TenantSettings(
                id=TENANT,
                issuers=["https://idp.example.org"],
                ehr=EhrSettings(base_url=base, timeout_seconds=3, **ehr),
            )
        ],
    )
    return ConfiguredEhrDirectory({TENANT: settings.tenants[0]}, gate=gate(settings))


def _read(directory: ConfiguredEhrDirectory) -> int:
    try:
        return directory.gateway(TENANT).read("Patient", "pat-001", request_id="r-1").status
    finally:
        directory.close()


@pytest.fixture
def ca() -> trustme.CA:
    """The tenant's private CA."""
    return trustme.CA()


def _pem(tmp_path: Path, name: str, blob: trustme.Blob) -> str:
    path = tmp_path / name
    blob.write_to_path(str(path))
    path.chmod(0o600)
    return str(path)


def test_the_tenants_ca_bundle_is_trusted(ca: trustme.CA, tmp_path: Path) -> None:
    """A server certified by the tenant's private CA answers through the factory."""
    with tls_server(ca.issue_cert("127.0.0.1")) as server:
        directory = _directory(server, ca_bundle=_pem(tmp_path, "ca.pem", ca.cert_pem))
        assert _read(directory) == 200


def test_a_certificate_from_another_ca_is_refused(ca: trustme.CA, tmp_path: Path) -> None:
    """The tenant trusts only its CA bundle: another CA's certificate fails the handshake."""
    other = trustme.CA()
    with tls_server(other.issue_cert("127.0.0.1")) as server:
        directory = _directory(server, ca_bundle=_pem(tmp_path, "ca.pem", ca.cert_pem))
        with pytest.raises(EhrUnreachable, match="ConnectError"):
            _read(directory)
        assert server.peer_subjects == []


def test_a_certificate_for_another_host_is_refused(ca: trustme.CA, tmp_path: Path) -> None:
    """Hostname checking stays on: a valid certificate for another name is refused."""
    with tls_server(ca.issue_cert("ehr.other.example")) as server:
        directory = _directory(server, ca_bundle=_pem(tmp_path, "ca.pem", ca.cert_pem))
        with pytest.raises(EhrUnreachable, match="ConnectError"):
            _read(directory)
        assert server.peer_subjects == []


def test_the_client_certificate_is_presented_when_the_ehr_requires_it(
    ca: trustme.CA, tmp_path: Path
) -> None:
    """With client_cert/client_key the mTLS server sees our certificate; without, it refuses."""
    client_ca = trustme.CA()
    client = client_ca.issue_cert("chartgate-clinic-tls@example.org")
    bundle = _pem(tmp_path, "ca.pem", ca.cert_pem)
    with tls_server(ca.issue_cert("127.0.0.1"), client_ca=client_ca) as server:
        # TLS 1.3: the server rejects the missing certificate after the client has finished
        # its handshake, so the client sees a dropped answer (ambiguous), not a connect error.
        with pytest.raises(EhrError):
            _read(_directory(server, ca_bundle=bundle))
        assert server.peer_subjects == []
        directory = _directory(
            server,
            ca_bundle=bundle,
            client_cert=_pem(tmp_path, "client.pem", client.cert_chain_pems[0]),
            client_key="secret:file:" + _pem(tmp_path, "client.key", client.private_key_pem),
        )
        assert _read(directory) == 200
    subject = server.peer_subjects[0]
    names = [value for kind, value in subject["subjectAltName"]]
    assert names == ["chartgate-clinic-tls@example.org"]


def test_an_unreadable_ca_bundle_is_a_clear_configuration_error(tmp_path: Path) -> None:
    """A missing CA file fails with TlsConfigError naming the setting, not a traceback."""
    with tls_server(trustme.CA().issue_cert("127.0.0.1")) as server:
        directory = _directory(server, ca_bundle=str(tmp_path / "missing.pem"))
        with pytest.raises(TlsConfigError, match=r"ehr\.ca_bundle"):
            _read(directory)


def test_plain_http_is_refused_outside_dev_mode() -> None:
    """Outside dev mode an http:// EHR, token or sink URL is a settings error."""
    tenant = TenantSettings(
        id="clinic-a",
        issuers=["https://idp.example.org"],
        ehr=EhrSettings(base_url="http://ehr.example.org/r4"),
    )
    with pytest.raises(ValueError, match=r"tenant clinic-a: ehr\.base_url must be an https://"):
        Settings(dev_mode=False, tenants=[tenant])
    with pytest.raises(ValueError, match="audit_sink_url must be an https://"):
        Settings(dev_mode=False, audit_sink_url="http://audit.example.org/fhir")
    assert Settings(dev_mode=True, tenants=[tenant]).dev_mode
