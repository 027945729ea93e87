# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Keys in a PKCS#11 token (an HSM; SoftHSM2 in the tests): the KEK ring and the ledger key.

Neither key ever leaves the token (``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``):

* a KEK is an AES-256 secret key labelled ``chartgate-kek-<id>``; tenant data keys are
  wrapped by ``CKM_AES_GCM`` run inside the token, with the tenant context as AAD, in the
  same blob layout as the local provider (``adapters/keys/ring.py``);
* the ledger signing key is an Ed25519 pair (``CKM_EC_EDWARDS_KEY_PAIR_GEN``, ``CKM_EDDSA``,
  both in SoftHSM2 2.6), labelled ``chartgate-ledger-<id>``, so checkpoint notes keep the
  C2SP Ed25519 format and every checkpoint signed by a key file still verifies.

Only ``chartgate keys init`` and ``keys rotate`` create objects (docs/keys.md, ADR 0022).
One logged-in session per process, used under a lock (a session is not thread-safe).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Final

import pkcs11
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_named_curve_parameters

from chartgate.domain.errors import DecryptionError, KeyCustodyError

KEK_PREFIX: Final = "chartgate-kek-"
LEDGER_PREFIX: Final = "chartgate-ledger-"
_ED25519_OID: Final = "1.3.101.112"
_TAG_BITS: Final = 128
_libraries: dict[str, Any] = {}
_libraries_lock = threading.RLock()


def _library(path: str) -> Any:  # noqa: ANN401 - pkcs11.lib, loaded once per process
    with _libraries_lock:
        if path not in _libraries:
            try:
                _libraries[path] = pkcs11.lib(path)
            except (PKCS11Error, RuntimeError, OSError) as e:
                msg = f"cannot load the PKCS#11 library {path} ({type(e).__name__})"
                raise KeyCustodyError(msg) from None
        return _libraries[path]


_tokens: dict[tuple[str, str], Pkcs11Token] = {}


class Pkcs11Token:
    """A logged-in session on one token; finds and creates chartgate's key objects.

    PKCS#11 logs a whole process in, not a session, so a process holds one session per
    token: ``open`` shares it, counting users, and the last ``close`` logs out.
    """

    def __init__(self, library: str, token_label: str, pin: bytes) -> None:
        try:
            token = _library(library).get_token(token_label=token_label)
            self._session = token.open(user_pin=pin.decode(), rw=True)
        except PKCS11Error as e:
            msg = f"cannot open PKCS#11 token {token_label!r} ({type(e).__name__})"
            raise KeyCustodyError(msg) from None
        self.lock = threading.Lock()
        self._key = (library, token_label)
        self._users = 1

    @classmethod
    def open(cls, library: str, token_label: str, pin: bytes) -> Pkcs11Token:
        """This process's session on the token, logged in once and shared."""
        with _libraries_lock:
            shared = _tokens.get((library, token_label))
            if shared is not None:
                shared._users += 1  # noqa: SLF001 - the class counts its own users
                return shared
            token = cls(library, token_label, pin)
            _tokens[(library, token_label)] = token
            return token

    def close(self) -> None:
        """Release this user; the last one logs out and closes the session."""
        with _libraries_lock:
            self._users -= 1
            if self._users > 0:
                return
            _tokens.pop(self._key, None)
        with self.lock:
            self._session.close()

    def keks(self) -> dict[str, Pkcs11Kek]:
        """Every chartgate KEK in the token, by id."""
        found = {}
        with self.lock:
            for obj in list(
                self._session.get_objects(
                    {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
                )
            ):
                label = str(obj.label or "")
                if label.startswith(KEK_PREFIX):
                    key_id = label.removeprefix(KEK_PREFIX)
                    found[key_id] = Pkcs11Kek(self, obj, key_id)
        return found

    def create_kek(self) -> Pkcs11Kek:
        """Generate a new AES-256 KEK inside the token; it never leaves it."""
        key_id = os.urandom(8).hex()
        with self.lock:
            obj = self._session.generate_key(
                KeyType.AES,
                256,
                label=KEK_PREFIX + key_id,
                id=bytes.fromhex(key_id),
                store=True,
                template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                },
            )
        return Pkcs11Kek(self, obj, key_id)

    def signing_keys(self) -> list[Pkcs11Ed25519]:
        """Every chartgate ledger signing key (private half with its public key) in the token."""
        found = []
        with self.lock:
            privates = list(  # one search at a time per session: finish this one first
                self._session.get_objects(
                    {
                        Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                        Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
                    }
                )
            )
            for private in privates:
                label = str(private.label or "")
                if not label.startswith(LEDGER_PREFIX):
                    continue
                public = self._session.get_key(
                    object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.EC_EDWARDS, label=label
                )
                found.append(Pkcs11Ed25519(self, private, _public(public)))
        return found

    def create_signing_key(self) -> Pkcs11Ed25519:
        """Generate an Ed25519 pair inside the token (the private half never leaves it)."""
        label = LEDGER_PREFIX + os.urandom(4).hex()
        with self.lock:
            params = self._session.create_domain_parameters(
                KeyType.EC_EDWARDS,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID)},
                local=True,
            )
            public, private = params.generate_keypair(
                store=True,
                label=label,
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
            )
        return Pkcs11Ed25519(self, private, _public(public))


