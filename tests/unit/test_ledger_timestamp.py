# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""RFC 3161 tokens built here, field by field: a good one verifies, each kind of bad one is refused.

The tokens are real CMS SignedData over a TSTInfo (asn1crypto), signed with keys made in the test
(cryptography), so every refusal in ``ledger/timestamp.py`` is reached by the token a broken or
hostile TSA would send, not by patching the verifier (docs/ledger.md#timestamps, ADR 0023).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chartgate.ledger.timestamp import (
    Stamp,
    TimestampError,
    check_stamps,
    imprint,
    load_certificates,
    read_stamps,
    request,
    token_from_reply,
    verify_stamp_files,
    verify_token,
)
from required import missing
from tsa_server import _certificates

NOTE = (
    "chartgate.example/clinic-a\n3\nq83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=\n"
    "\n\u2014 chartgate.example AAAA\n"
)
OTHER_NOTE = NOTE.replace("\n3\n", "\n4\n")
NONCE = 0x5EED_CAFE
STAMPED_AT = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
SERIAL = 4242

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key(kind: str) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _sign_certificate(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.Certificate:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


@dataclass(frozen=True)
class Authority:
    """A TSA CA and the TSA certificate it issued, with the TSA's signing key."""

    ca: x509.Certificate
    ca_key: PrivateKey
    tsa: x509.Certificate
    tsa_key: PrivateKey


_EKU = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])


def _authority(
    *,
    ca_name: str = "chartgate test TSA CA",
    tsa_key: str = "ec",
    usage: x509.ExtendedKeyUsage | None = _EKU,
    critical: bool = True,
) -> Authority:
    """A CA and a TSA certificate valid through 2026, for time stamping (by default) only."""
    ca_key = _key("ec")
    ca = _sign_certificate(
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True),
        ca_key,
    )
    key = _key(tsa_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("chartgate test TSA"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=critical)
    return Authority(ca=ca, ca_key=ca_key, tsa=_sign_certificate(builder, ca_key), tsa_key=key)


@dataclass
class Token:
    """How to build one token: every field a TSA could get wrong, right by default."""

    note: str = NOTE
    nonce: int | None = NONCE
    imprint_algorithm: str = "sha256"
    hashed: bytes | None = None  # default: the imprint of ``note``
    at: datetime = STAMPED_AT
    digest: str = "sha256"
    signed_digest: bytes | None = None  # default: the digest of the TSTInfo
    by_key_id: bool = False
    with_certificate: bool = True
    encapsulated: str = "tst_info"
    tamper_signature: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self, authority: Authority) -> cms.ContentInfo:
        """The CMS ContentInfo the TSA would return, signed by the authority's TSA key."""
        info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": "1.3.6.1.4.1.99999.1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": self.imprint_algorithm},
                    "hashed_message": self.hashed
                    if self.hashed is not None
                    else imprint(self.note),
                },
                "serial_number": SERIAL,
                "gen_time": self.at,
                "nonce": self.nonce,
                **self.extra,
            }
        )
        info_der = info.dump()
        if self.encapsulated == "tst_info":
            encap = {"content_type": "tst_info", "content": info}
        else:
            encap = {"content_type": self.encapsulated, "content": info_der}
        certificate = asn1_x509.Certificate.load(
            authority.tsa.public_bytes(serialization.Encoding.DER)
        )
        sid = (
            cms.SignerIdentifier(name="subject_key_identifier", value=b"\x01" * 20)
            if self.by_key_id
            else cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": certificate.issuer, "serial_number": certificate.serial_number},
            )
        )
        signed_digest = self.signed_digest or hashlib.new(self.digest, info_der).digest()
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": sid,
                "digest_algorithm": {"algorithm": self.digest},
                "signed_attrs": [
                    {"type": "content_type", "values": ["tst_info"]},
                    {"type": "message_digest", "values": [signed_digest]},
                ],
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": b"",
            }
        )
        signature = _signature(
            authority.tsa_key, b"\x31" + signer["signed_attrs"].dump()[1:], self.digest
        )
        if self.tamper_signature:
            signature = bytes([signature[0] ^ 0x01]) + signature[1:]
        signer["signature"] = signature
        signed = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": self.digest}],
                "encap_content_info": encap,
                "certificates": [cms.CertificateChoices(name="certificate", value=certificate)]
                if self.with_certificate
                else None,
                "signer_infos": [signer],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed})

    def der(self, authority: Authority) -> bytes:
        """The token's DER bytes, as stored beside a checkpoint."""
        return bytes(self.build(authority).dump())


