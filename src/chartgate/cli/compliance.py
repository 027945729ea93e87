"""``chartgate compliance report`` and ``chartgate access review``: evidence from the system.

The report answers an auditor's questions from the running configuration, the code's
route/role table and the store: who can read / write / approve / delete / investigate,
the retention rules, the processor map, ledger verification and the last checkpoint per
tenant, encryption per table, key custody and the kill switches. ``access review`` lists,
for a period, who used what against what they were granted, and ``--sign-off`` records the
reviewer's certification as a ledger event (``service/access_review.py``). Both read the
store through the same wiring as ``chartgate audit`` (keys must exist; nothing is created).
"""

from __future__ import annotations

import html
import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

compliance_app = typer.Typer(help="Compliance evidence from the system.", no_args_is_help=True)
access_app = typer.Typer(help="Periodic access review and sign-off.", no_args_is_help=True)
console = Console()


@contextmanager
def _wired() -> Iterator[tuple[Any, Any, Any]]:
    """Settings, the ledger and the kill switches over one configured store."""
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()  # first: a settings error is told before the store's modules load
    from chartgate.bootstrap.keys import key_files  # noqa: PLC0415
    from chartgate.bootstrap.ledger import open_ledger  # noqa: PLC0415
    from chartgate.bootstrap.standalone import open_killswitches  # noqa: PLC0415
    from chartgate.cli.failures import require_existing_keys  # noqa: PLC0415

    require_existing_keys(key_files(settings))
    ledger, engine = open_ledger(settings)
    switches, switch_engine = open_killswitches(settings)
    try:
        yield settings, ledger, switches
    finally:
        engine.dispose()
        switch_engine.dispose()


def key_custody(settings: Any) -> list[dict[str, Any]]:  # noqa: ANN401 - Settings
    """Where each key lives and whether its file is owner-only (the local-file provider)."""
    from chartgate.bootstrap.keys import key_files  # noqa: PLC0415

    found = []
    if settings.key_provider == "pkcs11":  # docs/keys.md: both keys in the token
        return [
            {"key": kind, "provider": "pkcs11", "location": f"token {settings.pkcs11_token}"}
            for kind in ("key-encryption key", "ledger signing key")
        ]
    for kind, path in zip(
        ("key-encryption key", "ledger signing key"), key_files(settings), strict=True
    ):
        entry: dict[str, Any] = {"key": kind, "provider": "local-file", "location": str(path)}
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            entry.update(present=False, owner_only=None)
        else:
            entry.update(present=True, mode=oct(mode), owner_only=not mode & 0o077)
        entry["dev_only"] = True  # issue 18 item 4: a vault/HSM provider replaces it outside dev
        found.append(entry)
    return found


def build_report(settings: Any, ledger: Any, switches: Any, today: date) -> dict[str, Any]:  # noqa: ANN401
    """The whole report as JSON-ready data."""
    from chartgate.cli.dataflow import retention_summary  # noqa: PLC0415
    from chartgate.cli.processors import registry_status  # noqa: PLC0415
    from chartgate.domain.access_map import Access, who_can  # noqa: PLC0415
    from chartgate.domain.data_inventory import TABLES  # noqa: PLC0415
    from chartgate.service.audit_verify import verify_store  # noqa: PLC0415

    tenants = []
    with ledger.unit(read_only=True) as unit:
        names = sorted({t.id for t in settings.tenants} | set(unit.ledger.tenants()))
        for name in names:
            verified = verify_store(
                unit.ledger,
                name,
                ledger.key.verifier,
                ledger.audit.origin(name),
                anchor_note=ledger.anchor.latest(name),
            )
            last = unit.ledger.latest_checkpoint(name)
            configured = settings.tenant(name)
            tenants.append(
                {
                    "tenant": name,
                    "ledger": verified.describe(),
                    "ledger_ok": verified.ok,
                    "last_checkpoint": None
                    if last is None
                    else {"size": last.size, "signed_at": last.signed_at.isoformat()},
                    "kill_switches": [s.public() for s in switches.engaged(name)],
                    "care_team_grants": len(configured.care_team_grants) if configured else 0,
                    "scribe_clients": list(configured.scribe_clients) if configured else [],
                    "issuers": list(configured.issuers) if configured else [],
                }
            )
    return {
        "generated_on": today.isoformat(),
        "dev_mode": settings.dev_mode,
        "who_can": {access.value: who_can(access) for access in Access},
        "tenants": tenants,
        "retention": retention_summary(settings),
        "processors": registry_status(settings, today),
        "encryption": {
            name: {
                "encrypted": entry.encrypted(),
                "phi_in_clear": entry.phi_in_clear(),
                "retention": entry.retention,
            }
            for name, entry in TABLES.items()
        },
        "key_custody": key_custody(settings),
    }


@compliance_app.command("report")
def report(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write an HTML page to this file.")
    ] = None,
) -> None:
    """Who can do what, retention, processors, ledger, encryption, keys, kill switches."""
    with _wired() as (settings, ledger, switches):
        data = build_report(settings, ledger, switches, datetime.now(UTC).date())
    if html_out is not None:
        html_out.write_text(to_html("chartgate compliance report", data), encoding="utf-8")
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    _print_sections(data)


