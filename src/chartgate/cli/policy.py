"""``chartgate policy``: check a write-back matrix file, or show the shipped default.

Thin over ``chartgate.policy`` (loading) and ``chartgate.domain.policy`` (rules), so the CLI
refuses a file for exactly the reasons the server would at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chartgate.domain.errors import PolicyFileError

if TYPE_CHECKING:
    from chartgate.domain.policy import LoadedPolicy

EXIT_INVALID = 2
"""Exit status for a policy file that cannot be read, parsed or validated."""

policy_app = typer.Typer(
    help="The write-back matrix: which resources and note types may reach a chart, and how.",
    no_args_is_help=True,
)


@policy_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML) to validate.")],
) -> None:
    """Validate a policy file and print its matrix and hash; exit 2 naming the first problem."""
    from chartgate.policy import load_policy_file  # noqa: PLC0415 - a fast CLI start

    try:
        loaded = load_policy_file(file)
    except PolicyFileError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(code=EXIT_INVALID) from e
    _print_policy(loaded, source=str(file))


@policy_app.command("show")
def show() -> None:
    """Print the matrix and hash of the shipped conservative default policy."""
    from chartgate.policy import load_default_policy  # noqa: PLC0415 - a fast CLI start

    try:
        loaded = load_default_policy()
    except PolicyFileError as e:  # a packaging fault, but still a clear message
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(code=EXIT_INVALID) from e
    _print_policy(loaded, source="shipped default")


def _print_policy(loaded: LoadedPolicy, *, source: str) -> None:
    """Print the matrix as a table, then the hash an auditor can recompute."""
    from chartgate.domain.policy import matrix_rows  # noqa: PLC0415

    policy = loaded.policy
    table = Table(title=f"write-back matrix {policy.name!r} ({source})", title_justify="left")
    for header in ("resource type", "note type", "mode", "auth", "rollback", "EHR profiles"):
        table.add_column(header)
    for row in matrix_rows(policy):
        note = f"{row.note_type} {row.display}" if row.note_type else "-"
        auth = f"{row.auth}, finalize {row.finalize_auth}" if row.finalize_auth else row.auth
        cells = (row.resource_type, note, row.mode, auth, row.rollback, row.ehr_profiles or "-")
        table.add_row(*(Text(cell) for cell in cells))
    Console().print(table)
    _print_read_profiles(loaded)
    typer.echo(
        f"{len(policy.read_profiles)} read profiles, "
        f"{len(policy.disallowed_content)} disallowed-content patterns; "
        "anything not listed is denied."
    )
    typer.echo(f"policy hash: {loaded.content_hash}")


def _print_read_profiles(loaded: LoadedPolicy) -> None:
    """Print what each note template may read (minimum necessary), then consent/disclosures."""
    policy = loaded.policy
    table = Table(title="read profiles (GET /v1/context)", title_justify="left")
    for header in ("template", "type", "elements", "window", "categories", "max", "redact"):
        table.add_column(header)
    for template, profile in policy.read_profiles.items():
        for rule in profile.resources:
            since = "any age" if rule.window_days is None else f"{rule.window_days} d before"
            after = f" +{rule.days_after_encounter} d" if rule.days_after_encounter else ""
            window = f"{since} .. encounter end{after}"
            cells = (
                f"{template} ({profile.purpose_of_use})",
                rule.type,
                ", ".join(rule.elements),
                window,
                ", ".join(rule.categories) if rule.categories else "any",
                str(rule.max_count),
                ", ".join(rule.redact) or "-",
            )
            table.add_row(*(Text(cell) for cell in cells))
    Console().print(table)
    consent = policy.consent
    where = ", ".join([*consent.required_jurisdictions, *consent.required_tenants]) or "nowhere"
    typer.echo(f"consent required in: {where}")
    for disclosure in policy.disclosures:
        exempt = f" unless {disclosure.unless}" if disclosure.unless else ""
        typer.echo(
            f"disclosure {disclosure.id}: {', '.join(disclosure.jurisdictions)} "
            f"({', '.join(disclosure.applies_to)}){exempt}; source: {disclosure.source}"
        )
