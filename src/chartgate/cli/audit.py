"""``chartgate audit …``: verify the ledger in the store, cut checkpoints, proofs, export.

``verify`` exits 0 when every tenant's log verifies, 1 naming the first bad entry, 2 on
unusable settings, 3 or 4 when the store is unreachable or not migrated
(``cli/failures.py``). Reads by an operator are ledger events too (actor ``cli:<user>@<host>``);
recording is best effort here, because a damaged store must still be verifiable.
"""

from __future__ import annotations

import base64
import getpass
import json
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from chartgate.cli.audit_push import TenantOpt, push

if TYPE_CHECKING:
    from chartgate.bootstrap.ledger import Ledger
    from chartgate.domain.principal import Principal
    from chartgate.ledger.checkpoint import NoteVerifier
    from chartgate.service.audit_verify import StoreReport

audit_app = typer.Typer(
    help="The audit ledger: verify, checkpoint, proofs, export.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)


@contextmanager
def _ledger() -> Iterator[Ledger]:
    """The ledger from CHARTGATE_* settings (no EHR, no identity provider needed)."""
    from chartgate.settings import load_settings  # noqa: PLC0415

    settings = load_settings()  # first: a settings error is told before the store's modules load
    from chartgate.bootstrap.keys import key_files  # noqa: PLC0415
    from chartgate.bootstrap.ledger import open_ledger  # noqa: PLC0415
    from chartgate.cli.failures import require_existing_keys  # noqa: PLC0415

    # Missing keys (exit 5), an unsafe key file (2), an unreachable (3) or unmigrated (4)
    # store: cli/failures.py.
    require_existing_keys(key_files(settings))
    ledger, engine = open_ledger(settings)
    try:
        yield ledger
    finally:
        engine.dispose()


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr for a long job; nothing at all when stderr is not a terminal."""
    from rich.progress import (  # noqa: PLC0415 - keep --help fast
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def _operator(tenant: str) -> Principal:
    """The CLI acts as an auditor named after the OS user and host it runs as."""
    from chartgate.domain.principal import Principal, Role  # noqa: PLC0415

    subject = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    return Principal(tenant=tenant, subject=subject, role=Role.AUDITOR)


def _tenants(ledger: Ledger, tenant: str | None) -> list[str]:
    if tenant is not None:
        return [tenant]
    with ledger.unit(read_only=True) as unit:
        return unit.ledger.tenants()


def _one_tenant(ledger: Ledger, tenant: str | None) -> str:
    found = _tenants(ledger, tenant)
    if len(found) != 1:
        errors.print("[bold red]error:[/] name the tenant with --tenant")
        raise typer.Exit(2)
    return found[0]


def _record_read(ledger: Ledger, tenant: str, what: str, query: dict[str, Any]) -> None:
    """Best effort: an operator's read of the ledger is itself a ledger event."""
    from chartgate.domain.events import AuditRecord, EventType  # noqa: PLC0415

    principal = _operator(tenant)
    try:
        ledger.audit.record(
            AuditRecord(
                type=EventType.AUDIT_READ,
                tenant=tenant,
                at=datetime.now(UTC),
                correlation_id=str(uuid.uuid4()),
                actor=f"{principal.role.value}:{principal.subject}",
                data={"what": what, "query": query},
            )
        )
    except Exception as exc:  # noqa: BLE001 - a damaged store must not stop the report
        errors.print(f"[yellow]warning:[/] could not record this read ({type(exc).__name__})")


@audit_app.command("verify")
def verify(
    tenant: TenantOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
    key: Annotated[
        str | None, typer.Option("--key", help="Pinned verifier key (default: the configured).")
    ] = None,
) -> None:
    """Recompute every leaf hash, root, signature and consistency; exit 1 at the first fault."""
    from chartgate.ledger.checkpoint import CheckpointError  # noqa: PLC0415
    from chartgate.ledger.keyring import parse_vkeys  # noqa: PLC0415

    with _ledger() as ledger:
        try:  # every registered key: checkpoints signed before a rotation still verify
            verifier = parse_vkeys(key) if key else ledger.key.verifiers
        except CheckpointError as exc:
            errors.print(f"[bold red]error:[/] --key: {exc}")
            raise typer.Exit(2) from None
        names = _tenants(ledger, tenant)
        with _progress("verifying tenants", len(names)) as advance:
            reports = _verify_each(ledger, names, verifier, advance)
        stamps = _verify_stamps(ledger, names)
    if as_json:
        summary = {"ok": all(r.ok for r in reports), "tenants": [r.to_dict() for r in reports]}
        summary["timestamps"] = stamps
        summary["ok"] = summary["ok"] and all(s["ok"] for s in stamps)
        print(json.dumps(summary, indent=2))
    else:
        for report in reports:
            (console if report.ok else errors).print(report.describe(), highlight=False)
        for stamp in stamps:
            (console if stamp["ok"] else errors).print(stamp["describe"], highlight=False)
    if not all(r.ok for r in reports) or not all(s["ok"] for s in stamps):
        raise typer.Exit(1)


def _verify_stamps(ledger: Ledger, names: list[str]) -> list[dict[str, Any]]:
    """Check every tenant's RFC 3161 tokens against its checkpoints (docs/ledger.md).

    Only when ``tsa_certificates`` names the TSA certificate(s) to trust; otherwise none.
    """
    from chartgate.ledger.timestamp import check_stamps, load_certificates  # noqa: PLC0415
    from chartgate.settings import load_settings  # noqa: PLC0415

    path = load_settings().tsa_certificates
    if path is None:
        return []
    trusted = load_certificates(Path(path).read_bytes())
    results = []
    for name in names:
        with ledger.unit(read_only=True) as unit:
            notes = [cp.note for cp in unit.ledger.checkpoints(name)]
        verified, failure = check_stamps(notes, ledger.timestamps.tokens(name), trusted)
        latest = max((s.time for s in verified), default=None)
        describe = (
            f"{name}: {len(verified)} checkpoint timestamps verified"
            + (f", latest {latest.isoformat()}" if latest else "")
            if failure is None
            else f"{name}: bad_timestamp: {failure}"
        )
        results.append(
            {"tenant": name, "ok": failure is None, "verified": len(verified), "describe": describe}
        )
    return results


def _size(unit: Any, name: str) -> int | None:  # noqa: ANN401 - SqlLedgerUnit
    head = unit.ledger.head(name)
    return None if head is None else int(head.size)


def _counted(item: Any, advance: Callable[[], None]) -> Any:  # noqa: ANN401 - passed through
    advance()
    return item


def _verify_each(
    ledger: Ledger,
    names: list[str],
    verifier: Sequence[NoteVerifier],
    advance: Callable[[], None],
) -> list[StoreReport]:
    """Verify each tenant's log in the store, recording the read; one report per tenant."""
    from chartgate.service.audit_verify import verify_store  # noqa: PLC0415

    reports = []
    for name in names:
        with ledger.unit(read_only=True) as unit:
            report = verify_store(
                unit.ledger,
                name,
                verifier,
                ledger.audit.origin(name),
                anchor_note=ledger.anchor.latest(name),
            )
        reports.append(report)
        result = report.failure.reason if report.failure else "ok"
        _record_read(ledger, name, "verify", {"result": result})
        advance()
    return reports


@audit_app.command("checkpoint")
def checkpoint(tenant: TenantOpt = None) -> None:
    """Sign a checkpoint of each tenant's log now (the worker does it every N events / T s)."""
    with _ledger() as ledger:
        for name in _tenants(ledger, tenant):
            made = ledger.checkpointer.checkpoint(name)
            size = made.size if made else "unchanged"
            console.print(f"{name}: checkpoint {size}", highlight=False)


@audit_app.command("key")
def key() -> None:
    """Print the verifier key to pin, and the origin of each tenant's log."""
    with _ledger() as ledger:
        published = ledger.audit.published_keys()
    for item in published["keys"]:
        print(item["vkey"])
    print(f"origin: {published['origin_template']}")


@audit_app.command("proof")
def proof(
    seq: Annotated[int, typer.Argument(help="The entry's 0-based seq.")],
    tenant: TenantOpt = None,
    size: Annotated[int | None, typer.Option(help="Checkpoint size (default: newest).")] = None,
) -> None:
    """Print the inclusion proof of one entry (JSON, as ``GET /v1/audit/proof/{seq}``)."""
    from chartgate.domain.errors import ChartgateError  # noqa: PLC0415

    with _ledger() as ledger:
        name = _one_tenant(ledger, tenant)
        try:
            answer = ledger.audit.inclusion(_operator(name), seq, size=size, request_id=None)
        except ChartgateError as exc:
            errors.print(f"[bold red]error:[/] {exc.message}")
            raise typer.Exit(1) from None
        entry = answer.entry
        print(
            json.dumps(
                {
                    "seq": entry.seq,
                    "leaf_hash": (entry.leaf_hash or b"").hex(),
                    "canonical": base64.b64encode(entry.canonical or b"").decode(),
                    "tree_size": answer.checkpoint.size,
                    "proof": [node.hex() for node in answer.proof],
                    "checkpoint": answer.checkpoint.note,
                    "vkey": ledger.key.vkey,
                    "origin": ledger.audit.origin(name),
                },
                indent=2,
            )
        )


def _fhir_exporter() -> Callable[..., int] | None:
    """The BALP AuditEvent writer of ``chartgate.ledger.export`` (issue 5, item 5), if present.

    Hook contract: ``write_fhir(entries, *, origin, out)`` where ``entries`` iterates
    ``{"seq", "leaf_hash", "event"}`` dicts in seq order and ``out`` is a text stream
    (one AuditEvent JSON per line).
    """
    try:
        from chartgate.ledger import export  # noqa: PLC0415
    except ImportError:
        return None
    writer: Callable[..., int] | None = getattr(export, "write_fhir", None)
    return writer


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.")],
    export_format: Annotated[
        Literal["jsonl", "binary", "fhir"],
        typer.Option("--format", help="jsonl or binary (offline verifier), or fhir"),
    ] = "jsonl",
    tenant: TenantOpt = None,
) -> None:
    """Export a tenant's log for offline verification (``python -m chartgate.ledger.verify``).

    jsonl writes ``<tenant>.jsonl`` (seq, base64 canonical bytes, hex leaf hash),
    ``<tenant>.checkpoints`` (the signed notes) and ``<tenant>.vkey`` (the key to pin);
    binary writes ``<tenant>.cglog`` instead of the JSON lines (``chartgate.ledger.binlog``:
    the same facts length-prefixed, verified several times faster).
    """
    from chartgate.ledger import binlog  # noqa: PLC0415
    from chartgate.service.audit import entry_json  # noqa: PLC0415

    with _ledger() as ledger:
        name = _one_tenant(ledger, tenant)
        out.mkdir(parents=True, exist_ok=True)
        origin = ledger.audit.origin(name)
        count = 0
        with (
            ledger.unit(read_only=True) as unit,
            _progress(f"exporting {name}", _size(unit, name)) as advance,
        ):
            if export_format == "fhir":
                writer = _fhir_exporter()
                if writer is None:
                    errors.print(
                        "[bold red]error:[/] the FHIR AuditEvent exporter is not installed"
                    )
                    raise typer.Exit(2)
                path = out / f"{name}.auditevents.ndjson"
                with path.open("w", encoding="utf-8") as handle:
                    entries = (_counted(entry_json(e), advance) for e in unit.ledger.entries(name))
                    count = writer(entries, origin=origin, out=handle)
            elif export_format == "binary":
                path = out / f"{name}.cglog"
                with path.open("wb") as binary:
                    count = binlog.write(
                        (
                            _counted((e.seq, e.canonical or b"", e.leaf_hash or b""), advance)
                            for e in unit.ledger.entries(name)
                        ),
                        binary,
                    )
            else:
                path = out / f"{name}.jsonl"
                with path.open("w", encoding="utf-8") as handle:
                    for entry in unit.ledger.entries(name):
                        row = {
                            "seq": entry.seq,
                            "canonical": base64.b64encode(entry.canonical or b"").decode(),
                            "leaf_hash": (entry.leaf_hash or b"").hex(),
                        }
                        handle.write(json.dumps(row, separators=(",", ":")) + "\n")
                        count += 1
                        advance()
            if export_format != "fhir":
                notes = [cp.note for cp in unit.ledger.checkpoints(name)]
                (out / f"{name}.checkpoints").write_text("\n".join(notes), encoding="utf-8")
                vkeys = "".join(v.vkey + "\n" for v in ledger.key.verifiers)
                (out / f"{name}.vkey").write_text(vkeys, encoding="utf-8")
                stamps = "".join(
                    json.dumps({"size": size, "token": base64.b64encode(token).decode()}) + "\n"
                    for size, token in ledger.timestamps.tokens(name)
                )
                (out / f"{name}.timestamps").write_text(stamps, encoding="utf-8")
        _record_read(ledger, name, "export", {"format": export_format})
    console.print(f"wrote {path} ({count or 'all'} entries); origin {origin}", highlight=False)
    if export_format != "fhir":
        console.print(
            f"verify offline: python -m chartgate.ledger.verify {path} "
            f"--checkpoints {out / (name + '.checkpoints')} --key {out / (name + '.vkey')} "
            f"--origin {origin}",
            highlight=False,
            soft_wrap=True,
        )


audit_app.command("push")(push)
