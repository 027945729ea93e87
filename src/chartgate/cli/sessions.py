"""``chartgate sessions count|revoke``: reviewer-page sessions in the store (ADR 0020).

Revoking deletes the session rows: every replica refuses the cookie on its next request and
the clinician signs in again. Use it when a clinician's access is withdrawn or a browser is
lost; the identity provider's own session is the IdP's to end. Needs no key file.

Exit codes: 0 done, 2 bad input or settings; a store that fails goes to the one CLI failure
handler (docs/ops/cli.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from chartgate.adapters.storage.reviewer_sessions import SqlSessionStore

sessions_app = typer.Typer(
    help="Reviewer-page sessions: count them, revoke a clinician's or a tenant's.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


def _store() -> tuple[SqlSessionStore, Engine]:
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()  # first: a settings error is told before the store's modules load
    from chartgate.adapters.storage.engine import make_engine  # noqa: PLC0415
    from chartgate.adapters.storage.reviewer_sessions import SqlSessionStore  # noqa: PLC0415
    from chartgate.domain.reviewer_sessions import SessionLimits  # noqa: PLC0415

    engine = make_engine(settings.database_url, create=False)
    limits = SessionLimits(
        idle=settings.reviewer_session_idle_seconds,
        absolute=settings.reviewer_session_absolute_seconds,
    )
    return SqlSessionStore(engine, None, limits), engine


@sessions_app.command("count")
def count(
    tenant: Annotated[str | None, typer.Option("--tenant", help="One tenant only.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many reviewer sessions are live now."""
    store, engine = _store()
    try:
        live = store.count(tenant=tenant)
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps({"tenant": tenant, "live": live}))
    else:
        console.print(f"live sessions{f' of {tenant}' if tenant else ''}: {live}")


@sessions_app.command("revoke")
def revoke(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant (required).")],
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="The clinician's sub; without it, every session."),
    ] = None,
) -> None:
    """End sessions now, on every replica: one clinician's, or the whole tenant's."""
    if not tenant.strip():
        errors.print("[bold red]error:[/] --tenant must name a tenant")
        raise typer.Exit(2)
    store, engine = _store()
    try:
        ended = store.revoke(tenant=tenant, subject=subject)
    finally:
        engine.dispose()
    console.print(f"revoked {ended} session(s)")
