"""``chartgate processors``: the processor (BAA) registry with each entry's status today.

Reads the settings only (no store, no network). Each processor: its role, legal entity,
BAA status and expiry, PHI categories, purpose and endpoints; then every configured
destination and the processor that covers it. Exit 1 when something needs attention (a
destination no processor covers, or a processor that receives PHI without a BAA in force),
so a scheduled job can alert on a BAA about to lapse with ``--on`` a future date.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from chartgate.domain.processors import BaaStatus, origin_of

console = Console()


def registry_status(settings: Any, today: date) -> dict[str, Any]:  # noqa: ANN401 - Settings
    """The registry and the configured destinations as JSON, with statuses on ``today``."""
    # The registry module pulls in the HTTP gate (httpx): imported by the command that needs it.
    from chartgate.adapters.processors import destinations, registry  # noqa: PLC0415

    found = registry(settings)
    processors = [
        {
            "id": p.id,
            "role": p.role,
            "legal_entity": p.legal_entity,
            "purpose": p.purpose,
            "baa_status": p.baa_status(today).value,
            "baa_signed": p.baa_signed.isoformat() if p.baa_signed else None,
            "baa_expires": p.baa_expires.isoformat() if p.baa_expires else None,
            "phi_categories": list(p.phi_categories),
            "endpoints": list(p.endpoints),
        }
        for p in found.processors
    ]
    configured = []
    for destination in destinations(settings):
        processor = found.for_url(destination.url)
        configured.append(
            {
                "what": destination.what,
                "origin": origin_of(destination.url),
                "processor": processor.id if processor else None,
                "baa_status": processor.baa_status(today).value if processor else "unregistered",
            }
        )
    attention = [d["what"] for d in configured if d["baa_status"] not in _PERMITTED] + [
        f"processor {p['id']}"
        for p in processors
        if p["baa_status"] not in _PERMITTED and p["endpoints"]
    ]
    return {
        "date": today.isoformat(),
        "dev_mode": settings.dev_mode,
        "processors": processors,
        "destinations": configured,
        "attention": attention,
    }


_PERMITTED = {s.value for s in BaaStatus if s.permits_traffic}
_STYLE = {
    "active": "green",
    "not-required": "cyan",
    "expired": "bold red",
    "missing": "bold red",
    "unregistered": "bold red",
}


def processors(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    on: Annotated[
        str | None,
        typer.Option(help="Statuses as of this date (YYYY-MM-DD; default: today, UTC)."),
    ] = None,
) -> None:
    """List the processor (BAA) registry and which processor covers each destination."""
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    try:
        today = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        console.print(f"[bold red]error:[/] --on takes a date such as 2026-12-31, not {on!r}")
        raise typer.Exit(2) from None
    report = registry_status(settings, today)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    if report["attention"]:
        raise typer.Exit(1)


def _print(report: dict[str, Any]) -> None:
    table = Table(title=f"processors on {report['date']}")
    for column in ("id", "role", "legal entity", "BAA", "expires", "PHI", "purpose", "endpoints"):
        table.add_column(column)
    for p in report["processors"]:
        status = p["baa_status"]
        table.add_row(
            p["id"],
            p["role"],
            p["legal_entity"],
            f"[{_STYLE[status]}]{status}[/]",
            p["baa_expires"] or "-",
            ", ".join(p["phi_categories"]) or "none",
            p["purpose"],
            "\n".join(p["endpoints"]) or "-",
        )
    console.print(table)
    where = Table(title="configured destinations")
    for column in ("destination", "origin", "processor", "status"):
        where.add_column(column)
    for d in report["destinations"]:
        status = d["baa_status"]
        where.add_row(
            d["what"], d["origin"], d["processor"] or "-", f"[{_STYLE[status]}]{status}[/]"
        )
    console.print(where)
    for item in report["attention"]:
        console.print(f"[bold red]attention:[/] {item}")
