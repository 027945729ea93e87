"""The audit ledger wired: its key, anchor, checkpointer and readers; the AuditEvent sink."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from chartgate.adapters.anchors import FileAnchor
from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.keys.custody import Custody
from chartgate.adapters.keys.ledger_key import LedgerSigningKey
from chartgate.adapters.keys.pseudonyms import KeyedPseudonyms
from chartgate.adapters.processors import gate as processor_gate
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.ledger import SqlLedgerUnit
from chartgate.adapters.system import SystemClock, UuidIds
from chartgate.adapters.tsa import CheckpointStamper, HttpTimestamper, SqlTimestamps
from chartgate.bootstrap.keys import open_keys
from chartgate.service.audit import AuditService
from chartgate.service.checkpoints import Checkpointer
from chartgate.service.disclosures import DisclosureAudit
from chartgate.service.ports import Clock, IdSource
from chartgate.settings import Settings

if TYPE_CHECKING:
    from chartgate.service.audit_sink import AuditSinkPusher


@dataclass
class Ledger:
    """The audit ledger wired: auditor reads, the checkpointer, the anchor and the key."""

    unit: Callable[..., SqlLedgerUnit]
    audit: AuditService
    checkpointer: Checkpointer
    anchor: FileAnchor
    key: LedgerSigningKey
    timestamps: SqlTimestamps  # RFC 3161 tokens over checkpoints (docs/ledger.md#timestamps)


def build_ledger(
    settings: Settings,
    engine: Engine,
    pseudonyms: KeyedPseudonyms,
    clock: Clock,
    ids: IdSource,
    custody: Custody,
) -> Ledger:
    """Wire the ledger over the checked keys; the anchor directory defaults beside the KEK."""
    beside = Path(settings.key_file).parent
    key = custody.ledger
    timestamps = SqlTimestamps(engine)
    anchor = FileAnchor(settings.ledger_anchor_dir or beside / "ledger-anchors")

    def unit(*, read_only: bool = False) -> SqlLedgerUnit:
        return SqlLedgerUnit(engine, read_only=read_only)

    audit = AuditService(
        ledger=unit,
        clock=clock,
        ids=ids,
        pseudonyms=pseudonyms,
        key=key,
        origin_prefix=settings.ledger_origin,
    )
    checkpointer = Checkpointer(
        ledger=unit,
        clock=clock,
        key=key,
        origin_prefix=settings.ledger_origin,
        every=settings.ledger_checkpoint_every,
        interval=timedelta(seconds=settings.ledger_checkpoint_seconds),
        anchor=anchor,
        stamper=CheckpointStamper(
            HttpTimestamper(settings.tsa_url, processor_gate(settings)), timestamps, clock
        )
        if settings.tsa_url
        else None,
    )
    return Ledger(
        unit=unit,
        audit=audit,
        checkpointer=checkpointer,
        anchor=anchor,
        key=key,
        timestamps=timestamps,
    )


def audited_gate(settings: Settings, ledger: Ledger, clock: Clock, ids: IdSource) -> ProcessorGate:
    """The processor gate whose refusals become ledger events; BAA dates by ``clock``."""
    disclosures = DisclosureAudit(ledger=ledger.unit, clock=clock, ids=ids)
    return processor_gate(
        settings, on_refused=disclosures.refused, today=lambda: clock.now().date()
    )


def build_audit_sink(
    settings: Settings,
    engine: Engine,
    ledger: Ledger,
    clock: Clock,
    gate: ProcessorGate,
    closers: list[Callable[[], None]],
) -> AuditSinkPusher | None:
    """The AuditEvent pusher over the tenants' sink URLs (None when no tenant has one).

    Its modules (the FHIR client under the sink, with the EHR directory and SMART tokens)
    load here: the ledger alone (``open_ledger``, the ``audit`` commands) needs none of them.
    """
    from chartgate.adapters.ehr.audit_sink import build_sinks  # noqa: PLC0415
    from chartgate.adapters.storage.audit_sink import SqlSinkCursors  # noqa: PLC0415
    from chartgate.service.audit_sink import AuditSinkPusher  # noqa: PLC0415

    sinks, clients = build_sinks(settings, gate=gate)
    closers.extend(client.close for client in clients)
    if not sinks:
        return None
    return AuditSinkPusher(
        ledger=ledger.unit,
        cursors=SqlSinkCursors(engine),
        sinks=sinks,
        clock=clock,
        origin_prefix=settings.ledger_origin,
        owner=f"{socket.gethostname()}:{os.getpid()}:{id(sinks)}"[-100:],
        batch=settings.audit_sink_batch,
    )


def open_ledger(settings: Settings) -> tuple[Ledger, Engine]:
    """The ledger alone, for CLI commands that need no EHR or identity provider."""
    engine = make_engine(settings.database_url, create=False)
    cipher, custody = open_keys(settings, engine)
    pseudonyms = KeyedPseudonyms(cipher.derive_key)
    return build_ledger(settings, engine, pseudonyms, SystemClock(), UuidIds(), custody), engine
