"""``chartgate``: the command line, thin over the same use cases as the API."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from chartgate.cli.audit import audit_app
from chartgate.cli.compliance import access_app, compliance_app
from chartgate.cli.dataflow import dataflow as dataflow_command
from chartgate.cli.impact import impact
from chartgate.cli.keys import keys_app
from chartgate.cli.killswitch import killswitch_app
from chartgate.cli.policy import policy_app
from chartgate.cli.processors import processors as processors_command
from chartgate.cli.report import drift as drift_command
from chartgate.cli.report import report as report_command
from chartgate.cli.retention import retention_app
from chartgate.cli.sessions import sessions_app
from chartgate.cli.vendors import config_app
from chartgate.cli.vendors import vendors as vendors_command
from chartgate.domain.errors import ChartgateError

app = typer.Typer(
    help="chartgate: safe, approved, exactly-once write-back of AI-scribe notes to FHIR R4.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The store: migrations.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(retention_app, name="retention")
app.command("report")(report_command)
app.command("drift")(drift_command)
app.add_typer(config_app, name="config")
app.command("vendors")(vendors_command)
app.add_typer(killswitch_app, name="killswitch")
app.add_typer(sessions_app, name="sessions")
app.add_typer(keys_app, name="keys")
app.command("impact")(impact)
app.command("processors")(processors_command)
app.command("dataflow")(dataflow_command)
app.add_typer(compliance_app, name="compliance")
app.add_typer(access_app, name="access")
console = Console()
errors = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def _settings() -> Any:  # noqa: ANN401 - Settings, imported lazily to keep --help fast
    """Settings from CHARTGATE_* / CHARTGATE_CONFIG; errors reach ``main``'s one handler."""
    from chartgate.settings import load_settings  # noqa: PLC0415

    return load_settings()


def _store_state(settings: Any) -> Any:  # noqa: ANN401 - Settings in, SchemaState out
    """The store's schema revision against this version's head (connects once)."""
    from chartgate.adapters.storage.engine import make_engine  # noqa: PLC0415
    from chartgate.adapters.storage.schema_state import schema_state  # noqa: PLC0415

    engine = make_engine(settings.database_url, create=False)
    try:
        return schema_state(engine)
    finally:
        engine.dispose()


def _require_schema_at_head(settings: Any) -> None:  # noqa: ANN401 - Settings
    """Refuse to start on a store that is unreachable or not migrated (one line, exit 3/4)."""
    from chartgate.domain.errors import SchemaNotCurrent  # noqa: PLC0415

    state = _store_state(settings)
    if not state.at_head:
        raise SchemaNotCurrent(
            f"the store is at schema {state.current or 'none'}, this version needs "
            f"{state.head}: run `chartgate db upgrade`"
        )


