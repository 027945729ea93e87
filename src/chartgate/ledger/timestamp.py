# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""RFC 3161 timestamps over signed checkpoints: build the request, check the token.

A checkpoint signed by chartgate proves *what* the log held; a timestamp token from an
independent Time-Stamping Authority proves it existed *no later than* the TSA's clock said,
so a log rewritten later and re-signed with a stolen key cannot claim an earlier time. The
token covers SHA-256 of the signed note's exact bytes (docs/ledger.md#timestamps, ADR 0023).

``verify_token`` trusts nothing in the token but the TSA certificates it is given: it checks
the message imprint against the note, the CMS signature over the signed attributes, the
message digest of the TSTInfo, that the signer certificate is (or is issued by) a trusted
one, is marked for time stamping only (RFC 3161 2.3) and was valid at the stamped time.
Pure functions over ``asn1crypto`` and ``cryptography``: the offline verifier uses them too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

_HASHES: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_GRANTED: Final = {"granted", "granted_with_mods"}


class TimestampError(ValueError):
    """A timestamp reply or token that does not verify; the message says what failed."""


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 ``TimeStampResp``, whose token is OPTIONAL (absent when the TSA refuses).

    asn1crypto 1.5's ``tsp.TimeStampResp`` makes the token mandatory, so a refusal (status
    and no token) would fail to parse and its status would be lost.
    """

    _fields = [  # noqa: RUF012 - asn1crypto's declaration form
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True, slots=True)
class Stamp:
    """What a verified token says: when, by which TSA (its certificate subject), serial."""

    time: datetime
    tsa: str
    serial: int


def imprint(note: str) -> bytes:
    """SHA-256 of the signed note's bytes: what the TSA signs."""
    return hashlib.sha256(note.encode()).digest()


def request(note: str, nonce: int) -> bytes:
    """A DER ``TimeStampReq`` for the note, asking for the TSA certificate in the token."""
    der: bytes = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": imprint(note),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    return der


def token_from_reply(reply: bytes, note: str, nonce: int) -> bytes:
    """The DER token of a ``TimeStampResp``; ``TimestampError`` if refused or not ours."""
    status, token = _read_reply(reply)
    if status not in _GRANTED or token is None:
        raise TimestampError(f"the TSA did not grant the timestamp ({status})")
    try:
        info = _tst_info(token)
        answered = info["nonce"].native
        stamped = info["message_imprint"]["hashed_message"].native
    except TimestampError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise TimestampError(f"unreadable timestamp reply ({type(e).__name__})") from e
    if answered != nonce:
        raise TimestampError("the TSA answered another request (nonce differs)")
    if stamped != imprint(note):
        raise TimestampError("the TSA stamped other bytes than the checkpoint")
    return bytes(token.dump())


def _read_reply(reply: bytes) -> tuple[object, cms.ContentInfo | None]:
    """The reply's PKIStatus (its name, e.g. ``rejection``) and its token, if it has one."""
    try:
        response = _TimeStampResp.load(reply)
        status = response["status"]["status"].native
        token = response["time_stamp_token"]
        present = not isinstance(token, core.Void)  # the optional token is absent
    except (ValueError, TypeError, KeyError) as e:
        raise TimestampError(f"unreadable timestamp reply ({type(e).__name__})") from e
    return status, token if present else None


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    signed = token["content"]
    encap = signed["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TimestampError("the token does not carry a TSTInfo")
    info: tsp.TSTInfo = encap["content"].parsed
    return info


def verify_token(token: bytes, note: str, trusted: Sequence[x509.Certificate]) -> Stamp:
    """Check a stored token against the note and the trusted TSA certificates."""
    try:
        return _verify(cms.ContentInfo.load(token), note, trusted)
    except (ValueError, TypeError, KeyError, IndexError) as e:
        if isinstance(e, TimestampError):
            raise
        raise TimestampError(f"malformed timestamp token ({type(e).__name__})") from e


def _verify(content: cms.ContentInfo, note: str, trusted: Sequence[x509.Certificate]) -> Stamp:
    if content["content_type"].native != "signed_data":
        raise TimestampError("the token is not CMS SignedData")
    info = _tst_info(content)
    message = info["message_imprint"]
    if message["hash_algorithm"]["algorithm"].native != "sha256":
        raise TimestampError("the token's imprint is not SHA-256")
    if message["hashed_message"].native != imprint(note):
        raise TimestampError("the token stamps other bytes than this checkpoint")
    signed = content["content"]
    signer = signed["signer_infos"][0]
    certificate = _signer_certificate(signed, signer)
    digest_name = signer["digest_algorithm"]["algorithm"].native
    hash_type = _HASHES.get(digest_name)
    if hash_type is None:
        raise TimestampError(f"unsupported digest {digest_name}")
    attributes = signer["signed_attrs"]
    digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
    tst_der = signed["encap_content_info"]["content"].contents
    if digests != [hashlib.new(digest_name, tst_der).digest()]:
        raise TimestampError("the token's TSTInfo does not match its signed digest")
    _check_signature(certificate, signer["signature"].native, attributes.dump(), hash_type())
    at = info["gen_time"].native
    _check_certificate(certificate, trusted, at)
    return Stamp(
        time=at, tsa=certificate.subject.rfc4514_string(), serial=info["serial_number"].native
    )


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise TimestampError("the token names its signer by key id; chartgate needs issuer+serial")
    wanted = sid.chosen
    for choice in signed["certificates"] or []:
        cert = choice.chosen
        if cert.issuer == wanted["issuer"] and cert.serial_number == wanted["serial_number"].native:
            return x509.load_der_x509_certificate(cert.dump())
    raise TimestampError("the token does not carry its signer's certificate")


def _check_signature(
    certificate: x509.Certificate,
    signature: bytes,
    attributes: bytes,
    hash_type: hashes.HashAlgorithm,
) -> None:
    data = b"\x31" + attributes[1:]  # signed over the attributes as a SET (RFC 5652 5.4)
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_type)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_type))
        else:
            raise TimestampError("unsupported TSA key type")
    except InvalidSignature as e:
        raise TimestampError("the token's signature does not verify") from e


