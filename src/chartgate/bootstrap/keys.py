"""Opening the deployment's keys for every entry point, checked against the store (docs/keys.md)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from chartgate.adapters.keys.custody import Custody, ledger_key_file, open_custody
from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.adapters.storage.key_registry import SqlKeyRegistry
from chartgate.adapters.storage.ledger import SqlLedgerUnit
from chartgate.adapters.system import SystemClock, UuidIds
from chartgate.domain.errors import KeyMismatch
from chartgate.domain.events import EventType
from chartgate.service.key_events import record_key_event, tenants_of
from chartgate.service.ports import Clock
from chartgate.settings import Settings


def key_files(settings: Settings) -> tuple[Path, ...]:
    """The local key files this instance reads (none with a PKCS#11 token)."""
    if settings.key_provider != "local":
        return ()
    return Path(settings.key_file), ledger_key_file(settings)


def open_keys(
    settings: Settings, engine: Engine, *, clock: Clock | None = None
) -> tuple[EnvelopeCipher, Custody]:
    """The envelope cipher over the checked keys.

    A process that reaches other keys than the store's records a ``key.mismatch`` event in
    every tenant's log (best effort) and refuses to start.
    """
    clock = clock or SystemClock()
    registry = SqlKeyRegistry(engine)
    try:
        custody = open_custody(settings, registry, now=clock.now())
    except KeyMismatch as exc:
        _record_mismatch(settings, engine, clock, exc.message)
        raise
    if custody.created:
        unit = _ledger_units(engine)
        tenants = tenants_of(unit, [t.id for t in settings.tenants])
        for data in custody.created:
            record_key_event(
                unit,
                tenants,
                EventType.KEY_CREATED,
                {**data, "mode": "dev"},
                actor=f"system:{socket.gethostname()}",
                clock=clock,
                ids=UuidIds(),
            )
    return EnvelopeCipher(custody.kek, SqlDataKeyStore(engine)), custody


def _ledger_units(engine: Engine) -> Callable[..., SqlLedgerUnit]:
    def unit(*, read_only: bool = False) -> SqlLedgerUnit:
        return SqlLedgerUnit(engine, read_only=read_only)

    return unit


def _record_mismatch(settings: Settings, engine: Engine, clock: Clock, reason: str) -> None:
    """Best effort: the refused start is a ledger event (the store may itself be the cause)."""
    unit = _ledger_units(engine)
    with contextlib.suppress(Exception):  # refusing to start matters more than the record
        record_key_event(
            unit,
            tenants_of(unit, [t.id for t in settings.tenants]),
            EventType.KEY_MISMATCH,
            {"reason": reason, "host": socket.gethostname()},
            actor=f"system:{socket.gethostname()}",
            clock=clock,
            ids=UuidIds(),
        )
