"""One service wired alone, for a CLI command that needs no EHR call or identity provider.

Each function imports what its own service needs: a command loads its service's modules,
not the other three's (the kill switch's EHR directory, the retention rules, ...).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from chartgate.adapters.keys.pseudonyms import KeyedPseudonyms
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.system import SystemClock, UuidIds
from chartgate.bootstrap.keys import open_keys

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from chartgate.adapters.storage.report_source import SqlReportSource
    from chartgate.adapters.storage.unit_of_work import SqlUnitOfWork
    from chartgate.service.impact import ImpactService
    from chartgate.service.killswitch import KillSwitches
    from chartgate.service.ports import Clock
    from chartgate.service.retention import RetentionService
    from chartgate.settings import Settings


def open_retention(
    settings: Settings, *, clock: Clock | None = None
) -> tuple[RetentionService, Engine]:
    """The retention runner (``chartgate retention run``): rules, store, ledger, archive.

    The archive directory defaults to ``retention-archive`` beside the KEK file.
    """
    from chartgate.adapters.archive import FileArchive  # noqa: PLC0415
    from chartgate.adapters.storage.duty_locks import DutyLock  # noqa: PLC0415
    from chartgate.adapters.storage.retention import SqlRetentionStore  # noqa: PLC0415
    from chartgate.bootstrap.ledger import build_ledger  # noqa: PLC0415
    from chartgate.policy.retention import load_retention  # noqa: PLC0415
    from chartgate.service.retention import RetentionService  # noqa: PLC0415

    engine = make_engine(settings.database_url, create=False)
    cipher, custody = open_keys(settings, engine)
    pseudonyms = KeyedPseudonyms(cipher.derive_key)
    clock = clock or SystemClock()
    ledger = build_ledger(settings, engine, pseudonyms, clock, UuidIds(), custody)
    loaded = load_retention(settings.retention_policy)
    archive = settings.retention_archive_dir or Path(settings.key_file).parent / "retention-archive"
    service = RetentionService(
        store=SqlRetentionStore(engine),
        ledger=ledger.unit,
        archive=FileArchive(archive),
        clock=clock,
        ids=UuidIds(),
        rules=loaded.policy,
        rules_hash=loaded.content_hash,
        rules_source=loaded.source,
        configured_tenants=[t.id for t in settings.tenants],
        actor=f"system:retention@{socket.gethostname()}",
        pseudonyms=pseudonyms,
        exclusive=DutyLock(engine, "retention").exclusive,
    )
    return service, engine


def open_reports(settings: Settings) -> tuple[SqlReportSource, Callable[[str, str], str], Engine]:
    """The report source, the clinician pseudonym function and the engine to dispose.

    A clinician appears in reports as ``clin-`` and 8 hex digits of the tenant's keyed
    pseudonym of their actor name: stable across reports, meaningless without the key.
    """
    from chartgate.adapters.storage.report_source import SqlReportSource  # noqa: PLC0415

    engine = make_engine(settings.database_url, create=False)
    cipher, _ = open_keys(settings, engine)
    pseudonyms = KeyedPseudonyms(cipher.derive_key)

    def clinician(tenant: str, actor: str) -> str:
        return "clin-" + pseudonyms.reference(tenant, actor).rsplit(":", 1)[1][:8]

    return SqlReportSource(engine), clinician, engine


def open_killswitches(settings: Settings) -> tuple[KillSwitches, Engine]:
    """The kill switch alone, for ``chartgate killswitch`` (no identity provider, no EHR call)."""
    from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory  # noqa: PLC0415
    from chartgate.adapters.processors import gate as processor_gate  # noqa: PLC0415
    from chartgate.adapters.storage.unit_of_work import SqlUnitOfWork  # noqa: PLC0415
    from chartgate.service.killswitch import KillSwitches  # noqa: PLC0415

    engine = make_engine(settings.database_url, create=False)
    cipher, _ = open_keys(settings, engine)
    ehr_vendors = {t.id: t.ehr.vendor for t in settings.tenants}

    def uow(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, cipher, read_only=read_only, ehr_vendors=ehr_vendors)

    switches = KillSwitches(
        uow=uow,
        clock=SystemClock(),
        ids=UuidIds(),
        # Only held()/drain are used here: the gate has no recorder (no EHR call is made).
        ehr=ConfiguredEhrDirectory(
            {t.id: t for t in settings.tenants}, gate=processor_gate(settings)
        ),
        tenants=[t.id for t in settings.tenants],
        drain_seconds=90.0,
    )
    return switches, engine


def open_impact(settings: Settings) -> tuple[ImpactService, Engine]:
    """The impact report (``chartgate impact``): store, ledger and the tenants' pseudonyms."""
    from chartgate.adapters.storage.impact import SqlImpact  # noqa: PLC0415
    from chartgate.adapters.storage.unit_of_work import SqlUnitOfWork  # noqa: PLC0415
    from chartgate.service.impact import ImpactService  # noqa: PLC0415

    engine = make_engine(settings.database_url, create=False)
    cipher, _ = open_keys(settings, engine)

    def uow(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, cipher, read_only=read_only)

    service = ImpactService(
        queries=SqlImpact(engine),
        uow=uow,
        clock=SystemClock(),
        ids=UuidIds(),
        pseudonyms=KeyedPseudonyms(cipher.derive_key),
        tenants=[t.id for t in settings.tenants],
    )
    return service, engine