def _check_certificate(
    certificate: x509.Certificate, trusted: Sequence[x509.Certificate], at: datetime
) -> None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError("the TSA certificate is not marked for time stamping") from None
    if list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not usage.critical:
        raise TimestampError("the TSA certificate is not for time stamping only (RFC 3161)")
    if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
        raise TimestampError("the TSA certificate was not valid at the stamped time")
    for anchor in trusted:
        if anchor == certificate:
            return
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise TimestampError("the TSA certificate is not one of the trusted TSA certificates")


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """The trusted TSA (or TSA CA) certificates of a PEM file."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as e:  # no PEM certificate in it, or a broken one
        raise TimestampError("no certificate in the TSA certificate file") from e


def check_stamps(
    notes: Sequence[str], stamps: Sequence[tuple[int, bytes]], trusted: Sequence[x509.Certificate]
) -> tuple[list[Stamp], str | None]:
    """Verify each (checkpoint size, token) against the signed note of that size.

    Returns the verified stamps and the first failure (None when all verify). A token for
    a size no note has is a failure too: it stamps a checkpoint the log does not show.
    """
    by_size: dict[int, str] = {}
    for note in notes:
        text = note[: note.rfind("\n\n") + 1]
        lines = text.split("\n")
        if len(lines) > 1 and lines[1].isdigit():
            by_size[int(lines[1])] = note
    verified: list[Stamp] = []
    for size, token in stamps:
        stamped = by_size.get(size)
        if stamped is None:
            return verified, f"timestamp for size {size}: no signed checkpoint of that size"
        try:
            verified.append(verify_token(token, stamped, trusted))
        except TimestampError as e:
            return verified, f"timestamp for size {size}: {e}"
    return verified, None


def read_stamps(text: str) -> list[tuple[int, bytes]]:
    """Parse an exported ``<tenant>.timestamps`` file: JSON lines ``{"size", "token"}``."""
    stamps = []
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            stamps.append((int(row["size"]), base64.b64decode(row["token"], validate=True)))
    return stamps


def verify_stamp_files(
    notes_path: Path, stamps_path: Path, certificates_path: Path | None
) -> str | None:
    """The offline verifier's check of an exported timestamps file (None when all verify)."""
    from chartgate.ledger.checkpoint import split_notes  # noqa: PLC0415

    if certificates_path is None:
        raise ValueError("--timestamps needs --tsa-cert (the TSA certificate to trust)")
    trusted = load_certificates(certificates_path.read_bytes())
    notes = split_notes(notes_path.read_text(encoding="utf-8"))
    try:
        stamps = read_stamps(stamps_path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError) as e:
        return f"unreadable timestamps file ({type(e).__name__})"
    verified, failure = check_stamps(notes, stamps, trusted)
    if failure is None and not verified:
        return "no timestamp in the file"
    return failure
