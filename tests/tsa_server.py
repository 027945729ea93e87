"""A local RFC 3161 Time-Stamping Authority: ``openssl ts -reply`` behind a small HTTP server.

The fixture makes a CA and a TSA certificate (extendedKeyUsage critical timeStamping), writes
an ``openssl ts`` configuration in tmp, and answers each ``application/timestamp-query`` POST
by running ``openssl ts -reply`` on it, as a real TSA would answer.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from required import missing

_CONFIG = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class Tsa:
    """A running TSA: its URL, the CA certificate file to trust, and its folder."""

    url: str
    ca_file: Path
    folder: Path

    def processor(self) -> dict[str, object]:
        """The TSA as a registered processor (it receives a hash only: no PHI, no BAA)."""
        return {
            "id": "test-tsa",
            "legal_entity": "chartgate test TSA",
            "role": "timestamping",
            "purpose": "RFC 3161 timestamps of ledger checkpoints",
            "endpoints": [self.url],
        }


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificates(folder: Path) -> None:
    """A CA and a TSA certificate it issued, ECDSA P-256, valid around now."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("chartgate test TSA CA"))
        .issuer_name(_name("chartgate test TSA CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder()
        .subject_name(_name("chartgate test TSA"))
        .issuer_name(ca.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (folder / "tsa.key").write_bytes(
        tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "serial").write_text("01\n")
    (folder / "openssl.cnf").write_text(_CONFIG.format(dir=folder))


def _handler(folder: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()  # openssl ts updates the serial file: one reply at a time

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock, tempfile.TemporaryDirectory(dir=folder) as work:
                query, reply = Path(work) / "q.tsq", Path(work) / "r.tsr"
                query.write_bytes(body)
                config = str(folder / "openssl.cnf")
                done = subprocess.run(
                    [
                        "openssl",
                        "ts",
                        "-reply",
                        "-config",
                        config,
                        "-queryfile",
                        str(query),
                        "-out",
                        str(reply),
                    ],
                    capture_output=True,
                    check=False,
                )
                answer = reply.read_bytes() if done.returncode == 0 else b""
            self.send_response(200 if answer else 400)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002, ARG002
            return

    return Handler


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[Tsa]:
    """A local TSA on 127.0.0.1 for one test."""
    if shutil.which("openssl") is None:
        missing("openssl is not installed (make install installs it)")
    folder = tmp_path / "tsa"
    folder.mkdir()
    _certificates(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Tsa(f"http://127.0.0.1:{server.server_address[1]}/tsa", folder / "ca.pem", folder)
    finally:
        server.shutdown()
        server.server_close()