def _signature(key: PrivateKey, data: bytes, digest: str) -> bytes:
    kinds: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
    }
    hash_type = kinds.get(digest, hashes.SHA256)()  # SHA-256 for the digests refused by name
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hash_type)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hash_type))
    return key.sign(data)


class _Reply(core.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp as on the wire: a refusal carries a status and no token."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration form
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _reply(status: str, token: cms.ContentInfo | None) -> bytes:
    response: dict[str, Any] = {"status": {"status": status}}
    if token is not None:
        response["time_stamp_token"] = token
    return bytes(_Reply(response).dump())


@pytest.fixture(scope="module")
def authority() -> Authority:
    """One EC TSA for the module (key generation is the slow part)."""
    return _authority()


# --- the request and the reply --------------------------------------------------------------


def test_the_request_asks_for_the_notes_sha256_with_our_nonce_and_the_tsa_certificate() -> None:
    """The TimeStampReq carries SHA-256 of the note's bytes, the nonce, and certReq."""
    sent = tsp.TimeStampReq.load(request(NOTE, NONCE))
    assert sent["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert (
        sent["message_imprint"]["hashed_message"].native == hashlib.sha256(NOTE.encode()).digest()
    )
    assert sent["nonce"].native == NONCE
    assert sent["cert_req"].native is True


@pytest.mark.parametrize("status", ["granted", "granted_with_mods"])
def test_a_granted_reply_gives_the_token_unchanged(authority: Authority, status: str) -> None:
    """Granted (with or without modifications): the token's DER is returned as the TSA sent it."""
    token = Token().build(authority)
    assert token_from_reply(_reply(status, token), NOTE, NONCE) == token.dump()


@pytest.mark.parametrize("status", ["rejection", "waiting", "revocation_warning"])
def test_a_reply_that_does_not_grant_says_the_tsa_did_not_grant(status: str) -> None:
    """A refused request is reported as the TSA's refusal, with its status, not as unreadable."""
    with pytest.raises(TimestampError, match=rf"did not grant the timestamp \({status}\)"):
        token_from_reply(_reply(status, None), NOTE, NONCE)


def test_a_real_openssl_tsa_refusal_keeps_its_status(tmp_path: Path) -> None:
    """``openssl ts -reply`` refusing a SHA-1 query (status, no token) reads as a refusal."""
    if shutil.which("openssl") is None:
        missing("openssl is not installed (make install installs it)")
    _certificates(tmp_path)
    (tmp_path / "data").write_text(NOTE)
    query, reply = tmp_path / "q.tsq", tmp_path / "r.tsr"
    subprocess.run(
        ["openssl", "ts", "-query", "-data", str(tmp_path / "data"), "-sha1", "-out", str(query)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "openssl",
            "ts",
            "-reply",
            "-config",
            str(tmp_path / "openssl.cnf"),
            "-queryfile",
            str(query),
            "-out",
            str(reply),
        ],
        check=False,
        capture_output=True,
    )
    with pytest.raises(TimestampError, match=r"did not grant the timestamp \(rejection\)"):
        token_from_reply(reply.read_bytes(), NOTE, NONCE)


def test_a_granted_reply_without_a_token_is_refused() -> None:
    """Granted but empty: there is nothing to store, and the reply says so."""
    with pytest.raises(TimestampError, match="did not grant"):
        token_from_reply(_reply("granted", None), NOTE, NONCE)


def test_a_body_that_is_no_timestamp_reply_is_unreadable() -> None:
    """An HTML error page (or any non-DER body) is refused as unreadable, not a crash."""
    with pytest.raises(TimestampError, match="unreadable timestamp reply"):
        token_from_reply(b"<html>502 Bad Gateway</html>", NOTE, NONCE)


def test_a_reply_whose_token_carries_no_tstinfo_is_refused(authority: Authority) -> None:
    """SignedData over plain data is not a timestamp, and the message names what is missing."""
    token = Token(encapsulated="data").build(authority)
    with pytest.raises(TimestampError, match="does not carry a TSTInfo"):
        token_from_reply(_reply("granted", token), NOTE, NONCE)


def test_a_granted_token_whose_tstinfo_does_not_parse_is_unreadable(
    authority: Authority,
) -> None:
    """A TSTInfo that does not parse (a broken TSA) is refused as unreadable, not a crash.

    The broken reply is made from the bytes of a good one (its TSTInfo's SEQUENCE tag turned
    into a SET's, same length): asn1crypto re-parses the content when it
    dumps a structure whose length header ends in 0x80 (it takes that for an indefinite
    length), so a broken TSTInfo built as an object failed to serialise about one run in four.
    """
    good = Token()
    token = good.der(authority)
    info = good.build(authority)["content"]["encap_content_info"]["content"].contents
    assert token.count(info) == 1
    broken = token.replace(info, b"\x31" + info[1:])  # a SET where a SEQUENCE must be
    status = bytes(tsp.PKIStatusInfo({"status": "granted"}).dump())
    with pytest.raises(TimestampError, match="unreadable timestamp reply"):
        token_from_reply(_der_sequence(status, broken), NOTE, NONCE)


def _der_sequence(*parts: bytes) -> bytes:
    """A DER SEQUENCE of ``parts`` (already DER), built by hand so nothing is re-parsed."""
    body = b"".join(parts)
    size = len(body)
    if size < 0x80:  # DER short length form
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x30" + length + body


def test_a_reply_to_another_request_is_refused(authority: Authority) -> None:
    """A token whose nonce differs answers someone else's request (a replayed reply)."""
    token = Token(nonce=NONCE + 1).build(authority)
    with pytest.raises(TimestampError, match="nonce differs"):
        token_from_reply(_reply("granted", token), NOTE, NONCE)


def test_a_reply_that_stamps_other_bytes_is_refused(authority: Authority) -> None:
    """A token over another checkpoint's note is not kept for this one."""
    token = Token(note=OTHER_NOTE).build(authority)
    with pytest.raises(TimestampError, match="other bytes than the checkpoint"):
        token_from_reply(_reply("granted", token), NOTE, NONCE)


# --- verifying a stored token ---------------------------------------------------------------


def test_a_good_token_verifies_and_says_when_by_whom_and_which_serial(
    authority: Authority,
) -> None:
    """The stamp carries the TSTInfo's genTime and serial and the TSA certificate's subject."""
    stamp = verify_token(Token().der(authority), NOTE, [authority.ca])
    assert stamp == Stamp(time=STAMPED_AT, tsa="CN=chartgate test TSA", serial=SERIAL)


@pytest.mark.parametrize("digest", ["sha384", "sha512"])
def test_an_rsa_tsa_signing_with_a_longer_digest_verifies(digest: str) -> None:
    """RSA PKCS#1 v1.5 TSAs and SHA-384/512 signed attributes are accepted, not just EC/SHA-256."""
    rsa_tsa = _authority(tsa_key="rsa")
    stamp = verify_token(Token(digest=digest).der(rsa_tsa), NOTE, [rsa_tsa.ca])
    assert stamp.time == STAMPED_AT


def test_the_tsa_certificate_itself_may_be_the_trusted_one(authority: Authority) -> None:
    """Trusting the TSA's own certificate (no CA) verifies its tokens."""
    assert verify_token(Token().der(authority), NOTE, [authority.tsa]).serial == SERIAL


def test_a_trusted_list_is_searched_past_certificates_that_did_not_issue_the_tsa(
    authority: Authority,
) -> None:
    """An unrelated trusted CA before the right one does not stop the search."""
    unrelated = _authority(ca_name="another TSA CA").ca
    assert verify_token(Token().der(authority), NOTE, [unrelated, authority.ca]).serial == SERIAL


def test_a_ca_with_the_same_name_but_another_key_is_not_trusted(authority: Authority) -> None:
    """An impostor CA named like the real one does not make the TSA trusted (its key differs)."""
    impostor = _authority().ca
    assert impostor.subject == authority.ca.subject
    with pytest.raises(TimestampError, match="not one of the trusted TSA certificates"):
        verify_token(Token().der(authority), NOTE, [impostor])


def test_no_trusted_certificate_trusts_nothing(authority: Authority) -> None:
    """An empty trust list refuses every token (security defaults closed)."""
    with pytest.raises(TimestampError, match="not one of the trusted"):
        verify_token(Token().der(authority), NOTE, [])


def test_a_token_over_another_note_is_refused(authority: Authority) -> None:
    """The stored token opens only for the note it stamped."""
    with pytest.raises(TimestampError, match="stamps other bytes than this checkpoint"):
        verify_token(Token().der(authority), OTHER_NOTE, [authority.ca])


def test_an_imprint_that_is_not_sha256_is_refused(authority: Authority) -> None:
    """A SHA-384 imprint (even of the right bytes) is not what chartgate asked for."""
    token = Token(imprint_algorithm="sha384", hashed=hashlib.sha384(NOTE.encode()).digest())
    with pytest.raises(TimestampError, match="not SHA-256"):
        verify_token(token.der(authority), NOTE, [authority.ca])


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x02\x01", b"not a token at all"])
def test_bytes_that_are_no_token_are_malformed(garbage: bytes) -> None:
    """Truncated or foreign bytes are refused as a malformed token, never a traceback."""
    with pytest.raises(TimestampError, match="malformed timestamp token"):
        verify_token(garbage, NOTE, [])


def test_a_content_info_that_is_not_signed_data_is_refused() -> None:
    """A CMS ``data`` ContentInfo is not a signed token."""
    plain = cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump()
    with pytest.raises(TimestampError, match="not CMS SignedData"):
        verify_token(plain, NOTE, [])


def test_signed_data_over_something_other_than_a_tstinfo_is_refused(
    authority: Authority,
) -> None:
    """SignedData whose content is not a TSTInfo says so."""
    with pytest.raises(TimestampError, match="does not carry a TSTInfo"):
        verify_token(Token(encapsulated="data").der(authority), NOTE, [authority.ca])


def test_a_signer_named_by_key_id_is_refused(authority: Authority) -> None:
    """The signer certificate is found by issuer and serial only, never by key id."""
    with pytest.raises(TimestampError, match="by key id"):
        verify_token(Token(by_key_id=True).der(authority), NOTE, [authority.ca])


def test_a_token_without_its_signer_certificate_is_refused(authority: Authority) -> None:
    """No certificate in the token: nothing to check the signature with."""
    with pytest.raises(TimestampError, match="does not carry its signer's certificate"):
        verify_token(Token(with_certificate=False).der(authority), NOTE, [authority.ca])


def test_a_token_carrying_another_certificate_than_its_signers_is_refused(
    authority: Authority,
) -> None:
    """A certificate whose issuer and serial are not the signer's is not taken as the signer's."""
    token = Token().build(authority)
    other = asn1_x509.Certificate.load(_authority().tsa.public_bytes(serialization.Encoding.DER))
    token["content"]["certificates"] = [cms.CertificateChoices(name="certificate", value=other)]
    with pytest.raises(TimestampError, match="does not carry its signer's certificate"):
        verify_token(token.dump(), NOTE, [authority.ca])


def test_a_digest_chartgate_does_not_accept_is_refused(authority: Authority) -> None:
    """SHA-1 signed attributes are refused by name before anything is trusted."""
    with pytest.raises(TimestampError, match="unsupported digest sha1"):
        verify_token(Token(digest="sha1").der(authority), NOTE, [authority.ca])


def test_signed_attributes_over_another_tstinfo_are_refused(authority: Authority) -> None:
    """The signature is good but over a message digest of other TSTInfo bytes: refused."""
    token = Token(signed_digest=hashlib.sha256(b"another TSTInfo").digest())
    with pytest.raises(TimestampError, match="TSTInfo does not match its signed digest"):
        verify_token(token.der(authority), NOTE, [authority.ca])


def test_a_changed_signature_is_refused(authority: Authority) -> None:
    """One bit of the signature changed: the signature does not verify."""
    with pytest.raises(TimestampError, match="signature does not verify"):
        verify_token(Token(tamper_signature=True).der(authority), NOTE, [authority.ca])


def test_a_changed_stamped_time_is_refused(authority: Authority) -> None:
    """A genTime moved after signing breaks the signed digest: no earlier time can be claimed."""
    token = Token().build(authority)
    info = token["content"]["encap_content_info"]["content"].parsed
    info["gen_time"] = datetime(2026, 3, 1, tzinfo=UTC)
    token["content"]["encap_content_info"] = {"content_type": "tst_info", "content": info}
    with pytest.raises(TimestampError, match="does not match its signed digest"):
        verify_token(token.dump(), NOTE, [authority.ca])


def test_a_tsa_key_of_another_type_is_refused() -> None:
    """An Ed25519 TSA key is not one chartgate verifies (RSA and EC only)."""
    ed_tsa = _authority(tsa_key="ed25519")
    with pytest.raises(TimestampError, match="unsupported TSA key type"):
        verify_token(Token().der(ed_tsa), NOTE, [ed_tsa.ca])


def test_a_certificate_not_marked_for_time_stamping_is_refused() -> None:
    """A correctly signed token from a certificate without extendedKeyUsage: not a TSA."""
    plain = _authority(usage=None)
    with pytest.raises(TimestampError, match="not marked for time stamping"):
        verify_token(Token().der(plain), NOTE, [plain.ca])


@pytest.mark.parametrize(
    ("usage", "critical"),
    [
        (
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING]
            ),
            True,
        ),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), True),
        (_EKU, False),
    ],
    ids=["also-code-signing", "code-signing-only", "not-critical"],
)
def test_a_certificate_not_for_time_stamping_only_is_refused(
    usage: x509.ExtendedKeyUsage, critical: bool
) -> None:
    """RFC 3161 2.3: the one usage, timeStamping, marked critical; anything else is refused."""
    other = _authority(usage=usage, critical=critical)
    with pytest.raises(TimestampError, match="not for time stamping only"):
        verify_token(Token().der(other), NOTE, [other.ca])


