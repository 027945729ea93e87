# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The local key provider (a KEK in a 0600 file) and an in-memory wrapped-key store.

The local provider is the embedded default (``chartgate demo``, single-host installs); Vault
transit or a cloud KMS implement the same ``KeyProvider`` Protocol. The key file holds the
32-byte KEK as one line of URL-safe base64 so it can be copied into a secret store as text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
import threading
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chartgate.domain.errors import DecryptionError, KeyFileError

KEK_BYTES: Final = 32
_WRAP_FORMAT: Final = 1
_NONCE_BYTES: Final = 12
_KEY_ID_BYTES: Final = 8
_MAX_KEY_FILE_BYTES: Final = 256


class LocalKeyProvider:
    """A KEK kept in a local file with mode 0600; wraps DEKs with AES-256-GCM.

    The file is created (with a fresh random key) when missing. An existing file with any
    group or other permission bit is refused rather than repaired, so an operator notices
    that the key may already have been exposed.
    """

    def __init__(self, kek_path: str | os.PathLike[str]) -> None:
        path = Path(kek_path)
        kek = _read_key_file(path) if path.exists() else _create_key_file(path)
        self._aead = AESGCM(kek)
        digest = hmac.new(kek, b"chartgate kek id v1", hashlib.sha256).digest()
        self._key_id = digest[:_KEY_ID_BYTES].hex()

    @property
    def key_id(self) -> str:
        """Return a short fingerprint of the KEK (an HMAC of a label, not the key)."""
        return self._key_id

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        """Encrypt ``dek`` under the KEK, bound to ``context``.

        Layout: ``0x01 | key id (8 bytes) | nonce (12) | ciphertext || tag``. AES-GCM (not
        RFC 3394 key wrap) because it authenticates the context, binding the DEK to its tenant.
        """
        key_id = bytes.fromhex(self._key_id)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, dek, bytes([_WRAP_FORMAT]) + key_id + context)
        return bytes([_WRAP_FORMAT]) + key_id + nonce + sealed

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Return the DEK inside ``wrapped``; raise ``DecryptionError`` when it does not open."""
        header = 1 + _KEY_ID_BYTES
        if len(wrapped) <= header + _NONCE_BYTES or wrapped[0] != _WRAP_FORMAT:
            raise DecryptionError("wrapped data key format not recognised")
        if wrapped[1:header].hex() != self._key_id:
            raise DecryptionError("data key was wrapped by another key-encryption key")
        nonce = wrapped[header : header + _NONCE_BYTES]
        try:
            return self._aead.decrypt(
                nonce, wrapped[header + _NONCE_BYTES :], wrapped[:header] + context
            )
        except InvalidTag as e:
            raise DecryptionError("wrapped data key does not open") from e


class InMemoryDataKeyStore:
    """Wrapped DEKs in a dict: for unit tests and throwaway demos only.

    Losing this store loses every tenant's data, which is exactly right for a test.
    """

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get_wrapped(self, tenant: str) -> bytes | None:
        """Return the tenant's wrapped DEK, or None."""
        return self._blobs.get(tenant)

    def put_wrapped(self, tenant: str, blob: bytes) -> None:
        """Store the blob unless the tenant already has one (first writer wins)."""
        with self._lock:
            self._blobs.setdefault(tenant, blob)


def _read_key_file(path: Path) -> bytes:
    """Read and check the KEK file: regular file, no group/other bits, 32 bytes of base64."""
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError("key file is not a regular file")
        if info.st_mode & 0o077:
            raise KeyFileError("key file must not be accessible by group or others (chmod 600)")
        text = handle.read(_MAX_KEY_FILE_BYTES + 1)
    if len(text) > _MAX_KEY_FILE_BYTES:
        raise KeyFileError("key file is too large")
    try:
        kek = base64.urlsafe_b64decode(text.strip())
    except (binascii.Error, ValueError) as e:
        raise KeyFileError("key file is not base64") from e
    if len(kek) != KEK_BYTES:
        raise KeyFileError("key file must hold exactly 32 bytes")
    return kek


def _create_key_file(path: Path) -> bytes:
    """Write a fresh KEK to ``path`` with mode 0600, atomically and never over an existing file.

    The key is written to a private temporary file and hard-linked into place, so a process
    racing us either sees no file or a complete one; if it won, its key is the one we use.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    kek = os.urandom(KEK_BYTES)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact anyway
        os.write(fd, base64.urlsafe_b64encode(kek) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        return _read_key_file(path)
    finally:
        temp.unlink()
    return kek
