"""``chartgate keys …``: make the deployment's keys once, rotate them, show them.

Outside dev mode these are the only commands that create a key (docs/keys.md): ``init``
makes (or adopts existing) keys and records them in the store; ``rotate --kek`` re-wraps
every tenant's data key under a new KEK while traffic flows; ``rotate --ledger`` makes a
new checkpoint-signing key and keeps the old verifier key, so old checkpoints verify.
Each operation is a ledger event in every tenant's log. Errors: cli/failures.py.
"""

from __future__ import annotations

import getpass
import json
import socket
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from chartgate.settings import Settings

keys_app = typer.Typer(help="Key custody: init, rotate, status (docs/keys.md).")
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _actor() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


def _open() -> tuple[Settings, Engine]:
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()  # first: a settings error is told before the store's modules load
    from chartgate.adapters.storage.engine import make_engine  # noqa: PLC0415

    return settings, make_engine(settings.database_url)


def _record(settings: Settings, engine: Engine, kind: str, data: dict[str, Any]) -> int:
    """Append the key event to every tenant's log."""
    from chartgate.adapters.storage.ledger import SqlLedgerUnit  # noqa: PLC0415
    from chartgate.adapters.system import SystemClock, UuidIds  # noqa: PLC0415
    from chartgate.domain.events import EventType  # noqa: PLC0415
    from chartgate.service.key_events import record_key_event, tenants_of  # noqa: PLC0415

    def unit(*, read_only: bool = False) -> SqlLedgerUnit:
        return SqlLedgerUnit(engine, read_only=read_only)

    tenants = tenants_of(unit, [t.id for t in settings.tenants])
    return record_key_event(
        unit, tenants, EventType(kind), data, actor=_actor(), clock=SystemClock(), ids=UuidIds()
    )


@keys_app.command("init")
def init() -> None:
    """Create (or adopt existing) keys and record them in the store; refused when done already."""
    from datetime import UTC, datetime  # noqa: PLC0415

    settings, engine = _open()  # first: a settings error is told before the key modules load
    from chartgate.adapters.keys.custody import open_custody  # noqa: PLC0415
    from chartgate.adapters.storage.key_registry import SqlKeyRegistry  # noqa: PLC0415

    try:
        registry = SqlKeyRegistry(engine)
        if registry.rows():
            errors.print(
                "[bold red]error:[/] this store's keys are initialised already "
                "(`chartgate keys status`; `chartgate keys rotate` makes new ones)"
            )
            raise typer.Exit(2)
        custody = open_custody(settings, registry, now=datetime.now(UTC), create=True)
        try:
            created = {c["key_id"] for c in custody.created}
            kek = {"kind": "kek", "key_id": custody.kek.key_id, "provider": custody.provider}
            verifier = custody.ledger.verifier
            ledger = {
                "kind": "ledger-signing",
                "key_id": verifier.key_id.hex(),
                "provider": custody.provider,
                "vkey": verifier.vkey,
            }
            for data in (kek, ledger):
                adopted = data["kind"] == "kek" and data["key_id"] not in created
                _record(settings, engine, "key.created", {**data, "adopted": adopted})
        finally:
            custody.close()
    finally:
        engine.dispose()
    console.print(f"key-encryption key {kek['key_id']} ({custody.provider})", highlight=False)
    console.print(f"ledger signing key {ledger['key_id']}; verifier key to pin:", highlight=False)
    print(ledger["vkey"])


@keys_app.command("rotate")
def rotate(
    kek: Annotated[bool, typer.Option("--kek", help="New KEK; re-wrap every data key.")] = False,
    ledger: Annotated[bool, typer.Option("--ledger", help="New checkpoint key.")] = False,
) -> None:
    """Rotate the KEK (online re-wrap) and/or the ledger signing key (old one stays a verifier)."""
    from datetime import UTC, datetime  # noqa: PLC0415

    if not kek and not ledger:
        errors.print("[bold red]error:[/] name what to rotate: --kek and/or --ledger")
        raise typer.Exit(2)
    settings, engine = _open()  # first: a settings error is told before the key modules load
    from chartgate.adapters.keys.custody import open_custody  # noqa: PLC0415
    from chartgate.adapters.keys.rotation import rotate_kek, rotate_ledger  # noqa: PLC0415
    from chartgate.adapters.storage.data_keys import SqlDataKeyStore  # noqa: PLC0415
    from chartgate.adapters.storage.key_registry import SqlKeyRegistry  # noqa: PLC0415

    results = []
    try:
        registry = SqlKeyRegistry(engine)
        custody = open_custody(settings, registry, now=datetime.now(UTC), create=False)
        try:
            if kek:
                store = SqlDataKeyStore(engine)
                results.append(
                    rotate_kek(settings, custody, registry, store, now=datetime.now(UTC))
                )
            if ledger:
                results.append(rotate_ledger(settings, custody, registry, now=datetime.now(UTC)))
            for result in results:
                _record(settings, engine, "key.rotated", {**result, "provider": custody.provider})
        finally:
            custody.close()
    finally:
        engine.dispose()
    for result in results:
        line = f"{result['kind']}: {result['previous']} -> {result['key_id']}"
        if "rewrapped" in result:
            line += f" ({result['rewrapped']} tenant data keys re-wrapped)"
        console.print(line, highlight=False)
        if "vkey" in result:
            console.print("new verifier key (publish it; the old one stays valid):")
            print(result["vkey"])


@keys_app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the keys the store records (current first); no secret is shown."""
    settings, engine = _open()  # first: a settings error is told before the key modules load
    del settings
    from chartgate.adapters.storage.key_registry import SqlKeyRegistry  # noqa: PLC0415

    try:
        rows = SqlKeyRegistry(engine).rows()
    finally:
        engine.dispose()
    listed = [
        {
            "purpose": r.purpose,
            "key_id": r.key_id,
            "provider": r.provider,
            "current": r.current,
            "created_at": r.created_at.isoformat(),
            **({"vkey": r.public} if r.purpose == "ledger" else {}),
        }
        for r in rows
    ]
    if as_json:
        print(json.dumps(listed, indent=2))
        return
    if not listed:
        errors.print("no keys recorded: run `chartgate keys init`")
        raise typer.Exit(1)
    for row in listed:
        mark = "current" if row["current"] else "retired"
        console.print(
            f"{row['purpose']:7} {row['key_id']}  {row['provider']:7} {mark}  {row['created_at']}",
            highlight=False,
        )