@pytest.mark.parametrize(
    "at",
    [datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)],
    ids=["before-valid", "after-expiry"],
)
def test_a_time_outside_the_certificates_validity_is_refused(
    authority: Authority, at: datetime
) -> None:
    """A token stamped before the TSA certificate was valid, or after it expired, is refused."""
    with pytest.raises(TimestampError, match="not valid at the stamped time"):
        verify_token(Token(at=at).der(authority), NOTE, [authority.ca])


# --- trusted certificates, checkpoints and the exported file ---------------------------------


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def test_every_certificate_of_a_pem_file_is_trusted(authority: Authority) -> None:
    """A PEM bundle gives each of its certificates, in order."""
    assert load_certificates(_pem(authority.ca, authority.tsa)) == [authority.ca, authority.tsa]


@pytest.mark.parametrize("pem", [b"", b"-----BEGIN CERTIFICATE-----\nnot base64\n"])
def test_a_file_without_a_certificate_is_refused_in_words(pem: bytes) -> None:
    """An empty or broken TSA certificate file is a TimestampError that says what is wrong."""
    with pytest.raises(TimestampError, match="no certificate in the TSA certificate file"):
        load_certificates(pem)


def test_checkpoints_are_matched_to_their_tokens_by_size(authority: Authority) -> None:
    """Each token is checked against the note of its size; all verify, no failure."""
    tokens = [(3, Token().der(authority)), (4, Token(note=OTHER_NOTE).der(authority))]
    verified, failure = check_stamps(
        ["not a checkpoint\n", NOTE, OTHER_NOTE], tokens, [authority.ca]
    )
    assert failure is None
    assert [s.serial for s in verified] == [SERIAL, SERIAL]