def _version(value: bool) -> None:
    if value:
        from chartgate import __version__  # noqa: PLC0415

        print(f"chartgate {__version__} (Python {sys.version.split()[0]})")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Chartgate: safe, approved, exactly-once write-back of AI-scribe notes to FHIR R4."""
    del version


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
    ui: Annotated[
        bool,
        typer.Option("--ui", help="Leave the reviewer page running with a demo draft (Ctrl-C)."),
    ] = False,
    port: Annotated[int, typer.Option(help="With --ui: TCP port (0 picks a free one).")] = 0,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print the Provenance resource.")
    ] = False,
) -> None:
    """Run the whole story on the embedded default (SQLite, sandbox EHR, dev IdP)."""
    from chartgate.cli.demo import database_url_from_env, run_demo  # noqa: PLC0415
    from chartgate.observability import configure_logging  # noqa: PLC0415

    configure_logging("WARNING")  # the story is the output; logs (scrubbed) only for problems
    if ui:
        from chartgate.cli.demo import run_ui  # noqa: PLC0415

        run_ui(database_url_from_env(), port=port)
        return
    result = run_demo(database_url_from_env())
    if as_json:
        print(json.dumps(result.summary(), indent=2))
    else:
        _print_story(result, verbose=verbose)
    if result.state != "committed" or not result.audit_verified:
        raise typer.Exit(1)


def _print_story(result: Any, *, verbose: bool = False) -> None:  # noqa: ANN401 - DemoResult
    from rich.panel import Panel  # noqa: PLC0415 - the demo's story only (pygments)
    from rich.syntax import Syntax  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console.rule("[bold]chartgate demo[/]")
    console.print(f"store: [cyan]{result.database_url}[/]")
    console.print(f"draft [cyan]{result.draft_id}[/]\ncorrelation [cyan]{result.correlation_id}[/]")
    console.print(
        Panel(
            Syntax(result.diff.get("unified", ""), "diff", word_wrap=True),
            title="what the clinician changed (AI draft → approved)",
        )
    )
    console.print(
        Panel(
            f"state: [bold green]{result.state}[/]\n"
            f"EHR resource: [bold]{result.ehr_resource}[/] (versionId {result.ehr_version})\n"
            f"Provenance: [bold]{result.provenance}[/]",
            title="the EHR's answer",
        )
    )
    if verbose:
        console.print(
            Panel(
                Syntax(json.dumps(result.provenance_resource, indent=2), "json", word_wrap=True),
                title="Provenance",
            )
        )
    table = Table(title=f"audit chain ({len(result.audit_chain)} events)")
    table.add_column("seq", justify="right")
    table.add_column("type", no_wrap=True)
    table.add_column("by", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for event in result.audit_chain:
        data = event.get("data", {})
        detail = " ".join(
            str(data[k]) for k in ("method", "resource_type", "status") if data.get(k) is not None
        )
        if "version" in data and not detail:
            detail = f"version {data['version']}"
        table.add_row(
            str(event["seq"]),
            event["type"],
            str(event["actor"]).split(":", 1)[0],  # the role; the full actor is in the ledger
            data.get("state", ""),
            detail,
        )
    console.print(table)
    verdict = "[bold green]OK[/]" if result.audit_verified else "[bold red]FAILED[/]"
    console.print(
        Panel(
            f"signed checkpoint: size {result.checkpoint_size}\n"
            f"audit verify: {verdict}: {result.audit_detail.removeprefix('OK ')}\n"
            "check it yourself:\n"
            f"  CHARTGATE_DATABASE_URL={result.database_url} \\\n"
            f"  CHARTGATE_KEY_FILE={result.key_file} chartgate audit verify",
            title="the proof",
        ),
        soft_wrap=False,
    )
    if not verbose:
        console.print("the Provenance resource: chartgate demo --verbose")
    console.print(f"done in {result.seconds:.2f} s; nothing left running.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
) -> None:
    """Serve the HTTP API (settings from CHARTGATE_* / CHARTGATE_CONFIG)."""
    # A refused start (settings, store) is told before the web stack and the wiring load,
    # and before logging is set up: alembic logs its plugins at INFO when first imported.
    settings = _settings()
    _require_schema_at_head(settings)
    from chartgate.observability import configure_logging  # noqa: PLC0415

    configure_logging(settings.log_level)
    import uvicorn  # noqa: PLC0415

    from chartgate.api.app import create_app  # noqa: PLC0415
    from chartgate.bootstrap import build  # noqa: PLC0415

    application = build(settings)
    try:
        # No access log: request lines carry paths and query strings (ids, references); the
        # metrics count requests by route template instead (observability/).
        uvicorn.run(
            create_app(application), host=host, port=port, log_config=None, access_log=False
        )
    finally:
        application.close()


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Process what is due now, then exit.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            envvar="CHARTGATE_WORKER_METRICS_PORT",
            help="Serve /metrics, /healthz and /readyz on this port (0: a free one).",
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(envvar="CHARTGATE_WORKER_METRICS_HOST", help="Interface for that port."),
    ] = "127.0.0.1",
) -> None:
    """Run the write-back worker: claim due outbox rows and send them exactly once."""
    # A refused start (settings, store) is told before the wiring loads, and before logging
    # is set up: alembic logs its plugins at INFO when first imported.
    settings = _settings()
    _require_schema_at_head(settings)
    from chartgate.observability import configure_logging  # noqa: PLC0415

    configure_logging(settings.log_level)
    from chartgate.bootstrap import build, observe  # noqa: PLC0415
    from chartgate.ops_server import OpsServer, WorkerHealth  # noqa: PLC0415
    from chartgate.worker import run_worker  # noqa: PLC0415

    application = build(settings)
    metrics = observe(application)
    health = WorkerHealth(stall_seconds=max(60.0, 20 * settings.worker_poll_seconds))
    server = None
    try:
        if metrics_port is not None and not once:
            try:
                server = OpsServer(metrics.registry, health, host=metrics_host, port=metrics_port)
            except OSError as exc:
                raise _fail(
                    f"cannot listen on {metrics_host}:{metrics_port} for metrics "
                    f"({exc.strerror or type(exc).__name__}); pick another --metrics-port"
                ) from None
            server.start()
            errors.print(f"worker metrics and health on {server.url}", highlight=False)
        run_worker(
            application,
            once=once,
            report=(lambda n: console.print(f"processed {n} write-back(s)")) if once else None,
            metrics=metrics,
            health=health,
        )
    finally:
        if server is not None:
            server.stop()
        application.close()


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8090,
    vendor: Annotated[str, typer.Option(help="Vendor profile to imitate.")] = "generic-r4",
    rate_limit: Annotated[
        float | None,
        typer.Option(
            help="FHIR requests per second before 429 + Retry-After (default: the profile's)."
        ),
    ] = None,
    db: Annotated[Path | None, typer.Option(help="SQLite file for the sandbox's chart.")] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            help='Fault plan as JSON, e.g. \'{"status_storm": {"count": 3, "status": 503}}\' '
            "(the body of POST /__sandbox/faults; change it there at run time)."
        ),
    ] = None,
) -> None:
    """Run the sandbox EHR (FHIR R4 subset) and dev identity provider on loopback."""
    from chartgate.sandbox.faults import FaultPlan, FaultSpecError  # noqa: PLC0415
    from chartgate.sandbox.server import SandboxServer  # noqa: PLC0415
    from chartgate.sandbox.vendors import vendor_profile  # noqa: PLC0415

    try:
        profile = vendor_profile(vendor)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if rate_limit is not None:
        if rate_limit <= 0:
            raise _fail("--rate-limit must be > 0")
        profile = dataclasses.replace(profile, rate_limit_per_second=rate_limit)
    plan = FaultPlan()
    if faults is not None:
        try:
            plan.load_json(json.loads(faults))
        except (json.JSONDecodeError, FaultSpecError) as exc:
            raise _fail(f"--faults: {exc}") from None
    with SandboxServer(db, vendor=profile, port=port, faults=plan) as server:
        console.print(f"FHIR base: {server.fhir_base}\nissuer:    {server.issuer}")
        if faults is not None:
            console.print(f"faults:    {json.dumps(plan.to_json())}")
        console.print("Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema up to date (SQLite or PostgreSQL, same migrations)."""
    settings = _settings()  # first: a settings error is told before the store's modules load
    from chartgate.adapters.storage.engine import make_engine  # noqa: PLC0415
    from chartgate.adapters.storage.migrate import upgrade  # noqa: PLC0415

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    console.print("schema is up to date")


