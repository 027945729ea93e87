"""Sealing events, patient pseudonyms, the signing key file and the file anchor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chartgate.adapters.anchors import FileAnchor
from chartgate.adapters.keys.ledger_key import load_or_create
from chartgate.adapters.keys.pseudonyms import KeyedPseudonyms, normalise
from chartgate.domain.errors import LedgerKeyError
from chartgate.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from chartgate.ledger.merkle import CompactRange, leaf_hash
from chartgate.ledger.seal import identity, seal
from chartgate.service.audit import range_from_bytes, range_to_bytes


def test_a_sealed_event_names_its_tenant_and_seq_inside_the_hashed_bytes() -> None:
    """The leaf hash covers tenant and seq, so a row cannot be moved without notice."""
    entry = seal({"type": "draft.viewed", "tenant": "clinic-a"}, tenant="clinic-a", seq=7)
    assert entry.leaf_hash == leaf_hash(entry.canonical)
    tenant, seq, event = identity(entry.canonical)
    assert (tenant, seq, event["v"]) == ("clinic-a", 7, 1)
    assert entry.canonical == json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


def test_an_event_is_never_sealed_into_another_tenants_log() -> None:
    """An event that names clinic-b is refused for clinic-a's log."""
    with pytest.raises(ValueError, match="own tenant"):
        seal({"tenant": "clinic-b"}, tenant="clinic-a", seq=0)


def test_values_json_cannot_carry_are_sealed_as_text_not_lost() -> None:
    """A NaN (e.g. from a bad Retry-After) is stored as text instead of failing the write."""
    entry = seal({"data": {"retry": float("nan")}}, tenant="t", seq=0)
    assert identity(entry.canonical)[2]["data"]["retry"] == "nan"


def test_bytes_that_are_not_an_event_have_no_identity() -> None:
    """Garbage bytes give no tenant and no seq, for the verifier to report."""
    assert identity(b"\xff not json")[:2] == (None, None)
    assert identity(b"[1]")[:2] == (None, None)


def test_a_compact_range_round_trips_through_its_stored_bytes() -> None:
    """The head row's bytes give back the same range and root."""
    compact = CompactRange()
    compact.extend([leaf_hash(bytes([i])) for i in range(13)])
    again = range_from_bytes(range_to_bytes(compact), 13)
    assert again.root() == compact.root()
    with pytest.raises(ValueError, match="whole number"):
        range_from_bytes(b"short", 1)


def test_pseudonyms_are_stable_per_tenant_and_differ_across_tenants() -> None:
    """The same patient gets one pseudonym in a tenant, another in the next tenant."""
    pseudonyms = KeyedPseudonyms(lambda tenant, purpose: (tenant.encode() + purpose) * 2)
    a1 = pseudonyms.reference("clinic-a", "Patient/pat-001")
    assert a1.startswith("hmac-sha256:")
    assert pseudonyms.reference("clinic-a", "https://ehr.example/fhir/Patient/pat-001") == a1
    assert pseudonyms.reference("clinic-a", "Patient/pat-001/_history/3") == a1
    assert pseudonyms.reference("clinic-b", "Patient/pat-001") != a1
    assert pseudonyms.reference("clinic-a", a1) == a1  # a pseudonym passes through
    assert "pat-001" not in a1


def test_references_normalise_to_type_and_id() -> None:
    """Relative, absolute and versioned references name the same resource."""
    assert normalise(" Encounter/enc-1 ") == "Encounter/enc-1"
    assert normalise("https://x.example/R4/Encounter/enc-1/_history/2") == "Encounter/enc-1"
    assert normalise("not a reference") == "not a reference"


def test_the_signing_key_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    """A missing key file is created private; the next load finds the same key."""
    path = tmp_path / "keys" / "ledger.key"
    first = load_or_create(path, "chartgate.example")
    assert first.created
    assert path.stat().st_mode & 0o777 == 0o600
    second = load_or_create(path, "chartgate.example")
    assert not second.created
    assert second.vkey == first.vkey
    assert "PRIVATE" not in repr(second)


def test_a_signing_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A group- or world-readable key file stops start-up rather than sign with it."""
    path = tmp_path / "ledger.key"
    load_or_create(path, "chartgate.example")
    os.chmod(path, 0o644)  # noqa: PTH101 - the test sets the bad mode on purpose
    with pytest.raises(LedgerKeyError, match="0600"):
        load_or_create(path, "chartgate.example")


def test_the_file_anchor_keeps_every_note_and_returns_the_newest(tmp_path: Path) -> None:
    """Notes are appended per tenant and read back in order."""
    key = load_or_create(tmp_path / "k", "chartgate.example")
    anchor = FileAnchor(tmp_path / "anchors")
    notes = [
        sign_checkpoint(
            Checkpoint("chartgate.example/t", size, leaf_hash(bytes([size]))),
            key.name,
            key.private_key,
        )
        for size in (1, 2, 3)
    ]
    assert anchor.latest("t") is None
    for note in notes:
        anchor.publish("t", note)
    assert anchor.notes("t") == notes
    latest = anchor.latest("t")
    assert latest is not None
    assert open_checkpoint(latest, key.name, key.private_key.public_key()).size == 3
    with pytest.raises(ValueError, match="tenant"):
        anchor.path("../etc")
