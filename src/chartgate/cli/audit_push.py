"""``chartgate audit push``: fill the configured FHIR audit sinks from the ledger.

Registered on the ``audit`` group by ``cli/audit.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)

TenantOpt = Annotated[str | None, typer.Option("--tenant", help="One tenant (default: all).")]


def push(
    tenant: TenantOpt = None,
    status: Annotated[bool, typer.Option("--status", help="Only print where sinks stand.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Push provable ledger entries to the configured FHIR sink as AuditEvents, until caught up.

    The worker does the same on every poll; this is for a first fill or after an outage.
    Exit 0 when every tenant is caught up, 1 when a sink failed, 2 when no sink is configured.
    """
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()  # first: a settings error is told before the store's modules load
    from chartgate.adapters.processors import require_registered  # noqa: PLC0415
    from chartgate.adapters.system import SystemClock, UuidIds  # noqa: PLC0415
    from chartgate.bootstrap.keys import key_files  # noqa: PLC0415
    from chartgate.bootstrap.ledger import (  # noqa: PLC0415
        audited_gate,
        build_audit_sink,
        open_ledger,
    )
    from chartgate.cli.failures import require_existing_keys  # noqa: PLC0415
    from chartgate.observability import configure_logging  # noqa: PLC0415

    configure_logging(settings.log_level)
    require_existing_keys(key_files(settings))
    require_registered(settings)
    ledger, engine = open_ledger(settings)
    closers: list[Callable[[], None]] = [engine.dispose]
    try:
        clock = SystemClock()
        gate = audited_gate(settings, ledger, clock, UuidIds())
        pusher = build_audit_sink(settings, engine, ledger, clock, gate, closers)
        if pusher is None:
            errors.print("[bold red]error:[/] no audit_sink_url is configured for any tenant")
            raise typer.Exit(2)
        if status:
            _print_sink_status(pusher.status(), tenant, as_json=as_json)
            return
        ledger.checkpointer.tick()  # entries are pushed once a signed checkpoint covers them
        reports = pusher.drain(tenant)
    finally:
        for close in reversed(closers):
            close()
    rows = [
        {
            "tenant": r.tenant,
            "sink": r.sink,
            "pushed": r.pushed,
            "last_seq": r.last_seq,
            "error": r.error,
        }
        for r in reports
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
    for row in [] if as_json else rows:
        line = (
            f"{row['tenant']} -> {row['sink']}: pushed {row['pushed']}, last seq {row['last_seq']}"
        )
        if row["error"]:
            errors.print(f"{line} ({row['error']})", highlight=False, markup=False)
        else:
            console.print(line, highlight=False, markup=False)
    if any(r.error for r in reports):
        raise typer.Exit(1)


def _print_sink_status(cursors: list[Any], tenant: str | None, *, as_json: bool) -> None:
    rows = [
        {
            "tenant": c.tenant,
            "sink": c.sink,
            "last_seq": c.last_seq,
            "pushed": c.pushed,
            "last_error": c.last_error,
            "updated_at": c.updated_at.isoformat() if c.updated_at else None,
        }
        for c in cursors
        if tenant is None or c.tenant == tenant
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        console.print(
            f"{row['tenant']} -> {row['sink']}: last seq {row['last_seq']}, "
            f"{row['pushed']} pushed, last error: {row['last_error'] or '-'}",
            highlight=False,
            markup=False,
        )
