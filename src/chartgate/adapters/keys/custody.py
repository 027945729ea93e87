# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Key custody: reach the deployment's keys, and check they are the ones the store records.

``open_custody`` builds the KEK ring and the ledger signing key from the configured
provider (local files or a PKCS#11 token) and compares them with the store's
``key_registry``: the current KEK must be reachable and must open the check blob recorded
at ``keys init``; the current ledger key must be the one whose verifier key was recorded.
A replica that reaches other keys (another host's files, another token) refuses to start
with ``KeyMismatch``: two replicas can never write under different keys (docs/keys.md).

Outside dev mode nothing here creates a key: ``init_keys`` (``chartgate keys init``) does,
once, and a store without registered keys is an error that says so.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from chartgate.adapters.keys.ledger_key import CountedSigner, LedgerSigningKey, load, load_or_create
from chartgate.adapters.keys.local import LocalKeyProvider
from chartgate.adapters.keys.ring import KekRing
from chartgate.adapters.keys.secrets import SecretProvider
from chartgate.adapters.keys.usage import KeyUsage
from chartgate.domain.errors import DecryptionError, KeyCustodyError, KeyMismatch
from chartgate.ledger.checkpoint import CheckpointError, NoteSigningKey, NoteVerifier, parse_vkey

if TYPE_CHECKING:
    from chartgate.adapters.keys.pkcs11 import Pkcs11Token
    from chartgate.adapters.keys.registry import KeyRegistry
    from chartgate.settings import Settings

CHECK_PLAINTEXT: Final = b"chartgate key check v1 " + bytes(9)  # 32 bytes, like a DEK
CHECK_CONTEXT: Final = b"chartgate/key-check/v1"


@dataclass
class Custody:
    """The keys one process uses, checked against the store."""

    kek: KekRing
    ledger: LedgerSigningKey
    usage: KeyUsage
    provider: str
    token: Pkcs11Token | None = None
    created: list[dict[str, str]] = field(default_factory=list)

    def close(self) -> None:
        """Close the PKCS#11 session, if any."""
        if self.token is not None:
            self.token.close()


def ledger_key_file(settings: Settings) -> Path:
    """The local ledger key file: the setting, or ``chartgate-ledger.key`` beside the KEK."""
    beside = Path(settings.key_file).parent
    return Path(settings.ledger_key_file or beside / "chartgate-ledger.key")


def open_token(settings: Settings) -> Pkcs11Token:
    """Log in to the configured PKCS#11 token (pin from its secret reference)."""
    from chartgate.adapters.keys.pkcs11 import Pkcs11Token  # noqa: PLC0415 - optional HSM

    if not settings.pkcs11_token or not settings.pkcs11_pin:
        raise KeyCustodyError("key_provider = 'pkcs11' needs pkcs11_token and pkcs11_pin")
    pin = SecretProvider().resolve(settings.pkcs11_pin).reveal().strip()
    return Pkcs11Token.open(settings.pkcs11_library, settings.pkcs11_token, pin)


def _reach(
    settings: Settings, usage: KeyUsage, *, create: bool
) -> tuple[KekRing, list[NoteSigningKey], Pkcs11Token | None, list[dict[str, str]]]:
    """The KEK ring and candidate signing keys of the provider; create them only if asked."""
    created: list[dict[str, str]] = []
    if settings.key_provider == "local":
        existed = Path(settings.key_file).exists()
        local = LocalKeyProvider(settings.key_file, create=create, usage=usage)
        if not existed:
            created.append({"kind": "kek", "key_id": local.key_id, "provider": "local"})
        path = ledger_key_file(settings)
        key = load_or_create(path, settings.ledger_origin) if create else load(path, "-")
        return local, [key.private_key], None, created
    token = open_token(settings)
    keks = token.keks()
    if not keks and create:
        fresh = token.create_kek()
        keks = {fresh.key_id: fresh}
        created.append({"kind": "kek", "key_id": fresh.key_id, "provider": "pkcs11"})
    signers: list[NoteSigningKey] = list(token.signing_keys())
    if not signers and create:
        signers = [token.create_signing_key()]
    if not keks or not signers:
        token.close()
        raise KeyCustodyError(
            f"PKCS#11 token {settings.pkcs11_token!r} holds no chartgate keys: "
            "run `chartgate keys init` (docs/keys.md)"
        )
    newest = next(iter(sorted(keks)))
    ring = KekRing(keks, lambda: newest, usage, refresh=token.keks)
    return ring, signers, token, created


def check_blob(ring: KekRing) -> str:
    """A wrap of a fixed value under the current KEK: opening it proves the same key."""
    return base64.b64encode(ring.wrap(CHECK_PLAINTEXT, context=CHECK_CONTEXT)).decode()


def open_custody(
    settings: Settings,
    registry: KeyRegistry,
    *,
    now: datetime,
    usage: KeyUsage | None = None,
    create: bool | None = None,
) -> Custody:
    """Reach the keys and check them against the store (dev mode: register them if new)."""
    usage = usage or KeyUsage()
    create = settings.dev_mode if create is None else create
    ring, signers, token, created = _reach(settings, usage, create=create)
    try:
        if registry.rows():
            return _checked(settings, registry, ring, signers, usage, token)
        _require(create)
        return register(settings, registry, ring, signers[0], usage, token, created, now)
    except BaseException:
        if token is not None:
            token.close()
        raise


def _require(create: bool) -> None:
    if not create:
        raise KeyCustodyError(
            "this store has no registered keys: run `chartgate keys init` once (docs/keys.md)"
        )


def register(
    settings: Settings,
    registry: KeyRegistry,
    ring: KekRing,
    signer: NoteSigningKey,
    usage: KeyUsage,
    token: Pkcs11Token | None,
    created: list[dict[str, str]],
    now: datetime,
) -> Custody:
    """Record the current KEK (with its check blob) and ledger key as the store's keys."""
    provider = settings.key_provider
    key = LedgerSigningKey(settings.ledger_origin, CountedSigner(signer, usage), created=True)
    registry.add("kek", ring.key_id, provider=provider, public=check_blob(ring), now=now)
    registry.add("ledger", key.verifier.key_id.hex(), provider=provider, public=key.vkey, now=now)
    if isinstance(ring, LocalKeyProvider):
        ring.use(ring.key_id)
    # The new ledger key is recorded by the startup event (``key.created`` with its vkey).
    return Custody(ring, key, usage, provider, token, created)


def _checked(
    settings: Settings,
    registry: KeyRegistry,
    ring: KekRing,
    signers: list[NoteSigningKey],
    usage: KeyUsage,
    token: Pkcs11Token | None,
) -> Custody:
    """Custody over the store's current keys; ``KeyMismatch`` when this process lacks them."""
    kek_row = registry.current("kek")
    ledger_row = registry.current("ledger")
    if kek_row is None or ledger_row is None or ledger_row.public is None:
        raise KeyCustodyError("the store's key registry is incomplete: run `chartgate keys init`")
    if not _opens(ring, kek_row.key_id, kek_row.public):
        raise KeyMismatch(
            f"this process does not reach the store's key-encryption key {kek_row.key_id} "
            "(every replica must use the same key provider; docs/keys.md)"
        ) from None
    if isinstance(ring, LocalKeyProvider):
        ring.use(kek_row.key_id)
    else:
        ring = _following(ring, registry, usage, token)
    signer = next(
        (
            s
            for s in signers
            if NoteVerifier.from_key(settings.ledger_origin, s.public_key()).vkey
            == ledger_row.public
        ),
        None,
    )
    if signer is None:
        raise KeyMismatch(
            f"this process does not hold the store's ledger signing key {ledger_row.key_id} "
            "(every replica must use the same key provider; docs/keys.md)"
        )
    retired = []
    for row in registry.rows("ledger"):
        if not row.current and row.public:
            try:
                retired.append(parse_vkey(row.public))
            except CheckpointError:
                continue
    key = LedgerSigningKey(
        settings.ledger_origin, CountedSigner(signer, usage), retired=tuple(retired)
    )
    return Custody(ring, key, usage, settings.key_provider, token)


def _opens(ring: KekRing, key_id: str, check: str | None) -> bool:
    """Whether the ring holds ``key_id`` and it opens the check blob recorded at init."""
    try:
        ring.kek(key_id)
        if check is None:
            return True
        return ring.unwrap(base64.b64decode(check), context=CHECK_CONTEXT) == CHECK_PLAINTEXT
    except (KeyCustodyError, DecryptionError, ValueError):
        return False


def _following(
    ring: KekRing, registry: KeyRegistry, usage: KeyUsage, token: Pkcs11Token | None
) -> KekRing:
    """A token ring whose current KEK follows the registry (a rotation by another replica)."""

    def current() -> str:
        row = registry.current("kek")
        return row.key_id if row is not None else ring.key_id

    keks = {k: ring.kek(k) for k in ring.key_ids}
    return KekRing(keks, current, usage, refresh=token.keks if token is not None else None)
