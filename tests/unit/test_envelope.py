# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Envelope encryption: per-tenant data keys wrapped by a local KEK file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.keys.local import InMemoryDataKeyStore, LocalKeyProvider
from chartgate.domain.errors import DecryptionError, KeyFileError

if TYPE_CHECKING:
    from pathlib import Path

NOTE = b"## Subjective\nSynthetic patient reports a mild cough.\n"
AAD = b"draft_versions/7f1c0e2a-0000-4000-8000-000000000001/note_text"


@pytest.fixture
def kek_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "kek.key"


@pytest.fixture
def store() -> InMemoryDataKeyStore:
    return InMemoryDataKeyStore()


@pytest.fixture
def cipher(kek_path: Path, store: InMemoryDataKeyStore) -> EnvelopeCipher:
    return EnvelopeCipher(LocalKeyProvider(kek_path, create=True), store)


def test_roundtrip_returns_the_plaintext(cipher: EnvelopeCipher) -> None:
    """What is encrypted for a tenant and record decrypts back to the same bytes."""
    blob = cipher.encrypt("clinic-a", NOTE, aad=AAD)
    assert NOTE not in blob
    assert blob[0] == 1
    assert cipher.decrypt("clinic-a", blob, aad=AAD) == NOTE


def test_ciphertext_does_not_open_for_another_tenant(cipher: EnvelopeCipher) -> None:
    """A ciphertext moved to another tenant's row cannot be decrypted there."""
    cipher.encrypt("clinic-b", b"warm up clinic-b's key", aad=AAD)
    blob = cipher.encrypt("clinic-a", NOTE, aad=AAD)
    with pytest.raises(DecryptionError):
        cipher.decrypt("clinic-b", blob, aad=AAD)


def test_ciphertext_does_not_open_for_a_tenant_without_a_key(cipher: EnvelopeCipher) -> None:
    """Decrypting for a tenant that never encrypted anything fails and creates no key."""
    blob = cipher.encrypt("clinic-a", NOTE, aad=AAD)
    with pytest.raises(DecryptionError):
        cipher.decrypt("clinic-z", blob, aad=AAD)


def test_ciphertext_does_not_open_for_another_record(cipher: EnvelopeCipher) -> None:
    """A ciphertext copied to another record (different AAD) fails to decrypt."""
    blob = cipher.encrypt("clinic-a", NOTE, aad=AAD)
    with pytest.raises(DecryptionError):
        cipher.decrypt("clinic-a", blob, aad=AAD.replace(b"0001", b"0002"))


@pytest.mark.parametrize("position", [0, 1, 9, 20, 21, -1])
def test_any_tampered_byte_is_detected(cipher: EnvelopeCipher, position: int) -> None:
    """Flipping one bit anywhere (version, key id, nonce, ciphertext, tag) fails decryption."""
    blob = bytearray(cipher.encrypt("clinic-a", NOTE, aad=AAD))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt("clinic-a", bytes(blob), aad=AAD)


def test_truncated_ciphertext_is_refused(cipher: EnvelopeCipher) -> None:
    """A blob too short to hold header and tag is refused without reaching AES-GCM."""
    blob = cipher.encrypt("clinic-a", NOTE, aad=AAD)
    with pytest.raises(DecryptionError):
        cipher.decrypt("clinic-a", blob[:30], aad=AAD)


def test_data_key_is_created_once_per_tenant_and_reused(
    kek_path: Path, store: InMemoryDataKeyStore
) -> None:
    """Each tenant gets one wrapped DEK; later encryptions, even by a new process, reuse it."""
    first = EnvelopeCipher(LocalKeyProvider(kek_path, create=True), store)
    blob_a = first.encrypt("clinic-a", NOTE, aad=AAD)
    first.encrypt("clinic-a", NOTE, aad=AAD)
    wrapped_a = store.get_wrapped("clinic-a")
    assert wrapped_a is not None

    restarted = EnvelopeCipher(LocalKeyProvider(kek_path, create=True), store)
    restarted.encrypt("clinic-a", NOTE, aad=AAD)
    assert store.get_wrapped("clinic-a") == wrapped_a
    assert restarted.decrypt("clinic-a", blob_a, aad=AAD) == NOTE