def test_the_first_bad_token_stops_the_check_and_names_its_size(authority: Authority) -> None:
    """The stamps before it are returned as verified; the failure names the size and the cause."""
    tokens = [(3, Token().der(authority)), (4, Token().der(authority))]  # size 4 stamps note 3
    verified, failure = check_stamps([NOTE, OTHER_NOTE], tokens, [authority.ca])
    assert len(verified) == 1
    assert failure == "timestamp for size 4: the token stamps other bytes than this checkpoint"


def test_a_token_for_a_checkpoint_the_log_does_not_show_is_a_failure(
    authority: Authority,
) -> None:
    """A token for size 9 when no note of size 9 exists stamps something the log never signed."""
    verified, failure = check_stamps([NOTE], [(9, Token().der(authority))], [authority.ca])
    assert verified == []
    assert failure == "timestamp for size 9: no signed checkpoint of that size"


def test_the_exported_timestamps_file_is_read_line_by_line() -> None:
    """JSON lines of size and base64 token; blank lines are skipped."""
    text = '{"size": 3, "token": "AAEC"}\n\n{"size": "4", "token": ""}\n'
    assert read_stamps(text) == [(3, b"\x00\x01\x02"), (4, b"")]


def _files(tmp_path: Path, authority: Authority, stamps: str) -> tuple[Path, Path, Path]:
    notes = tmp_path / "clinic-a.checkpoints"
    notes.write_text(NOTE + "\n" + OTHER_NOTE, encoding="utf-8")
    timestamps = tmp_path / "clinic-a.timestamps"
    timestamps.write_text(stamps, encoding="utf-8")
    certificates = tmp_path / "tsa.pem"
    certificates.write_bytes(_pem(authority.ca))
    return notes, timestamps, certificates


