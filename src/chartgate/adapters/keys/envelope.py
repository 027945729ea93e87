# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Envelope encryption: clinical content under a per-tenant data key, wrapped by a KEK.

Every tenant gets one random AES-256 data-encryption key (DEK), generated on first use and
stored only in wrapped form (encrypted by a key-encryption key that never leaves its
``KeyProvider``: a local key file, Vault transit or a cloud KMS). Content is sealed with
AES-256-GCM, and the additional authenticated data always binds the tenant and the caller's
record context, so a ciphertext copied to another row or another tenant fails to open.

Ciphertext layout (version 1)::

    0x01 | dek_id (8 bytes) | nonce (12 bytes) | AES-GCM ciphertext || tag (16 bytes)

Stored wrapped-DEK layout (version 1), opaque to the ``DataKeyStore``::

    0x01 | dek_id (8 bytes) | provider-wrapped DEK (the provider's own format)

Random 96-bit nonces keep one DEK safe for about 2**32 encryptions (NIST SP 800-38D 8.3);
rotate a tenant's DEK long before that.
"""

from __future__ import annotations

import os
import struct
import threading
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chartgate.domain.errors import DecryptionError

BLOB_VERSION: Final = 1
WRAPPED_VERSION: Final = 1
DEK_ID_BYTES: Final = 8
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
DEK_BYTES: Final = 32
_HEADER_BYTES: Final = 1 + DEK_ID_BYTES + NONCE_BYTES
_DATA_LABEL: Final = b"chartgate/data/v1"
_WRAP_LABEL: Final = b"chartgate/dek/v1"
_DERIVE_LABEL: Final = b"chartgate/derive/v1"


class KeyProvider(Protocol):
    """Holds a key-encryption key and wraps/unwraps data keys with it.

    ``context`` is bound into the wrapping (AAD, Vault derivation context, KMS encryption
    context) so a wrapped DEK moved to another tenant's row fails to unwrap.
    """

    @property
    def key_id(self) -> str:
        """Return a short, non-secret id of the current KEK (for logs and rotation)."""
        ...

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        """Return ``dek`` encrypted under the KEK and bound to ``context``."""
        ...

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Return the DEK inside ``wrapped``; raise ``DecryptionError`` if it does not open."""
        ...


class DataKeyStore(Protocol):
    """Where each tenant's wrapped DEK lives (a table row in production).

    ``put_wrapped`` must be insert-if-absent and never overwrite: when two processes create
    a tenant's first DEK at once, the first stored one wins and ``EnvelopeCipher`` re-reads
    it, so no ciphertext is ever sealed under a key that was then lost.
    """

    def get_wrapped(self, tenant: str) -> bytes | None:
        """Return the tenant's stored wrapped DEK, or None when it has none yet."""
        ...

    def put_wrapped(self, tenant: str, blob: bytes) -> None:
        """Store ``blob`` for the tenant unless one is already stored (then do nothing)."""
        ...


def _frame(*parts: bytes) -> bytes:
    """Length-prefix each part so that no two different part lists encode alike.

    Plain concatenation would let ("ab", "c") and ("a", "bc") produce the same AAD.
    """
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def _wrap_context(tenant: str, dek_id: bytes) -> bytes:
    """Context under which a tenant's DEK is wrapped: label, tenant, DEK id."""
    return _frame(_WRAP_LABEL, tenant.encode(), dek_id)


def _data_aad(tenant: str, dek_id: bytes, aad: bytes) -> bytes:
    """Full AAD of one ciphertext: format version, DEK id, tenant and the caller's context."""
    return _frame(_DATA_LABEL, bytes([BLOB_VERSION]), dek_id, tenant.encode(), aad)


def rewrap_stored(provider: KeyProvider, tenant: str, stored: bytes) -> bytes:
    """Return a stored wrapped DEK re-wrapped under the provider's current KEK.

    The DEK and its id do not change, so every ciphertext sealed under it still opens.
    """
    if len(stored) <= 1 + DEK_ID_BYTES or stored[0] != WRAPPED_VERSION:
        raise DecryptionError("wrapped data key format not recognised")
    dek_id = stored[1 : 1 + DEK_ID_BYTES]
    context = _wrap_context(tenant, dek_id)
    dek = provider.unwrap(stored[1 + DEK_ID_BYTES :], context=context)
    return stored[: 1 + DEK_ID_BYTES] + provider.wrap(dek, context=context)


class EnvelopeCipher:
    """Seals and opens clinical content for one tenant at a time.

    Unwrapped DEKs are cached in memory for the life of the cipher (one KEK round trip per
    tenant per process); the cache holds only keys of tenants this process has served.
    """

    def __init__(self, provider: KeyProvider, store: DataKeyStore) -> None:
        self._provider = provider
        self._store = store
        self._deks: dict[str, tuple[bytes, AESGCM]] = {}
        self._lock = threading.Lock()

    def encrypt(self, tenant: str, plaintext: bytes, *, aad: bytes) -> bytes:
        """Seal ``plaintext`` for ``tenant``; ``aad`` should name the record (table, id, field).

        The same ``aad`` must be given to ``decrypt``; it is authenticated, not stored.
        """
        dek_id, aead = self._dek(tenant)
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext, _data_aad(tenant, dek_id, aad))
        return bytes([BLOB_VERSION]) + dek_id + nonce + sealed

    def decrypt(self, tenant: str, blob: bytes, *, aad: bytes) -> bytes:
        """Open a blob made by ``encrypt`` for the same tenant and ``aad``.

        Raises ``DecryptionError`` for a wrong tenant, wrong ``aad``, unknown DEK, unknown
        format version or any altered byte.
        """
        if len(blob) < _HEADER_BYTES + TAG_BYTES or blob[0] != BLOB_VERSION:
            raise DecryptionError("ciphertext format not recognised")
        dek_id = blob[1 : 1 + DEK_ID_BYTES]
        nonce = blob[1 + DEK_ID_BYTES : _HEADER_BYTES]
        current_id, aead = self._dek(tenant, create=False)
        if dek_id != current_id:
            raise DecryptionError("ciphertext does not open for this tenant")
        try:
            return aead.decrypt(nonce, blob[_HEADER_BYTES:], _data_aad(tenant, dek_id, aad))
        except InvalidTag as e:
            raise DecryptionError("ciphertext does not open for this tenant") from e

    def derive_key(self, tenant: str, purpose: bytes) -> bytes:
        """Return a 32-byte key for ``purpose``, derived (HKDF-SHA256) from the tenant's DEK.

        Used for keys that must die with the tenant's data, such as the audit ledger's
        patient pseudonyms: shredding the DEK also makes those HMACs unlinkable. Callers
        cache the result; each call costs one KEK unwrap.
        """
        dek_id, _ = self._dek(tenant)
        stored = self._store.get_wrapped(tenant)
        if stored is None or stored[1 : 1 + DEK_ID_BYTES] != dek_id:
            raise DecryptionError("tenant data key changed while deriving")
        dek = self._provider.unwrap(
            stored[1 + DEK_ID_BYTES :], context=_wrap_context(tenant, dek_id)
        )
        info = _frame(_DERIVE_LABEL, tenant.encode(), purpose)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=DEK_BYTES, salt=dek_id, info=info)
        return hkdf.derive(dek)

    def _dek(self, tenant: str, *, create: bool = True) -> tuple[bytes, AESGCM]:
        """Return the tenant's (DEK id, cipher), unwrapping or creating the DEK once."""
        cached = self._deks.get(tenant)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._deks.get(tenant)
            if cached is not None:
                return cached
            stored = self._store.get_wrapped(tenant)
            if stored is None:
                if not create:
                    raise DecryptionError("tenant has no data key")
                self._store.put_wrapped(tenant, self._new_wrapped_dek(tenant))
                # Re-read: another process may have stored its DEK first, and that one wins.
                stored = self._store.get_wrapped(tenant)
                if stored is None:
                    raise DecryptionError("data key store did not keep the tenant's key")
            entry = self._unwrap_stored(tenant, stored)
            self._deks[tenant] = entry
            return entry

    def _new_wrapped_dek(self, tenant: str) -> bytes:
        """Generate a fresh DEK and return it in stored (wrapped) form."""
        dek_id = os.urandom(DEK_ID_BYTES)
        dek = AESGCM.generate_key(bit_length=DEK_BYTES * 8)
        wrapped = self._provider.wrap(dek, context=_wrap_context(tenant, dek_id))
        return bytes([WRAPPED_VERSION]) + dek_id + wrapped

    def _unwrap_stored(self, tenant: str, stored: bytes) -> tuple[bytes, AESGCM]:
        """Parse a stored wrapped DEK and unwrap it with the provider."""
        if len(stored) <= 1 + DEK_ID_BYTES or stored[0] != WRAPPED_VERSION:
            raise DecryptionError("wrapped data key format not recognised")
        dek_id = stored[1 : 1 + DEK_ID_BYTES]
        dek = self._provider.unwrap(
            stored[1 + DEK_ID_BYTES :], context=_wrap_context(tenant, dek_id)
        )
        if len(dek) != DEK_BYTES:
            raise DecryptionError("wrapped data key has the wrong size")
        return dek_id, AESGCM(dek)
