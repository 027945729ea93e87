# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The ledger's Ed25519 checkpoint-signing key: in a 0600 file (dev) or in an HSM (PKCS#11).

One key per deployment signs every tenant's checkpoints; each tenant's log has its own
origin line (``<origin prefix>/<tenant>``), so a checkpoint of one tenant never verifies
as another's (docs/decisions/0010-ledger-in-the-store.md). The file holds a PKCS#8 PEM
(what ``openssl genpkey -algorithm ed25519`` writes); it is refused when group or others
may read it, and the private key is never logged, printed or returned. Outside dev mode
the file is written only by ``chartgate keys init`` and ``keys rotate --ledger``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from chartgate.domain.errors import KeyCustodyError, LedgerKeyError
from chartgate.ledger.checkpoint import NoteSigningKey, NoteVerifier

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from chartgate.adapters.keys.usage import KeyUsage

_MAX_KEY_FILE_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class LedgerSigningKey:
    """The deployment's checkpoint key: its note key name and its private half.

    ``created`` says this process generated it (recorded as a ``key.created`` event).
    ``retired`` are the verifiers of keys it replaced: their checkpoints stay valid.
    """

    name: str
    private_key: NoteSigningKey = field(repr=False)
    created: bool = False
    retired: tuple[NoteVerifier, ...] = ()

    @property
    def verifier(self) -> NoteVerifier:
        """The public half as a signed-note verifier (its ``vkey`` is what verifiers pin)."""
        return NoteVerifier.from_key(self.name, self.private_key.public_key())

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<key id>+<base64 key>`` to publish and pin."""
        return self.verifier.vkey

    @property
    def verifiers(self) -> tuple[NoteVerifier, ...]:
        """The current verifier first, then every retired one (all still verify)."""
        return (self.verifier, *self.retired)


class CountedSigner:
    """Wraps a signing key so every signature is counted (``chartgate_key_uses_total``)."""

    def __init__(self, key: NoteSigningKey, usage: KeyUsage) -> None:
        self._key = key
        self._usage = usage

    def sign(self, data: bytes) -> bytes:
        """Sign and count one ``ledger``/``sign`` use."""
        self._usage.count("ledger", "sign")
        return self._key.sign(data)

    def public_key(self) -> Ed25519PublicKey:
        """The public half."""
        return self._key.public_key()


def origin_for(prefix: str, tenant: str) -> str:
    """The checkpoint origin line of one tenant's log: ``<prefix>/<tenant>``."""
    return f"{prefix}/{tenant}"


def load(path: str | os.PathLike[str], name: str) -> LedgerSigningKey:
    """Load the signing key at ``path``; ``KeyCustodyError`` when there is none."""
    file = Path(path)
    if not file.exists():
        raise KeyCustodyError(
            f"{file}: no ledger signing key; run `chartgate keys init` "
            "(or set CHARTGATE_LEDGER_KEY_FILE to the store's key)"
        )
    return LedgerSigningKey(name=name, private_key=_read(file))


def load_or_create(path: str | os.PathLike[str], name: str) -> LedgerSigningKey:
    """Load the signing key at ``path``, creating one when missing (dev mode, keys init)."""
    file = Path(path)
    if file.exists():
        return LedgerSigningKey(name=name, private_key=_read(file))
    key = Ed25519PrivateKey.generate()
    if not _write(file, key, replace=False):
        return LedgerSigningKey(name=name, private_key=_read(file))
    return LedgerSigningKey(name=name, private_key=key, created=True)


def replace(path: str | os.PathLike[str], name: str) -> LedgerSigningKey:
    """Write a fresh key over the file (``keys rotate --ledger``); the old private key is gone.

    Its public half stays in the store's key registry, so its checkpoints still verify.
    """
    key = Ed25519PrivateKey.generate()
    _write(Path(path), key, replace=True)
    return LedgerSigningKey(name=name, private_key=key, created=True)


def _write(file: Path, key: Ed25519PrivateKey, *, replace: bool) -> bool:
    """Write the PEM to a private temporary file, then link (new) or rename (replace) it."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = file.with_name(f".{file.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    if replace:
        temp.replace(file)
        return True
    try:
        os.link(temp, file)  # never over a key another process created meanwhile
    except FileExistsError:
        return False
    finally:
        temp.unlink()
    return True


def _read(file: Path) -> Ed25519PrivateKey:
    """Read the key file: a regular 0600 file holding an Ed25519 PKCS#8 PEM."""
    with file.open("rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise LedgerKeyError("ledger key file is not a regular file")
        if info.st_mode & 0o077:
            raise LedgerKeyError("ledger key file must not be readable by group or others (0600)")
        data = handle.read(_MAX_KEY_FILE_BYTES + 1)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise LedgerKeyError("ledger key file is too large")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise LedgerKeyError("ledger key file is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerKeyError("ledger key file does not hold an Ed25519 key")
    return key