def _public(obj: Any) -> Ed25519PublicKey:  # noqa: ANN401 - a pkcs11 PublicKey
    """The Ed25519 public key from ``CKA_EC_POINT`` (a DER OCTET STRING of 32 bytes)."""
    point = bytes(obj[Attribute.EC_POINT])
    raw = point[2:] if len(point) == 34 and point[:2] == b"\x04\x20" else point  # noqa: PLR2004
    return Ed25519PublicKey.from_public_bytes(raw)


class Pkcs11Kek:
    """One AES-256 KEK in the token; AES-GCM runs inside it."""

    def __init__(self, token: Pkcs11Token, obj: Any, key_id: str) -> None:  # noqa: ANN401
        self._token = token
        self._obj = obj
        self._key_id = key_id

    @property
    def key_id(self) -> str:
        """The id in the object's label (random at creation, not derived from the key)."""
        return self._key_id

    def seal(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        """AES-256-GCM encrypt inside the token."""
        with self._token.lock:
            sealed: bytes = self._obj.encrypt(
                data, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, _TAG_BITS)
            )
        return sealed

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """AES-256-GCM decrypt inside the token; ``DecryptionError`` when it does not open."""
        try:
            with self._token.lock:
                opened: bytes = self._obj.decrypt(
                    sealed,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(nonce, aad, _TAG_BITS),
                )
        except PKCS11Error as e:
            raise DecryptionError("wrapped data key does not open") from e
        return opened


class Pkcs11Ed25519:
    """An Ed25519 private key in the token, shaped like ``Ed25519PrivateKey`` for signing."""

    def __init__(self, token: Pkcs11Token, private: Any, public: Ed25519PublicKey) -> None:  # noqa: ANN401
        self._token = token
        self._private = private
        self._public = public

    def sign(self, data: bytes) -> bytes:
        """``CKM_EDDSA`` (pure Ed25519) inside the token."""
        with self._token.lock:
            signature: bytes = self._private.sign(data, mechanism=Mechanism.EDDSA)
        return signature

    def public_key(self) -> Ed25519PublicKey:
        """The public half, read from the token's public key object."""
        return self._public


def refresh_tokens(library: str) -> None:
    """Re-read the library's slots, so a token initialised after it was loaded is found.

    Every open session of this process on that library ends; call it before opening any.
    """
    with _libraries_lock:
        _tokens.clear()
    try:
        _library(library).reinitialize()
    except PKCS11Error as e:
        raise KeyCustodyError(f"cannot re-read PKCS#11 slots ({type(e).__name__})") from None
