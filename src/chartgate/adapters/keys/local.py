# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The local key provider (KEKs in a 0600 file) and an in-memory wrapped-key store.

The local provider is for dev mode and single-host trials (docs/keys.md); a deployment
uses a PKCS#11 token (``adapters/keys/pkcs11.py``). The key file holds one KEK per line as
URL-safe base64, newest first: ``chartgate keys rotate --kek`` adds a line, and the older
lines stay so data keys wrapped under them still open. Outside dev mode the file is made
only by ``chartgate keys init``; a missing file is an error, never a fresh key.
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

from chartgate.adapters.keys.ring import KEY_ID_BYTES, KekRing
from chartgate.adapters.keys.usage import KeyUsage
from chartgate.domain.errors import DecryptionError, KeyCustodyError, KeyFileError

KEK_BYTES: Final = 32
_MAX_KEYS: Final = 32
_MAX_KEY_FILE_BYTES: Final = 64 * _MAX_KEYS


class LocalKek:
    """One KEK held in process memory (AES-256-GCM by ``cryptography``)."""

    def __init__(self, kek: bytes) -> None:
        self._aead = AESGCM(kek)
        digest = hmac.new(kek, b"chartgate kek id v1", hashlib.sha256).digest()
        self._key_id = digest[:KEY_ID_BYTES].hex()

    @property
    def key_id(self) -> str:
        """A short fingerprint of the KEK (an HMAC of a label, not the key)."""
        return self._key_id

    def seal(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        """Encrypt with AES-256-GCM."""
        return self._aead.encrypt(nonce, data, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Decrypt with AES-256-GCM; ``DecryptionError`` on a bad tag."""
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag as e:
            raise DecryptionError("wrapped data key does not open") from e


class LocalKeyProvider(KekRing):
    """KEKs kept in a local 0600 file; wraps DEKs with the newest (first line) by default.

    ``create`` (dev mode, ``keys init``) makes the file with one fresh key when missing;
    otherwise a missing file raises ``KeyCustodyError``. A file with any group or other
    permission bit is refused rather than repaired, so an operator notices that the key
    may already have been exposed.
    """

    def __init__(
        self,
        kek_path: str | os.PathLike[str],
        *,
        create: bool = False,
        usage: KeyUsage | None = None,
    ) -> None:
        path = Path(kek_path)
        if path.exists():
            keys = _read_key_file(path)
        elif create:
            keys = [_create_key_file(path)]
        else:
            raise KeyCustodyError(
                f"{path}: no key-encryption key file; run `chartgate keys init` "
                "(or set CHARTGATE_KEY_FILE to the store's key)"
            )
        keks = [LocalKek(k) for k in keys]
        self.path = path
        self._newest = keks[0].key_id
        self._chosen: str | None = None
        super().__init__({k.key_id: k for k in keks}, lambda: self._chosen or self._newest, usage)

    def use(self, key_id: str) -> None:
        """Wrap with this KEK from now on (the store's current one; it must be in the file)."""
        self.kek(key_id)
        self._chosen = key_id


def add_key(path: Path) -> str:
    """Prepend a fresh KEK to the key file (``keys rotate --kek``); return its id."""
    keys = _read_key_file(path)
    if len(keys) >= _MAX_KEYS:
        raise KeyFileError(f"key file holds {_MAX_KEYS} keys already; retire old ones first")
    fresh = os.urandom(KEK_BYTES)
    _write_atomically(path, [fresh, *keys], replace=True)
    return LocalKek(fresh).key_id


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

    def tenants(self) -> list[str]:
        """Every tenant with a stored DEK."""
        return sorted(self._blobs)

    def replace_wrapped(self, tenant: str, old: bytes, new: bytes) -> bool:
        """Swap the tenant's blob from ``old`` to ``new``; False when it was not ``old``."""
        with self._lock:
            if self._blobs.get(tenant) != old:
                return False
            self._blobs[tenant] = new
            return True


def _read_key_file(path: Path) -> list[bytes]:
    """Read and check the KEK file: regular, no group/other bits, lines of 32-byte base64."""
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError("key file is not a regular file")
        if info.st_mode & 0o077:
            raise KeyFileError("key file must not be accessible by group or others (chmod 600)")
        text = handle.read(_MAX_KEY_FILE_BYTES + 1)
    if len(text) > _MAX_KEY_FILE_BYTES:
        raise KeyFileError("key file is too large")
    keys = []
    for line in text.split():
        try:
            kek = base64.urlsafe_b64decode(line)
        except (binascii.Error, ValueError) as e:
            raise KeyFileError("key file is not base64") from e
        if len(kek) != KEK_BYTES:
            raise KeyFileError("key file must hold exactly 32 bytes per line")
        keys.append(kek)
    if not keys:
        raise KeyFileError("key file holds no key")
    return keys


def _create_key_file(path: Path) -> bytes:
    """Write a fresh KEK to ``path`` (mode 0600), never over an existing file.

    If a racing process created the file first, its key is the one returned.
    """
    kek = os.urandom(KEK_BYTES)
    if not _write_atomically(path, [kek], replace=False):
        return _read_key_file(path)[0]
    return kek


def _write_atomically(path: Path, keys: list[bytes], *, replace: bool) -> bool:
    """Write ``keys`` to a private temporary file, then link (new) or rename (replace) it.

    A process reading meanwhile sees the old file or the new one, never half of one.
    Returns False when ``replace`` is off and the file appeared meanwhile.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact anyway
        os.write(fd, b"".join(base64.urlsafe_b64encode(k) + b"\n" for k in keys))
        os.fsync(fd)
    finally:
        os.close(fd)
    if replace:
        temp.replace(path)
        return True
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink()
    return True
