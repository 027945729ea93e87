"""``chartgate killswitch set|clear|status``: the operator's brakes.

The operator (whoever can run the CLI against the store) may set a switch for every tenant
(``--scope global``, or any scope without ``--tenant``); a tenant's admin uses the API.
Each change is a ledger event naming ``--by`` (or the OS user) and the reason.

Exit codes: 0 done (for ``hold-write-back``: acknowledged, nothing in flight), 1 engaged but
still draining when the limit ran out, 2 bad input or settings; a store that cannot be reached
(3) or is not at this version's schema (4) is the CLI's one failure handler's, as for every
command (docs/ops/cli.md).
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from chartgate.domain.killswitch import Switch
    from chartgate.service.killswitch import KillSwitches

killswitch_app = typer.Typer(
    help="Kill switch: stop drafting, freeze approvals, hold write-back.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)

ByOpt = Annotated[str | None, typer.Option("--by", help="Who is acting (default: OS user@host).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    # One line whatever the width (a pipe is 80 columns to rich), the message never markup.
    errors.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _switches() -> Iterator[KillSwitches]:
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()  # first: a settings error is told before the store's modules load
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from chartgate.bootstrap.standalone import open_killswitches  # noqa: PLC0415
    from chartgate.domain.errors import ChartgateError, StoreUnavailable  # noqa: PLC0415

    # No store, an unmigrated one, or unusable keys: the CLI's one failure handler reports
    # them (cli/failures.py), with the same documented exit code as every other command.
    switches, engine = open_killswitches(settings)
    try:
        yield switches
    except StoreUnavailable as exc:
        # The store itself failed: the one CLI failure handler reports it (documented codes).
        if isinstance(exc.__cause__, SQLAlchemyError):
            raise exc.__cause__ from None
        raise _fail(exc.message) from None
    except ChartgateError as exc:  # the command's own refusals: unknown switch, bad input
        raise _fail(exc.message) from None
    # Any other store error (an undefined table on PostgreSQL, a refused statement) is the
    # one handler's too: exit 4 for an old schema, 3 otherwise, as for every other command.
    finally:
        engine.dispose()


def _actor(by: str | None) -> str:
    who = by or f"{getpass.getuser()}@{socket.gethostname()}"
    return f"operator:{who}"[:200]


def _table(switches: list[Switch], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "mode", "scope", "tenant", "reason", "set by", "set at", "released"):
        table.add_column(column)
    for s in switches:
        scope = s.scope.value if not s.value else f"{s.scope.value}={s.value}"
        table.add_row(
            s.id,
            s.mode.value,
            scope,
            s.tenant,
            s.reason,
            s.set_by,
            s.set_at.isoformat(timespec="seconds"),
            s.released_at.isoformat(timespec="seconds") if s.released_at else "",
        )
    return table


@killswitch_app.command("set")
def set_switch(
    mode: Annotated[str, typer.Option(help="stop-drafting | freeze-approvals | hold-write-back")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger; no patient data).")],
    scope: Annotated[
        str,
        typer.Option(
            help="global | tenant | ehr | note-type | resource-type | model-version | "
            "prompt-template"
        ),
    ] = "global",
    value: Annotated[
        str | None, typer.Option(help="What the scope names, e.g. 2026.10.1 or soap-v3.")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (default: every tenant).")
    ] = None,
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Engage a switch; returns once it holds (hold-write-back: in-flight requests drained)."""
    from chartgate.domain.killswitch import ALL_TENANTS, SwitchSpec  # noqa: PLC0415

    with _switches() as switches:
        spec = SwitchSpec.parse(
            tenant=tenant or ALL_TENANTS, scope=scope, value=value, mode=mode, reason=reason
        )
        engaged = switches.engage(spec, actor=_actor(by))
    if as_json:
        print(
            json.dumps(
                {
                    "switch": engaged.switch.public(),
                    "created": engaged.created,
                    "acknowledged": engaged.acknowledged,
                    "drained": engaged.drained,
                    "still_in_flight": engaged.still_in_flight,
                }
            )
        )
    else:
        verb = "engaged" if engaged.created else "already engaged"
        console.print(
            f"{verb}: {engaged.switch.id} {engaged.switch.mode.value} ({engaged.switch.describe()})"
        )
        if engaged.drained:
            console.print(f"waited for {engaged.drained} write-back(s) in flight to end")
    if not engaged.acknowledged:
        raise _fail(
            f"{engaged.still_in_flight} write-back(s) still in flight; run status until none",
            code=1,
        )


@killswitch_app.command("clear")
def clear_switch(
    switch_id: Annotated[str, typer.Argument(help="The switch id (see status).")],
    reason: Annotated[str, typer.Option(help="Why it is safe to go on.")],
    by: ByOpt = None,
) -> None:
    """Release a switch; held write-backs resume (exactly once)."""
    with _switches() as switches:
        released = switches.release(switch_id, actor=_actor(by), reason=reason, tenant=None)
    console.print(f"released: {released.id} {released.mode.value} ({released.describe()})")


@killswitch_app.command("status")
def status(
    tenant: Annotated[str | None, typer.Option(help="Only switches covering this tenant.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Released ones too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The engaged switches (and, with --history, the released ones)."""
    with _switches() as switches:
        found = switches.history(tenant) if history else switches.engaged(tenant)
    if as_json:
        print(json.dumps({"switches": [s.public() for s in found]}))
        return
    if not found:
        console.print("no kill switch engaged" if not history else "no kill switch ever set")
        return
    console.print(_table(found, "kill switches" if history else "engaged kill switches"))