def _line(size: int, token: bytes) -> str:
    return json.dumps({"size": size, "token": base64.b64encode(token).decode()}) + "\n"


def test_the_offline_verifier_accepts_an_exported_file_whose_tokens_all_verify(
    tmp_path: Path, authority: Authority
) -> None:
    """Notes, tokens and the trusted TSA CA on disk: no failure."""
    stamps = _line(3, Token().der(authority)) + _line(4, Token(note=OTHER_NOTE).der(authority))
    assert verify_stamp_files(*_files(tmp_path, authority, stamps)) is None


def test_the_offline_verifier_reports_a_token_that_does_not_verify(
    tmp_path: Path, authority: Authority
) -> None:
    """A token of another TSA in the file is reported with its size."""
    stamps = _line(3, Token().der(_authority()))
    failure = verify_stamp_files(*_files(tmp_path, authority, stamps))
    assert failure == (
        "timestamp for size 3: the TSA certificate is not one of the trusted TSA certificates"
    )


@pytest.mark.parametrize(
    "stamps",
    ['{"size": 3}\n', '{"size": 3, "token": "!!"}\n', "not json\n", '{"size": "x", "token": ""}'],
    ids=["no-token", "bad-base64", "not-json", "bad-size"],
)
def test_the_offline_verifier_reports_an_unreadable_timestamps_file(
    tmp_path: Path, authority: Authority, stamps: str
) -> None:
    """A damaged timestamps file is reported as unreadable (with the error kind), not a crash."""
    failure = verify_stamp_files(*_files(tmp_path, authority, stamps))
    assert failure is not None
    assert failure.startswith("unreadable timestamps file (")


def test_the_offline_verifier_refuses_an_empty_timestamps_file(
    tmp_path: Path, authority: Authority
) -> None:
    """Asked to check timestamps and given none: that is a failure, not a pass."""
    assert verify_stamp_files(*_files(tmp_path, authority, "\n")) == "no timestamp in the file"


def test_the_offline_verifier_needs_the_tsa_certificate(
    tmp_path: Path, authority: Authority
) -> None:
    """Without --tsa-cert nothing would be trusted: a usage error naming the option."""
    notes, timestamps, _ = _files(tmp_path, authority, "")
    with pytest.raises(ValueError, match="--tsa-cert"):
        verify_stamp_files(notes, timestamps, None)
