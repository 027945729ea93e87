"""``chartgate vendors`` (the profile matrix) and ``chartgate config check``.

``vendors`` prints every fact chartgate obeys per EHR family, with its source; ``--json`` gives
the same for scripts. ``config check`` loads the settings exactly as the server does and then
checks what only makes sense together: each tenant's vendor profile and the write-back policy
(a profile the policy does not declare would have every note refused).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from chartgate.domain.errors import ChartgateError

if TYPE_CHECKING:
    from chartgate.domain.vendor_profile import VendorProfile

EXIT_INVALID = 2

config_app = typer.Typer(help="The settings: check them before starting.", no_args_is_help=True)
console = Console()


def profile_json(profile: VendorProfile) -> dict[str, Any]:
    """One profile as plain JSON: every fact, its source, and which facts are unverified."""
    # The profiles (and the domain models under them) load when a command needs them.
    from chartgate.adapters.ehr.vendors import ALIASES  # noqa: PLC0415
    from chartgate.domain.vendor_profile import profile_fields  # noqa: PLC0415

    facts: dict[str, Any] = {}
    for name in profile_fields():
        value = getattr(profile, name)
        facts[name] = _plain(value)
    return {
        "name": profile.name,
        "title": profile.title,
        "aliases": sorted(alias for alias, target in ALIASES.items() if target == profile.name),
        "facts": facts,
        "sources": dict(profile.sources),
        "unverified": list(profile.unverified()),
    }


def _plain(value: object) -> Any:  # noqa: ANN401 - JSON
    from chartgate.domain.vendor_errors import VendorErrorTable  # noqa: PLC0415
    from chartgate.domain.vendor_profile import RateLimit  # noqa: PLC0415

    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, RateLimit):
        return {
            "requests_per_second": value.requests_per_second,
            "burst": value.burst,
            "published": value.published,
        }
    if isinstance(value, VendorErrorTable):
        table: dict[str, Any] = {k: str(v) for k, v in value.codes.items()}
        if value.empty_forbidden is not None:
            table["403 (empty body)"] = str(value.empty_forbidden)
        return table
    if isinstance(value, StrEnum):
        return str(value)
    return value


def _cell(name: str, value: Any) -> str:  # noqa: ANN401 - JSON
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    if name == "rate_limit":
        kind = "published" if value["published"] else "default"
        return f"{value['requests_per_second']:g}/s, burst {value['burst']} ({kind})"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    return str(value)


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("profile", "name"),
    ("writes", "writable_types"),
    ("note as", "content_types"),
    ("attach.", "max_attachments"),
    ("prelim.", "accepts_preliminary"),
    ("provenance", "provenance_mode"),
    ("create guard", "idempotent_create"),
    ("If-Match", "requires_if_match"),
    ("id search", "identifier_search"),
    ("amend", "amendment_mode"),
    ("authenticator", "authenticator"),
    ("rate", "rate_limit"),
    ("codes", "errors"),
)
"""The compact matrix: one row per profile; ``vendors NAME`` and ``--json`` show every fact."""


def _short(name: str, value: Any) -> str:  # noqa: ANN401 - JSON
    if name == "writable_types":
        return (
            "note+prov"
            if value == ["DocumentReference", "Provenance"]
            else ("note" if value == ["DocumentReference"] else f"{len(value)} types")
        )
    if name == "content_types":
        return ",".join(str(v).split(";")[0].split("/")[1] for v in value)
    if name == "rate_limit":
        return f"{value['requests_per_second']:g}/s"
    if name == "errors":
        return str(len(value)) if value else "-"
    return _cell(name, value)


def vendors(
    as_json: Annotated[bool, typer.Option("--json", help="Print the matrix as JSON.")] = False,
    name: Annotated[
        str | None, typer.Argument(help="One profile (or alias) with each fact's source.")
    ] = None,
) -> None:
    """Print the vendor profile matrix: what chartgate does differently per EHR, and why."""
    from chartgate.adapters.ehr.vendors import ALIASES, VENDORS, get_vendor  # noqa: PLC0415

    try:
        chosen = [get_vendor(name)] if name else list(VENDORS.values())
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    rows = [profile_json(profile) for profile in chosen]
    if as_json:
        print(json.dumps(rows if name is None else rows[0], indent=2))
        return
    if name is not None:
        row = rows[0]
        table = Table(title=f"{row['name']}: {row['title']}", title_justify="left")
        for header in ("fact", "value", "source"):
            table.add_column(header, overflow="fold")
        for fact, value in row["facts"].items():
            table.add_row(fact, _cell(fact, value), row["sources"][fact])
        console.print(table)
        return
    table = Table(title="EHR vendor profiles (* = unverified)", title_justify="left")
    for header, _ in _COLUMNS:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            *(
                _short(fact, row["facts"][fact]) + ("*" if fact in row["unverified"] else "")
                for _, fact in _COLUMNS[1:]
            ),
        )
    console.print(table)
    aliases = ", ".join(f"{alias} → {target}" for alias, target in ALIASES.items())
    console.print(f"aliases: {aliases}. `chartgate vendors NAME` shows each fact's source.")


@config_app.command("check")
def check() -> None:
    """Load the settings as the server would; exit 2 with one line naming the first problem."""
    from pydantic import ValidationError  # noqa: PLC0415 - keep --help fast

    from chartgate.settings import load_settings  # noqa: PLC0415

    try:
        settings = load_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: invalid settings at {where}: {first['msg']}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    from chartgate.adapters.ehr.vendors import get_vendor  # noqa: PLC0415
    from chartgate.adapters.processors import require_registered  # noqa: PLC0415
    from chartgate.bootstrap.tenants import load_policy  # noqa: PLC0415

    try:
        policy = load_policy(settings.policy).policy
        require_registered(settings)
    except ChartgateError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    for tenant in settings.tenants:
        profile = get_vendor(tenant.ehr.vendor)
        if profile.name not in policy.vendors:
            typer.echo(
                f"error: tenant {tenant.id}: EHR profile {profile.name!r} is not declared in the"
                f" policy {policy.name!r}: every note would be refused",
                err=True,
            )
            raise typer.Exit(EXIT_INVALID)
        alias = (
            f" ({tenant.ehr.vendor!r} is an alias of {profile.name!r})"
            if tenant.ehr.vendor != profile.name
            else ""
        )
        unverified = len(profile.unverified())
        console.print(
            f"tenant {tenant.id}: {profile.title}{alias}; {unverified} unverified fact(s)"
            " (`chartgate vendors " + profile.name + "`)",
            highlight=False,
        )
    console.print(f"settings are valid: {len(settings.tenants)} tenant(s), policy {policy.name!r}")