def _print_sections(data: dict[str, Any]) -> None:
    console.rule("who can")
    for access, roles in data["who_can"].items():
        names = ", ".join(f"{role} ({len(routes)} routes)" for role, routes in roles.items())
        console.print(f"{access:12} {names or 'anyone, no sign-in (no PHI)'}")
    console.rule("tenants")
    for tenant in data["tenants"]:
        last = tenant["last_checkpoint"]
        console.print(f"{tenant['tenant']}: {tenant['ledger']}", highlight=False)
        console.print(
            f"  last checkpoint: {last['size']} at {last['signed_at']}"
            if last
            else "  last checkpoint: none",
            highlight=False,
        )
        console.print(
            f"  kill switches engaged: {len(tenant['kill_switches'])}; "
            f"care-team grants: {tenant['care_team_grants']}"
        )
    console.rule("retention")
    for rule, text in data["retention"].items():
        console.print(f"{rule:18} {text}")
    console.rule("processors")
    for p in data["processors"]["processors"]:
        console.print(
            f"{p['id']:20} {p['role']:14} BAA {p['baa_status']:12} "
            f"until {p['baa_expires'] or '-'}  {p['legal_entity']}",
            highlight=False,
        )
    for item in data["processors"]["attention"]:
        console.print(f"[bold red]attention:[/] {item}")
    console.rule("encryption at rest")
    for table, facts in data["encryption"].items():
        clear = f"; PHI refs in clear: {', '.join(facts['phi_in_clear'])}" * bool(
            facts["phi_in_clear"]
        )
        console.print(f"{table:20} encrypted: {', '.join(facts['encrypted']) or '-'}{clear}")
    console.rule("key custody")
    for key in data["key_custody"]:
        state = "missing" if not key["present"] else f"mode {key['mode']}"
        console.print(f"{key['key']:20} {key['provider']} {key['location']} ({state})")


def to_html(title: str, data: dict[str, Any]) -> str:
    """A self-contained page: one section per top-level key, values as nested lists."""
    body = "".join(
        f"<section><h2>{html.escape(k)}</h2>{_html_value(v)}</section>" for k, v in data.items()
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
        "li{margin:.1em 0}h2{border-bottom:1px solid #ccc}</style>"
        f"<h1>{html.escape(title)}</h1>{body}</html>\n"
    )


def _html_value(value: Any) -> str:  # noqa: ANN401 - JSON
    if isinstance(value, dict):
        items = "".join(
            f"<li><b>{html.escape(str(k))}</b>: {_html_value(v)}</li>" for k, v in value.items()
        )
        return f"<ul>{items}</ul>"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_html_value(v)}</li>" for v in value) + "</ul>"
    return html.escape("-" if value is None else str(value))


def _day(value: str, option: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        console.print(f"[bold red]error:[/] {option} takes a date such as 2026-10-01")
        raise typer.Exit(2) from None


@access_app.command("review")
def access_review(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC).")],
    end: Annotated[str, typer.Option("--to", help="Last day, included (YYYY-MM-DD).")],
    tenant: Annotated[str | None, typer.Option(help="One tenant (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reviews as JSON.")] = False,
    sign_off: Annotated[
        str | None,
        typer.Option("--sign-off", help="Reviewer name: record the certification in the ledger."),
    ] = None,
) -> None:
    """Principals and clients seen, access used vs admitted, grants, admin actions, dormant."""
    from chartgate.adapters.system import SystemClock, UuidIds  # noqa: PLC0415
    from chartgate.service.access_review import (  # noqa: PLC0415
        GrantFacts,
        SignOffs,
        digest,
        review,
    )

    first, last = _day(start, "--from"), _day(end, "--to") + timedelta(days=1)
    if last <= first:
        console.print("[bold red]error:[/] --to must not be before --from")
        raise typer.Exit(2)
    reviews = []
    with _wired() as (settings, ledger, _switches):
        names = [tenant] if tenant else sorted(t.id for t in settings.tenants)
        for name in names:
            configured = settings.tenant(name)
            grants = [
                GrantFacts(g.fhir_user, len(g.encounters), len(g.patients), g.expires_at)
                for g in (configured.care_team_grants if configured else [])
            ]
            with ledger.unit(read_only=True) as unit:
                data = review(
                    name,
                    unit.ledger.entries(name),
                    start=first,
                    end=last,
                    grants=grants,
                    scribe_clients=list(configured.scribe_clients) if configured else [],
                )
            data["content_hash"] = digest(data)
            if sign_off:
                signer = SignOffs(ledger=ledger.unit, clock=SystemClock(), ids=UuidIds())
                data["signed_off_seq"] = signer.sign(
                    {k: v for k, v in data.items() if k != "content_hash"}, reviewer=sign_off
                )
            reviews.append(data)
    if as_json:
        print(json.dumps(reviews, indent=2))
        return
    for data in reviews:
        _print_review(data)


def _print_review(data: dict[str, Any]) -> None:
    console.rule(f"{data['tenant']}: {data['from'][:10]} to {data['to'][:10]}")
    for p in data["principals"]:
        unused = ", ".join(p["unused"]) or "-"
        console.print(
            f"{p['actor']:40} used: {', '.join(p['used']) or '-'}; unused: {unused}",
            highlight=False,
        )
    for g in data["grants"]:
        console.print(f"grant {g['fhir_user']}: {'DORMANT' if g['dormant'] else 'used'}")
    for c in data["scribe_clients"]:
        console.print(f"scribe client {c['client_id']}: {'DORMANT' if c['dormant'] else 'seen'}")
    console.print(f"admin actions: {len(data['admin_actions'])}; review {data['content_hash']}")
    if "signed_off_seq" in data:
        console.print(f"signed off: ledger entry {data['signed_off_seq']}")
