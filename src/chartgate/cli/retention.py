"""``chartgate retention …``: apply the retention rules, or see what they would do.

``run`` deletes, archives or crypto-shreds what the rules make due and records each
action in the tenant's ledger; ``run --dry-run`` only prints the plan (``--as-of`` asks
"what would be due on that day?"); ``check FILE`` validates a rules file. Exit codes: 0
done, 1 an item is blocked (an offboarded tenant still configured), 2 unusable settings
or rules.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from chartgate.service.retention import PlannedAction, RetentionReport

retention_app = typer.Typer(
    help="Retention: delete, archive or crypto-shred by rule (docs/retention.md).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


class _FixedClock:
    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.print("[bold red]error:[/] --as-of takes a date or time such as 2032-01-31")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@retention_app.command("run")
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what is due; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="With --dry-run: plan as if it were this date (UTC)."),
    ] = None,
) -> None:
    """Apply the retention rules (settings ``retention_policy``; default: the shipped rules)."""
    from chartgate.settings import load_settings  # noqa: PLC0415

    moment = _as_of(as_of)
    if moment is not None and not dry_run:
        errors.print("[bold red]error:[/] --as-of plans only; add --dry-run")
        raise typer.Exit(2)
    settings = load_settings()  # first: a settings error is told before the store's modules load
    from chartgate.bootstrap.standalone import open_retention  # noqa: PLC0415
    from chartgate.observability import configure_logging  # noqa: PLC0415

    configure_logging(settings.log_level)
    # No store, an unmigrated one, unusable keys or a broken rules file: the CLI's one
    # failure handler reports them (cli/failures.py), with the documented exit codes.
    service, engine = open_retention(
        settings, clock=_FixedClock(moment) if moment is not None else None
    )
    try:
        # A spinner on a terminal (a first run over years of data takes a while); none in a pipe.
        with (
            errors.status("applying the retention rules…") if errors.is_terminal else nullcontext()
        ):
            report = service.run(dry_run=dry_run)
    finally:
        engine.dispose()
    if report.busy:  # cron fires on every replica; one does the work (duty_locks.py)
        errors.print("retention: another run holds the duty (another replica); nothing done")
        return
    if as_json:
        print(json.dumps(_report_json(report), indent=2))
    else:
        _print(report)
    if any(action.action == "blocked" for action in report.actions):
        raise typer.Exit(1)


@retention_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="A retention rules YAML file.")],
) -> None:
    """Validate a rules file; exit 0 when chartgate would load it."""
    from chartgate.domain.errors import ChartgateError  # noqa: PLC0415
    from chartgate.policy.retention import load_retention  # noqa: PLC0415

    try:
        loaded = load_retention(file)
    except ChartgateError as exc:
        errors.print(Text.assemble(("error: ", "bold red"), exc.message), soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(f"ok: {loaded.policy.name} ({loaded.content_hash})", highlight=False)


def _report_json(report: RetentionReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "rules": report.rules,
        "rules_hash": report.rules_hash,
        "planned": [a.as_dict() for a in report.actions],
        "done": [a.as_dict() for a in report.done],
    }


def _print(report: RetentionReport) -> None:
    title = "retention plan (dry run: nothing changed)" if report.dry_run else "retention run"
    console.print(f"rules: {report.rules} ({report.rules_hash})", highlight=False)
    rows: list[PlannedAction] = report.actions if report.dry_run else report.done
    held = [a for a in report.actions if a.action in {"held", "blocked"}]
    if not report.dry_run:
        rows = [*rows, *held]
    if not rows:
        console.print("nothing is due")
        return
    table = Table(title=title)
    for column in ("class", "action", "tenant", "subject", "detail"):
        table.add_column(column)
    for action in rows:
        detail = ", ".join(f"{k}={v}" for k, v in action.detail.items())
        table.add_row(action.record_class, action.action, action.tenant, action.subject, detail)
    console.print(table)
