# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""``chartgate keys init`` and ``keys rotate``: the only code that makes keys outside dev mode.

KEK rotation is online: a new KEK becomes current in the store's registry, then each
tenant's wrapped data key is re-wrapped under it with a compare-and-set, one tenant at a
time. The data keys themselves do not change, so no ciphertext is touched and readers and
writers never wait; the old KEK stays (in the key file or the token) so a blob not yet
re-wrapped, or wrapped meanwhile by a replica that has not seen the rotation, still opens.

Ledger key rotation makes a new signing key current and keeps the old verifier key in the
registry: ``audit verify``, ``/.well-known/chartgate-ledger-keys`` and the export list every
key, so checkpoints signed before the rotation still verify (docs/keys.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from chartgate.adapters.keys import ledger_key
from chartgate.adapters.keys.custody import Custody, check_blob, ledger_key_file
from chartgate.adapters.keys.envelope import rewrap_stored
from chartgate.adapters.keys.local import LocalKeyProvider, add_key
from chartgate.adapters.keys.ring import KekRing
from chartgate.domain.errors import KeyCustodyError
from chartgate.ledger.checkpoint import NoteVerifier

if TYPE_CHECKING:
    from datetime import datetime

    from chartgate.adapters.keys.registry import KeyRegistry
    from chartgate.settings import Settings

_MAX_RETRIES = 20


class RewrappableKeys(Protocol):
    """The wrapped-DEK store, as rotation needs it (``SqlDataKeyStore``)."""

    def tenants(self) -> list[str]:
        """Every tenant with a data key."""
        ...

    def get_wrapped(self, tenant: str) -> bytes | None:
        """The tenant's stored wrapped key."""
        ...

    def replace_wrapped(self, tenant: str, old: bytes, new: bytes) -> bool:
        """Compare and set the tenant's wrapped key."""
        ...


def rotate_kek(
    settings: Settings,
    custody: Custody,
    registry: KeyRegistry,
    store: RewrappableKeys,
    *,
    now: datetime,
) -> dict[str, object]:
    """Make a new current KEK and re-wrap every tenant's data key under it."""
    old_id = custody.kek.key_id
    if custody.token is not None:
        fresh = custody.token.create_kek()
        new_id = fresh.key_id
        keks = custody.token.keks()
        ring = KekRing(keks, lambda: new_id, custody.usage, refresh=custody.token.keks)
    else:
        path = LocalKeyProvider(settings.key_file).path
        new_id = add_key(path)
        ring = LocalKeyProvider(path, usage=custody.usage)
    registry.add("kek", new_id, provider=settings.key_provider, public=check_blob(ring), now=now)
    rewrapped = 0
    for tenant in store.tenants():
        rewrapped += _rewrap(ring, store, tenant, new_id)
    return {"kind": "kek", "key_id": new_id, "previous": old_id, "rewrapped": rewrapped}


def _rewrap(ring: KekRing, store: RewrappableKeys, tenant: str, new_id: str) -> int:
    """Re-wrap one tenant's data key (retrying if it changed underneath); 1 when done."""
    for _ in range(_MAX_RETRIES):
        stored = store.get_wrapped(tenant)
        if stored is None or ring.wrapped_by(stored[9:]) == new_id:
            return 0
        if store.replace_wrapped(tenant, stored, rewrap_stored(ring, tenant, stored)):
            return 1
    raise KeyCustodyError(f"tenant {tenant}: data key kept changing during rotation; run again")


def rotate_ledger(
    settings: Settings, custody: Custody, registry: KeyRegistry, *, now: datetime
) -> dict[str, object]:
    """Make a new current ledger signing key; the old verifier key stays registered."""
    old = custody.ledger.verifier
    if custody.token is not None:
        public = custody.token.create_signing_key().public_key()
    else:
        fresh = ledger_key.replace(ledger_key_file(settings), settings.ledger_origin)
        public = fresh.private_key.public_key()
    new = NoteVerifier.from_key(settings.ledger_origin, public)
    registry.add(
        "ledger", new.key_id.hex(), provider=settings.key_provider, public=new.vkey, now=now
    )
    return {
        "kind": "ledger-signing",
        "key_id": new.key_id.hex(),
        "previous": old.key_id.hex(),
        "vkey": new.vkey,
        "previous_vkey": old.vkey,
    }
