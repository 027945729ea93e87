"""``chartgate report`` and ``chartgate drift``: post-launch figures from the audit ledger.

Tables in the terminal, ``--json`` for machines, ``--html FILE`` for people who would
rather look than read (one self-contained file with inline SVG charts, ``web/charts.py``,
shared with the admin page).
The figures and their definitions are in ``service/reports.py`` and docs/ops/reports.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()

FromOpt = Annotated[
    str | None, typer.Option("--from", help="Start (UTC date or time; default: 7 days ago).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="End, exclusive (default: now).")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="One tenant (default: all).")]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Also write a self-contained HTML file with charts.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


class BadWindow(ValueError):
    """A date or window the operator typed that cannot be read."""


def parse_moment(text: str) -> datetime:
    """A UTC date (``2026-11-01``) or ISO time; naive values are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadWindow(f"{text!r} is not a date (use YYYY-MM-DD or an ISO time)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_window(text: str) -> tuple[datetime, datetime]:
    """``FROM..TO`` (both UTC dates or ISO times), TO exclusive."""
    start, sep, end = text.partition("..")
    if not sep:
        raise BadWindow(f"{text!r} is not a window (use FROM..TO, e.g. 2026-11-01..2026-11-15)")
    window = parse_moment(start), parse_moment(end)
    if window[0] >= window[1]:
        raise BadWindow(f"{text!r}: the window ends before it starts")
    return window


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _open() -> tuple[Any, Any, Any]:
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()  # first: a settings error is told before the store's modules load
    from chartgate.bootstrap.keys import key_files  # noqa: PLC0415
    from chartgate.bootstrap.standalone import open_reports  # noqa: PLC0415
    from chartgate.cli.failures import require_existing_keys  # noqa: PLC0415

    require_existing_keys(key_files(settings)[:1])  # pseudonyms come from the data keys
    return open_reports(settings)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _rows_table(title: str, dimension: str, rows: list[Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(dimension)
    for name in ("n", "success", "conflict", "rejected", "ambig.", "open", "rollback"):
        table.add_column(name, justify="right")
    for name in ("review p50", "commit p50", "commit p95", "incomplete"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(
            r.group,
            str(r.writebacks),
            f"{r.rate(r.committed):.0%}",
            f"{r.rate(r.conflict):.0%}",
            f"{r.rate(r.rejected):.0%}",
            f"{r.rate(r.ambiguous):.0%}",
            str(r.open),
            f"{r.rate(r.rollbacks):.0%}",
            _seconds(r.review_p50_s),
            _seconds(r.commit_p50_s),
            _seconds(r.commit_p95_s),
            str(r.incomplete),
        )
    return table


def report(
    start: FromOpt = None,
    end: ToOpt = None,
    tenant: TenantOpt = None,
    html: HtmlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Success, conflict, rejection and ambiguous rates, latency, rollbacks, audit completeness."""
    from chartgate.service.reports import build_report  # noqa: PLC0415
    from chartgate.web.charts import report_html  # noqa: PLC0415

    try:
        until = parse_moment(end) if end else datetime.now(UTC)
        since = parse_moment(start) if start else until - timedelta(days=7)
    except BadWindow as exc:
        raise _fail(str(exc)) from None
    source, clinician, engine = _open()
    try:
        events = source.events(since, tenant=tenant)
        result = build_report(
            events, source.origins(events), start=since, end=until, clinician=clinician
        )
    finally:
        engine.dispose()
    if html is not None:
        html.write_text(report_html(result, tenant=tenant), encoding="utf-8")
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return
    console.print(
        _rows_table(f"write-backs queued {since:%Y-%m-%d} → {until:%Y-%m-%d}", "", [result.total])
    )
    for dimension, rows in result.by.items():
        console.print(_rows_table(f"by {dimension.replace('_', ' ')}", dimension, rows))
    if result.incomplete:
        console.print(f"[red]{len(result.incomplete)} committed write-back(s) lack audit links[/]")
    else:
        console.print("audit completeness: every committed write-back has its whole chain")
    if html is not None:
        console.print(f"charts: {html}")


def drift(
    baseline: Annotated[
        str | None, typer.Option(help="FROM..TO (default: the 28 days before the window).")
    ] = None,
    window: Annotated[str | None, typer.Option(help="FROM..TO (default: the last 7 days).")] = None,
    tenant: TenantOpt = None,
    html: HtmlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare human-oversight signals (auto-accept, overrides, exceptions) between windows."""
    from chartgate.service.reports import build_drift  # noqa: PLC0415
    from chartgate.web.charts import drift_html  # noqa: PLC0415

    try:
        now = datetime.now(UTC)
        recent = parse_window(window) if window else (now - timedelta(days=7), now)
        base = parse_window(baseline) if baseline else (recent[0] - timedelta(days=28), recent[0])
    except BadWindow as exc:
        raise _fail(str(exc)) from None
    source, clinician, engine = _open()
    try:
        events = source.events(min(base[0], recent[0]), tenant=tenant)
        result = build_drift(
            events, source.origins(events), baseline=base, window=recent, clinician=clinician
        )
    finally:
        engine.dispose()
    names = (
        f"{base[0]:%Y-%m-%d}..{base[1]:%Y-%m-%d}",
        f"{recent[0]:%Y-%m-%d}..{recent[1]:%Y-%m-%d}",
    )
    if html is not None:
        html.write_text(drift_html(result, baseline=names[0], window=names[1]), encoding="utf-8")
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return
    _print_drift(result, names)
    if html is not None:
        console.print(f"charts: {html}")


def _print_drift(result: Any, names: tuple[str, str]) -> None:  # noqa: ANN401 - reports.Drift
    """The drift comparison as terminal tables, the access lines last."""
    table = Table(title=f"oversight drift: {names[0]} vs {names[1]}", title_justify="left")
    for column in ("signal", "baseline", "window", "change"):
        table.add_column(column, justify="left" if column == "signal" else "right")
    for line in result.lines:
        table.add_row(
            line.signal,
            f"{line.baseline:.1%} (n={line.baseline_n})",
            f"{line.window:.1%} (n={line.window_n})",
            f"{line.change:+.1%}",
        )
    console.print(table)
    per_template = Table(title="exceptions per template", title_justify="left")
    for column in ("template", "baseline", "window"):
        per_template.add_column(column)
    for name, old, new in result.exceptions_by_template:
        per_template.add_row(name, str(old), str(new))
    console.print(per_template)
    access = Table(title="access: scopes granted, roles acting, grants", title_justify="left")
    for column in ("signal", "baseline", "window", ""):
        access.add_column(column)
    for line in result.access:
        access.add_row(
            f"{line.group}: {line.name}",
            str(line.baseline),
            str(line.window),
            "ADDED" if line.added else "",
        )
    console.print(access)
