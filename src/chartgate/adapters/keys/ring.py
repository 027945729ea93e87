# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""A ring of key-encryption keys behind one ``KeyProvider``, and the count of key uses.

A ring holds every KEK the deployment still has (the current one and those it replaced);
``wrap`` uses the current one, ``unwrap`` the one whose id the wrapped blob names. That is
what lets ``chartgate keys rotate --kek`` re-wrap tenant data keys while traffic flows: a
blob wrapped under the old KEK and one re-wrapped under the new both open (docs/keys.md).

Wrapped layout (the local provider's since the beginning, now every provider's)::

    0x01 | KEK id (8 bytes) | nonce (12) | AES-256-GCM(DEK) || tag, AAD = 0x01 | id | context

Where the AES-GCM runs is the KEK's business: in process for a key file, inside the HSM
for a PKCS#11 token, so such a KEK never leaves it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Final, Protocol

from chartgate.adapters.keys.usage import KeyUsage
from chartgate.domain.errors import DecryptionError, KeyCustodyError

WRAP_FORMAT: Final = 1
NONCE_BYTES: Final = 12
KEY_ID_BYTES: Final = 8
_HEADER: Final = 1 + KEY_ID_BYTES


class Kek(Protocol):
    """One AES-256 key-encryption key, wherever its bytes live."""

    @property
    def key_id(self) -> str:
        """16 hex digits naming the key (never derived from anything secret in a log)."""
        ...

    def seal(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        """AES-256-GCM encrypt ``data``; return ciphertext || tag."""
        ...

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """AES-256-GCM decrypt; raise ``DecryptionError`` when the tag does not verify."""
        ...


class KekRing:
    """A ``KeyProvider`` over several KEKs; ``current`` names the one that wraps.

    ``current`` is a callable so a rotation made by another replica (recorded in the store)
    is followed without a restart; the ring only has to hold that key.
    """

    def __init__(
        self,
        keks: Mapping[str, Kek],
        current: Callable[[], str],
        usage: KeyUsage | None = None,
        refresh: Callable[[], Mapping[str, Kek]] | None = None,
    ) -> None:
        self._keks = dict(keks)
        self._current = current
        self._usage = usage or KeyUsage()
        self._refresh = refresh

    @property
    def key_ids(self) -> frozenset[str]:
        """Every KEK id this ring can unwrap with."""
        return frozenset(self._keks)

    @property
    def key_id(self) -> str:
        """The id of the KEK that wraps now."""
        return self._current()

    def kek(self, key_id: str) -> Kek:
        """The KEK with this id; ``KeyCustodyError`` when this process cannot reach it."""
        kek = self._find(key_id)
        if kek is None:
            raise KeyCustodyError(f"key-encryption key {key_id} is not reachable here")
        return kek

    def _find(self, key_id: str) -> Kek | None:
        """The KEK with this id, looking once more in the token for one made since start."""
        kek = self._keks.get(key_id)
        if kek is None and self._refresh is not None:
            self._keks = dict(self._refresh())
            kek = self._keks.get(key_id)
        return kek

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        """Encrypt ``dek`` under the current KEK, bound to ``context``."""
        key_id = self.key_id
        kek = self.kek(key_id)
        header = bytes([WRAP_FORMAT]) + bytes.fromhex(key_id)
        nonce = os.urandom(NONCE_BYTES)
        sealed = kek.seal(nonce, dek, header + context)
        self._usage.count("kek", "wrap")
        return header + nonce + sealed

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Open a wrapped DEK with the KEK it names; ``DecryptionError`` when it does not."""
        if len(wrapped) <= _HEADER + NONCE_BYTES or wrapped[0] != WRAP_FORMAT:
            raise DecryptionError("wrapped data key format not recognised")
        kek = self._find(wrapped[1:_HEADER].hex())
        if kek is None:
            raise DecryptionError("data key was wrapped by another key-encryption key")
        nonce = wrapped[_HEADER : _HEADER + NONCE_BYTES]
        self._usage.count("kek", "unwrap")
        return kek.open(nonce, wrapped[_HEADER + NONCE_BYTES :], wrapped[:_HEADER] + context)

    def wrapped_by(self, wrapped: bytes) -> str | None:
        """The KEK id a wrapped DEK names (None for an unknown format)."""
        if len(wrapped) <= _HEADER or wrapped[0] != WRAP_FORMAT:
            return None
        return wrapped[1:_HEADER].hex()