def test_tenants_have_distinct_data_keys(
    cipher: EnvelopeCipher, store: InMemoryDataKeyStore
) -> None:
    """Two tenants get different DEKs (different key ids and wrapped blobs)."""
    blob_a = cipher.encrypt("clinic-a", NOTE, aad=AAD)
    blob_b = cipher.encrypt("clinic-b", NOTE, aad=AAD)
    assert blob_a[1:9] != blob_b[1:9]
    assert store.get_wrapped("clinic-a") != store.get_wrapped("clinic-b")


def test_wrapped_key_swapped_between_tenants_does_not_unwrap(
    kek_path: Path, store: InMemoryDataKeyStore
) -> None:
    """A wrapped DEK copied into another tenant's row fails to unwrap (tenant-bound wrapping)."""
    cipher = EnvelopeCipher(LocalKeyProvider(kek_path, create=True), store)
    cipher.encrypt("clinic-a", NOTE, aad=AAD)
    wrapped_a = store.get_wrapped("clinic-a")
    assert wrapped_a is not None
    hijacked = InMemoryDataKeyStore()
    hijacked.put_wrapped("clinic-b", wrapped_a)
    with pytest.raises(DecryptionError):
        EnvelopeCipher(LocalKeyProvider(kek_path, create=True), hijacked).encrypt(
            "clinic-b", NOTE, aad=AAD
        )


class _RacingStore(InMemoryDataKeyStore):
    """A store where another process stores its DEK between our read and our write."""

    def __init__(self, competitor: bytes) -> None:
        super().__init__()
        self._competitor = competitor

    def put_wrapped(self, tenant: str, blob: bytes) -> None:
        super().put_wrapped(tenant, self._competitor)
        super().put_wrapped(tenant, blob)


def test_first_stored_data_key_wins_a_creation_race(kek_path: Path) -> None:
    """When another process stores a tenant's DEK first, the cipher uses that one, not its own."""
    provider = LocalKeyProvider(kek_path, create=True)
    other_process = InMemoryDataKeyStore()
    blob = EnvelopeCipher(provider, other_process).encrypt("clinic-a", NOTE, aad=AAD)
    competitor = other_process.get_wrapped("clinic-a")
    assert competitor is not None

    racing = _RacingStore(competitor)
    late = EnvelopeCipher(provider, racing)
    late_blob = late.encrypt("clinic-a", NOTE, aad=AAD)
    assert racing.get_wrapped("clinic-a") == competitor
    assert late_blob[1:9] == blob[1:9]
    assert late.decrypt("clinic-a", blob, aad=AAD) == NOTE


def test_missing_key_file_is_created_with_mode_0600(kek_path: Path) -> None:
    """A missing KEK file is created, owner-only readable, and reloads to the same key."""
    provider = LocalKeyProvider(kek_path, create=True)
    assert kek_path.stat().st_mode & 0o777 == 0o600
    assert LocalKeyProvider(kek_path, create=True).key_id == provider.key_id
    assert [p.name for p in kek_path.parent.iterdir()] == ["kek.key"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(kek_path: Path, mode: int) -> None:
    """A KEK file with any group or other permission bit is refused, not silently used."""
    LocalKeyProvider(kek_path, create=True)
    os.chmod(kek_path, mode)  # noqa: PTH101 - explicit mode change under test
    with pytest.raises(KeyFileError):
        LocalKeyProvider(kek_path, create=True)


def test_malformed_key_file_is_refused(kek_path: Path) -> None:
    """A KEK file that does not hold exactly 32 base64 bytes is refused."""
    kek_path.parent.mkdir()
    kek_path.write_bytes(b"c2hvcnQ=\n")
    kek_path.chmod(0o600)
    with pytest.raises(KeyFileError):
        LocalKeyProvider(kek_path, create=True)


def test_data_keys_do_not_open_under_another_kek(
    tmp_path: Path, store: InMemoryDataKeyStore
) -> None:
    """Wrapped DEKs made under one KEK are refused by a provider holding a different KEK."""
    EnvelopeCipher(LocalKeyProvider(tmp_path / "one.key", create=True), store).encrypt(
        "clinic-a", NOTE, aad=AAD
    )
    other = EnvelopeCipher(LocalKeyProvider(tmp_path / "two.key", create=True), store)
    with pytest.raises(DecryptionError):
        other.encrypt("clinic-a", NOTE, aad=AAD)
