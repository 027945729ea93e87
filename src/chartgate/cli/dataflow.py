"""``chartgate dataflow``: the data-flow map from the running configuration and the code.

Facts: the settings (tenants, processors, tracing), the processor registry with BAA status
on ``--on`` (default today), the retention rules the settings name, the route/role table
(``domain/access_map.py``) and the table inventory (``domain/data_inventory.py``); the unit
tests keep those two equal to the live routes and schema. Output: Mermaid (default), DOT, or
SVG rendered by Graphviz ``dot`` (Debian ``graphviz``; ``make install`` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from chartgate.domain.errors import RendererMissing


class Format(StrEnum):
    """Output formats."""

    MERMAID = "mermaid"
    DOT = "dot"
    SVG = "svg"


def gather_facts(settings: Any, today: date) -> Any:  # noqa: ANN401 - Settings in, Facts out
    """The facts the map is drawn from, for these settings on ``today``."""
    from chartgate.adapters.processors import registry  # noqa: PLC0415
    from chartgate.domain.access_map import ROUTES  # noqa: PLC0415
    from chartgate.domain.data_inventory import OUTBOUND, TABLES  # noqa: PLC0415
    from chartgate.domain.dataflow import Facts  # noqa: PLC0415

    outbound = list(OUTBOUND)
    if settings.tracing_exporter == "otlp":
        outbound.append("observability")
    return Facts(
        routes=ROUTES,
        tables=TABLES,
        processors=registry(settings).processors,
        retention=retention_summary(settings),
        tenants=tuple(t.id for t in settings.tenants),
        outbound=tuple(outbound),
        today=today,
    )


def retention_summary(settings: Any) -> dict[str, str]:  # noqa: ANN401 - Settings
    """Record class -> "delete after 90 days" from the configured (or default) rules."""
    from chartgate.domain.retention import RecordClass  # noqa: PLC0415
    from chartgate.policy.retention import load_retention  # noqa: PLC0415

    rules = load_retention(settings.retention_policy).policy.rules
    summary = {}
    for record_class in RecordClass:
        rule = rules.rule(record_class)
        summary[record_class.value] = f"{rule.action.value} after {rule.after.days} days"
    return summary


def render(settings: Any, fmt: Format, today: date) -> bytes:  # noqa: ANN401 - Settings
    """The map in ``fmt``; SVG runs ``dot`` (RendererMissing when it is not installed)."""
    from chartgate.domain.dataflow import build_graph, to_dot, to_mermaid  # noqa: PLC0415

    graph = build_graph(gather_facts(settings, today))
    if fmt is Format.MERMAID:
        return to_mermaid(graph).encode()
    dot_text = to_dot(graph)
    if fmt is Format.DOT:
        return dot_text.encode()
    dot = shutil.which("dot")
    if dot is None:
        msg = "SVG output needs Graphviz `dot` (apt-get install graphviz, or make install)"
        raise RendererMissing(msg)
    done = subprocess.run(  # noqa: S603 - a fixed program found on PATH, DOT text on stdin
        [dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, check=False, timeout=60
    )
    if done.returncode != 0:
        msg = f"dot failed: {done.stderr.decode(errors='replace').strip()[:200]}"
        raise RendererMissing(msg)
    return done.stdout


def dataflow(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="mermaid, dot or svg.")] = (
        Format.MERMAID
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    on: Annotated[
        str | None, typer.Option(help="BAA statuses as of this date (default: today, UTC).")
    ] = None,
) -> None:
    """Draw where PHI enters, is stored (encrypted or not), read, sent and deleted."""
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    try:
        today = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        typer.echo(f"error: --on takes a date such as 2026-12-31, not {on!r}", err=True)
        raise typer.Exit(2) from None
    data = render(settings, fmt, today)
    if output is None:
        typer.echo(data.decode(), nl=False)
    else:
        output.write_bytes(data)
        typer.echo(f"wrote {output} ({fmt.value}, {len(data)} bytes)", err=True)
