"""RFC 3161 tokens from a local ``openssl ts`` TSA over HTTP: good ones verify, altered refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import cms

from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.processors import gate as processor_gate
from chartgate.adapters.tsa import HttpTimestamper
from chartgate.ledger.timestamp import TimestampError, check_stamps, load_certificates, verify_token
from chartgate.settings import ProcessorSettings, Settings
from tsa_server import Tsa, _certificates

NOTE = (
    "chartgate.example/clinic-a\n3\nq83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=\n"
    "\n\u2014 chartgate.example AAAA\n"
)


def _gate(tsa: Tsa) -> ProcessorGate:
    """The processor gate of settings that register the local TSA."""
    settings = Settings(dev_mode=True, processors=[ProcessorSettings(**tsa.processor())])
    return processor_gate(settings)


@pytest.fixture
def token(tsa: Tsa) -> bytes:
    """One token from the local TSA over NOTE."""
    client = HttpTimestamper(tsa.url, _gate(tsa))
    try:
        return client.token(NOTE)
    finally:
        client.close()


def test_a_token_from_the_tsa_verifies_against_its_note_and_trusted_ca(
    tsa: Tsa, token: bytes
) -> None:
    """The TSA's token names the TSA, a time, and opens only for the exact note it stamped."""
    trusted = load_certificates(tsa.ca_file.read_bytes())
    stamp = verify_token(token, NOTE, trusted)
    assert stamp.tsa == "CN=chartgate test TSA"
    with pytest.raises(TimestampError, match="other bytes"):
        verify_token(token, NOTE.replace("\n3\n", "\n4\n"), trusted)
    verified, failure = check_stamps([NOTE], [(3, token)], trusted)
    assert failure is None
    assert len(verified) == 1
    _, missing = check_stamps([NOTE], [(4, token)], trusted)
    assert missing is not None
    assert "no signed checkpoint" in missing


def test_a_tampered_token_is_refused(tsa: Tsa, token: bytes) -> None:
    """A changed time, a changed signature or another TSA's certificate: all refused."""
    trusted = load_certificates(tsa.ca_file.read_bytes())
    signed = cms.ContentInfo.load(token)["content"]
    tst = signed["encap_content_info"]["content"].contents
    at = token.find(tst)
    altered_time = bytearray(token)
    altered_time[at + len(tst) - 6] ^= 0x01  # inside the TSTInfo (genTime and after)
    with pytest.raises(TimestampError):
        verify_token(bytes(altered_time), NOTE, trusted)
    signature = signed["signer_infos"][0]["signature"].native
    where = token.find(signature)
    altered_signature = bytearray(token)
    altered_signature[where + 10] ^= 0x01
    with pytest.raises(TimestampError, match="signature"):
        verify_token(bytes(altered_signature), NOTE, trusted)
    other = tsa.folder.parent / "other-tsa"
    other.mkdir()
    _certificates(other)
    with pytest.raises(TimestampError, match="not one of the trusted"):
        verify_token(token, NOTE, load_certificates((other / "ca.pem").read_bytes()))


def test_a_tsa_that_refuses_or_is_not_a_tsa_gives_no_token(tsa: Tsa, tmp_path: Path) -> None:
    """An HTTP error or a body that is no TimeStampResp raises TimestampError, nothing stored."""
    (tsa.folder / "openssl.cnf").write_text("broken")  # openssl ts now fails: HTTP 400
    client = HttpTimestamper(tsa.url, _gate(tsa))
    try:
        with pytest.raises(TimestampError, match="HTTP 400"):
            client.token(NOTE)
    finally:
        client.close()
    del tmp_path