@db_app.command("current")
def db_current() -> None:
    """Print the store's schema revision and the one this version needs."""
    from chartgate.domain.errors import SchemaNotCurrent  # noqa: PLC0415

    settings = _settings()
    try:
        state = _store_state(settings)
        current, head = state.current, state.head
    except SchemaNotCurrent:  # no database file at all: say so, and leave none behind
        from chartgate.adapters.storage.engine import make_engine  # noqa: PLC0415
        from chartgate.adapters.storage.schema_state import head_revision  # noqa: PLC0415

        current, head = None, head_revision(make_engine("sqlite://"))
    console.print(f"current: {current or 'none (empty store)'}\nhead:    {head}")


@db_app.command("check")
def db_check() -> None:
    """Exit 0 when the store is reachable and at head; 4 when it needs `db upgrade`."""
    _require_schema_at_head(_settings())
    console.print("the store is reachable and its schema is current")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="A draft JSON file, as a scribe would submit it.")],
    acknowledge: Annotated[
        list[str] | None,
        typer.Option(help="A warning to override, as code@location (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Print every finding of a draft file; exit 0 only when it would be accepted and approved."""
    try:
        raw = file.read_bytes()
    except OSError:
        raise _fail(f"{file}: cannot read the file") from None
    settings = _settings()  # first: a settings error is told before the validator loads
    from chartgate.bootstrap.tenants import load_policy  # noqa: PLC0415
    from chartgate.cli.validate import check_file, finding_line  # noqa: PLC0415

    try:
        loaded = load_policy(settings.policy)
    except ChartgateError as exc:
        raise _fail(exc.message) from None
    vendor = settings.tenants[0].ehr.vendor if settings.tenants else "generic-r4"
    report = check_file(raw, loaded, vendor=vendor, acknowledged=tuple(acknowledge or ()))
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for finding in report.verdict.findings:
            console.print(finding_line(finding), markup=False, highlight=False, soft_wrap=True)
    if not report.accepted:
        raise typer.Exit(1)
    if not as_json:
        console.print("[green]✓[/] the draft would be accepted")


def main() -> None:
    """Console-script entry point: the one place where failures become one line and a code."""
    from chartgate.cli.failures import explain  # noqa: PLC0415

    try:
        app()
    except Exception as exc:
        if os.environ.get("CHARTGATE_TRACEBACK") == "1":
            raise
        failure = explain(exc)
        errors.print(Text.assemble(("error: ", "bold red"), failure.message), soft_wrap=True)
        sys.exit(failure.code)
