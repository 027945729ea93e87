"""``chartgate impact``: what a model version, prompt template or time window wrote.

Read only: it lists, and with ``--plan`` writes the correction plan; it changes nothing in
the store or the chart. Every run is an ``impact.read`` ledger event naming the operator,
the filters, the row count and whether patient references were revealed.

Exit codes: 0 done (also when nothing matched), 2 bad input, settings or store.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
errors = Console(stderr=True)

FORMATS = ("table", "csv", "json")
COLUMNS = (
    "tenant",
    "draft_id",
    "draft_state",
    "patient",
    "encounter",
    "writeback_id",
    "kind",
    "writeback_state",
    "chart_resource",
    "chart_version",
    "model",
    "prompt_template",
    "approved_at",
)


def _fail(message: str) -> typer.Exit:
    # One line whatever the width (a pipe is 80 columns to rich), the message never markup.
    errors.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(2)


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"--{name} must be an ISO 8601 date or time, e.g. 2026-11-24T10:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _render(rows: list[dict[str, Any]], fmt: str) -> str | Table:
    if fmt == "json":
        return json.dumps({"rows": rows}, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    table = Table(title=f"impact: {len(rows)} write-back(s)")
    for column in COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) if row[c] is not None else "" for c in COLUMNS))
    return table


def impact(
    model_version: Annotated[
        str | None, typer.Option(help="A model version, or name@version.")
    ] = None,
    prompt_template: Annotated[str | None, typer.Option(help="A prompt template id.")] = None,
    tenant: Annotated[str | None, typer.Option(help="One tenant (default: all).")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Approved at or after (ISO 8601, UTC).")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="Approved before (ISO 8601).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    plan: Annotated[
        Path | None, typer.Option(help="Write the correction plan (JSON) to this file.")
    ] = None,
    reveal_patients: Annotated[
        bool,
        typer.Option(
            "--reveal-patients",
            help="Show patient and encounter references instead of pseudonyms (recorded).",
        ),
    ] = False,
    by: Annotated[str | None, typer.Option(help="Who is asking (default: OS user@host).")] = None,
) -> None:
    """Patients, encounters and chart resources written under a model / prompt / window."""
    from chartgate.settings import load_settings  # noqa: PLC0415

    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}")
    window = _moment(since, "from"), _moment(until, "to")
    settings = load_settings()  # first: a settings error is told before the store's modules load
    if tenant is not None and tenant not in {t.id for t in settings.tenants}:
        raise _fail("unknown tenant")
    from chartgate.bootstrap.standalone import open_impact  # noqa: PLC0415
    from chartgate.service.impact import ImpactFilter  # noqa: PLC0415

    query = ImpactFilter(
        tenant=tenant,
        model_version=model_version,
        prompt_template=prompt_template,
        since=window[0],
        until=window[1],
    )
    actor = f"operator:{by or f'{getpass.getuser()}@{socket.gethostname()}'}"[:200]
    # No store, an unmigrated one, or unusable keys: the CLI's one failure handler reports
    # them (cli/failures.py), with the same documented exit code as every other command.
    service, engine = open_impact(settings)
    try:
        report = service.run(query, actor=actor, reveal=reveal_patients)
    finally:
        engine.dispose()
    rendered = _render(report.rows, fmt)
    if isinstance(rendered, str):
        print(rendered, end="" if fmt == "csv" else "\n")
    else:
        console.print(rendered)
    if plan is not None:
        document = report.plan(datetime.now(UTC))
        try:
            plan.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write the plan: {exc.strerror}") from None
        errors.print(f"plan: {len(document['items'])} draft(s) -> {plan}")
