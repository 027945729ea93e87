"""The one composition root: settings in, a wired application out.

Nothing is built at import time. ``build(settings)`` is called by ``serve``, ``worker``,
``demo`` and the tests, and every collaborator is passed in from here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from opentelemetry.sdk.trace.export import SpanExporter
from sqlalchemy import Engine

from chartgate.adapters.anchors import FileAnchor
from chartgate.adapters.archive import FileArchive
from chartgate.adapters.ehr.audit_sink import build_sinks
from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.adapters.identity.jwt import TokenVerifier, issuer_configs
from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.keys.ledger_key import LedgerSigningKey, load_or_create
from chartgate.adapters.keys.local import LocalKeyProvider
from chartgate.adapters.keys.pseudonyms import KeyedPseudonyms
from chartgate.adapters.storage.audit_sink import SqlSinkCursors
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.adapters.storage.duty_locks import DutyLock
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.impact import SqlImpact
from chartgate.adapters.storage.ledger import SqlLedgerUnit
from chartgate.adapters.storage.migrate import upgrade
from chartgate.adapters.storage.observed import EventTap, ObservedUnitOfWork
from chartgate.adapters.storage.ops_stats import ops_snapshot
from chartgate.adapters.storage.rate_buckets import SqlRateBuckets
from chartgate.adapters.storage.report_source import SqlReportSource
from chartgate.adapters.storage.retention import SqlRetentionStore
from chartgate.adapters.storage.unit_of_work import SqlUnitOfWork
from chartgate.adapters.storage.webhooks import SqlWebhooks
from chartgate.adapters.storage.worklists import SqlWorklists
from chartgate.adapters.system import SystemClock, UuidIds
from chartgate.adapters.telemetry import (
    TracedEhrDirectory,
    TraceLookup,
    Tracing,
    configure_tracing,
)
from chartgate.adapters.webhooks import ConfiguredWebhookSecrets, HttpWebhookTransport
from chartgate.domain.access import EncounterGrant, TenantAccess
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.principal import Principal
from chartgate.observability import Metrics, StoreCollector, log_state_changes
from chartgate.policy import load_default_policy, load_policy_file
from chartgate.policy.retention import load_retention
from chartgate.service.access import Access
from chartgate.service.approvals import Approvals
from chartgate.service.audit import AuditService
from chartgate.service.audit_sink import AuditSinkPusher
from chartgate.service.checkpoints import Checkpointer
from chartgate.service.context import Context
from chartgate.service.drafting import Drafting
from chartgate.service.idempotency import IdempotencyGuard
from chartgate.service.impact import ImpactService
from chartgate.service.killswitch import KillSwitches
from chartgate.service.ports import Clock, IdSource, JsonObject
from chartgate.service.replays import Replays
from chartgate.service.resolution import Resolutions
from chartgate.service.retention import RetentionService
from chartgate.service.validation import DraftValidator
from chartgate.service.webhooks import WebhookPusher, Webhooks
from chartgate.service.worklists import Worklists
from chartgate.service.writeback import WritebackExecutor
from chartgate.settings import Settings


def tenant_access(settings: Settings) -> dict[str, TenantAccess]:
    """Each tenant's step-up rule (its own or the global one), care-team grants and EHR base.

    A grant is pinned to the issuer that vouches for its practitioner: the one it names, or
    the tenant's only issuer; a tenant with several issuers must name one per grant.
    """
    access = {}
    for tenant in settings.tenants:
        grants = []
        for grant in tenant.care_team_grants:
            issuer = grant.issuer or (tenant.issuers[0] if len(tenant.issuers) == 1 else None)
            if issuer is None or issuer not in tenant.issuers:
                msg = f"tenant {tenant.id}: a care-team grant must name one of its issuers"
                raise ValueError(msg)
            grants.append(
                EncounterGrant(
                    fhir_user=grant.fhir_user,
                    encounters=frozenset(grant.encounters),
                    patients=frozenset(grant.patients),
                    subject=grant.subject,
                    expires_at=grant.expires_at,
                    issuer=issuer,
                )
            )
        access[tenant.id] = TenantAccess(
            step_up_acr=tenant.step_up_acr or settings.step_up_acr,
            step_up_max_age=timedelta(
                seconds=tenant.step_up_max_age_seconds or settings.step_up_max_age_seconds
            ),
            grants=tuple(grants),
            ehr_base=tenant.ehr.base_url,
        )
    return access


def load_policy(path: str | None) -> LoadedPolicy:
    """The write-back matrix from ``path``, or the shipped conservative default."""
    return load_policy_file(Path(path)) if path else load_default_policy()


@dataclass
class Application:
    """Everything wired: the use cases for the API/CLI/page, the executor for the worker."""

    settings: Settings
    engine: Engine
    policy: LoadedPolicy
    access: Access
    drafting: Drafting
    approvals: Approvals
    resolutions: Resolutions
    replays: Replays
    authenticate: Callable[[str], Principal]
    ehr: ConfiguredEhrDirectory
    clock: Clock
    ids: IdSource
    uow: Callable[..., SqlUnitOfWork]
    idempotency: IdempotencyGuard
    ledger: Ledger
    killswitches: KillSwitches
    worklists: Worklists
    webhooks: Webhooks
    webhook_pusher: WebhookPusher
    audit_sink: AuditSinkPusher | None = None  # pushes AuditEvents when a sink is configured
    # Committed audit events, for metrics and state-change logs (observability/).
    events: EventTap = field(default_factory=EventTap)
    tracing: Tracing = field(default_factory=Tracing)  # OpenTelemetry; off by default
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def executor(self, owner: str | None = None) -> WritebackExecutor:
        """A write-back executor for one worker."""
        return WritebackExecutor(
            uow=self.uow,
            ehr=self.ehr,
            clock=self.clock,
            max_attempts=self.settings.worker_max_attempts,
            owner=owner or f"{socket.gethostname()}:{id(self)}",
            held=self.killswitches.held,
        )

    def audit_chain(self, tenant: str, correlation_id: str) -> list[JsonObject]:
        """Every audit event of one correlation id (used by the demo and tests)."""
        with self.uow(read_only=True) as uow:
            return uow.audit.by_correlation(tenant, correlation_id)

    def close(self) -> None:
        """Release HTTP clients and database connections."""
        for close in reversed(self._closers):
            close()
        self.engine.dispose()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = False,
    http: httpx.Client | None = None,
    span_exporter: SpanExporter | None = None,
) -> Application:
    """Wire chartgate from ``settings``; ``migrate`` brings the schema up first.

    ``span_exporter`` turns tracing on with that exporter (tests use an in-memory one);
    otherwise ``settings.tracing_exporter`` decides, and "none" instruments nothing.
    """
    tracing = configure_tracing(settings, exporter=span_exporter)
    engine = make_engine(settings.database_url)
    tracing.instrument_engine(engine)
    if migrate:
        upgrade(engine)
    clock = clock or SystemClock()
    ids = UuidIds()
    cipher = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(engine))
    pseudonyms = KeyedPseudonyms(cipher.derive_key)
    ledger = build_ledger(settings, engine, pseudonyms, clock, ids)
    for tenant in settings.tenants:
        # Create or unwrap each tenant's data key now, outside any write transaction.
        cipher.encrypt(tenant.id, b"", aad=b"warm-up")

    events = EventTap()
    ehr_vendors = {t.id: t.ehr.vendor for t in settings.tenants}

    def uow(*, read_only: bool = False) -> SqlUnitOfWork:
        return ObservedUnitOfWork(
            engine, cipher, events, read_only=read_only, ehr_vendors=ehr_vendors
        )

    policy = load_policy(settings.policy)
    tenants = {t.id: t for t in settings.tenants}
    # The outbound rate governor's buckets live in the store: every worker shares them.
    buckets = SqlRateBuckets(engine)
    ehr = (
        TracedEhrDirectory(
            tenants, tracer=tracing.tracer(), lookup=TraceLookup(engine), rate_buckets=buckets
        )
        if tracing.enabled
        else ConfiguredEhrDirectory(tenants, rate_buckets=buckets)
    )
    identity_http = http or httpx.Client(timeout=5.0, follow_redirects=False)
    verifier = TokenVerifier(
        issuer_configs(settings.tenants),
        http=identity_http,
        leeway_seconds=settings.jwt_leeway_seconds,
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
        clock=clock.now,
    )
    access = Access(
        clock=clock,
        tenants=tenant_access(settings),
        step_up_acr=settings.step_up_acr,
        step_up_max_age=timedelta(seconds=settings.step_up_max_age_seconds),
    )
    ctx = Context(
        uow=uow,
        clock=clock,
        ids=ids,
        policy=policy,
        ehr=ehr,
        access=access,
        validator=DraftValidator(policy, R4BSchema()),
        pseudonyms=pseudonyms,
    )
    webhook_store = SqlWebhooks(engine)
    secrets = ConfiguredWebhookSecrets({t.id: t for t in settings.tenants})
    transport = HttpWebhookTransport()
    app = Application(
        settings=settings,
        engine=engine,
        policy=policy,
        access=access,
        drafting=Drafting(ctx),
        approvals=Approvals(ctx),
        resolutions=Resolutions(ctx),
        replays=Replays(ctx),
        authenticate=verifier.verify,
        ehr=ehr,
        clock=clock,
        ids=ids,
        uow=uow,
        idempotency=IdempotencyGuard(
            uow,
            clock,
            abandoned_after=timedelta(seconds=settings.idempotency_abandoned_seconds),
        ),
        ledger=ledger,
        events=events,
        tracing=tracing,
        killswitches=KillSwitches(
            uow=uow,
            clock=clock,
            ids=ids,
            ehr=ehr,
            tenants=[t.id for t in settings.tenants],
            # An attempt that checked before the switch ends within one lease (60 s).
            drain_seconds=90.0,
        ),
        worklists=Worklists(
            queries=SqlWorklists(engine, ehr_vendors=ehr_vendors),
            uow=uow,
            clock=clock,
            grants={tenant: rules.grants for tenant, rules in tenant_access(settings).items()},
        ),
        webhooks=Webhooks(
            store=webhook_store, ledger=ledger.unit, secrets=secrets, clock=clock, ids=ids
        ),
        webhook_pusher=WebhookPusher(
            store=webhook_store,
            ledger=ledger.unit,
            transport=transport,
            secrets=secrets,
            clock=clock,
            ids=ids,
            owner=f"{socket.gethostname()}:{os.getpid()}:{id(transport)}"[-100:],
        ),
    )
    app._closers.append(tracing.shutdown)  # noqa: SLF001 - closed last (closers run reversed)
    ledger.audit.record_startup(
        [t.id for t in settings.tenants],
        policy_hash=policy.content_hash,
        key_created=ledger.key.created,
        actor=f"system:{socket.gethostname()}",
    )
    app._closers.append(ehr.close)  # noqa: SLF001 - the root owns its resources
    app._closers.append(transport.close)  # noqa: SLF001
    app.audit_sink = build_audit_sink(settings, engine, ledger, clock, app._closers)  # noqa: SLF001
    if http is None:
        app._closers.append(identity_http.close)  # noqa: SLF001
    return app


@dataclass
class Ledger:
    """The audit ledger wired: auditor reads, the checkpointer, the anchor and the key."""

    unit: Callable[..., SqlLedgerUnit]
    audit: AuditService
    checkpointer: Checkpointer
    anchor: FileAnchor
    key: LedgerSigningKey


def key_files(settings: Settings) -> tuple[Path, Path]:
    """The key-encryption key and the ledger signing key this instance reads."""
    beside = Path(settings.key_file).parent
    return Path(settings.key_file), Path(
        settings.ledger_key_file or beside / "chartgate-ledger.key"
    )


def build_ledger(
    settings: Settings,
    engine: Engine,
    pseudonyms: KeyedPseudonyms,
    clock: Clock,
    ids: IdSource,
) -> Ledger:
    """Wire the ledger; key file and anchor directory default to beside the KEK file."""
    beside = Path(settings.key_file).parent
    key = load_or_create(key_files(settings)[1], settings.ledger_origin)
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
    )
    return Ledger(unit=unit, audit=audit, checkpointer=checkpointer, anchor=anchor, key=key)


def build_audit_sink(
    settings: Settings,
    engine: Engine,
    ledger: Ledger,
    clock: Clock,
    closers: list[Callable[[], None]],
) -> AuditSinkPusher | None:
    """The AuditEvent pusher over the tenants' sink URLs (None when no tenant has one)."""
    sinks, clients = build_sinks(settings)
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


def open_retention(
    settings: Settings, *, clock: Clock | None = None
) -> tuple[RetentionService, Engine]:
    """The retention runner (``chartgate retention run``): rules, store, ledger, archive.

    The archive directory defaults to ``retention-archive`` beside the KEK file.
    """
    engine = make_engine(settings.database_url)
    cipher = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(engine))
    pseudonyms = KeyedPseudonyms(cipher.derive_key)
    clock = clock or SystemClock()
    ledger = build_ledger(settings, engine, pseudonyms, clock, UuidIds())
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


def open_ledger(settings: Settings) -> tuple[Ledger, Engine]:
    """The ledger alone, for CLI commands that need no EHR or identity provider."""
    engine = make_engine(settings.database_url)
    cipher = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(engine))
    pseudonyms = KeyedPseudonyms(cipher.derive_key)
    return build_ledger(settings, engine, pseudonyms, SystemClock(), UuidIds()), engine


def observe(application: Application) -> Metrics:
    """This process's metrics and state-change logs over a wired application.

    Committed audit events feed the counters and one JSON log line each; queue, ledger and
    audit-sink gauges are read from the store at scrape time; authentication failures are
    counted from the ``chartgate.security`` log stream. Called by ``create_app`` and by the
    worker, once per process.
    """
    settings = application.settings
    metrics = Metrics(profiles={t.id: t.ehr.vendor for t in settings.tenants})
    application.events.subscribe(metrics.observe)
    application.events.subscribe(log_state_changes)
    engine = application.engine
    metrics.registry.register(
        StoreCollector(
            lambda: ops_snapshot(engine, max_attempts=settings.worker_max_attempts),
            application.clock.now,
        )
    )
    application._closers.append(metrics.watch_security_log())  # noqa: SLF001
    metrics.watch_log_drops()
    return metrics


def open_reports(settings: Settings) -> tuple[SqlReportSource, Callable[[str, str], str], Engine]:
    """The report source, the clinician pseudonym function and the engine to dispose.

    A clinician appears in reports as ``clin-`` and 8 hex digits of the tenant's keyed
    pseudonym of their actor name: stable across reports, meaningless without the key.
    """
    engine = make_engine(settings.database_url)
    cipher = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(engine))
    pseudonyms = KeyedPseudonyms(cipher.derive_key)

    def clinician(tenant: str, actor: str) -> str:
        return "clin-" + pseudonyms.reference(tenant, actor).rsplit(":", 1)[1][:8]

    return SqlReportSource(engine), clinician, engine


def open_killswitches(settings: Settings) -> tuple[KillSwitches, Engine]:
    """The kill switch alone, for ``chartgate killswitch`` (no identity provider, no EHR call)."""
    engine = make_engine(settings.database_url)
    cipher = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(engine))
    ehr_vendors = {t.id: t.ehr.vendor for t in settings.tenants}

    def uow(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, cipher, read_only=read_only, ehr_vendors=ehr_vendors)

    switches = KillSwitches(
        uow=uow,
        clock=SystemClock(),
        ids=UuidIds(),
        ehr=ConfiguredEhrDirectory({t.id: t for t in settings.tenants}),
        tenants=[t.id for t in settings.tenants],
        drain_seconds=90.0,
    )
    return switches, engine


def open_impact(settings: Settings) -> tuple[ImpactService, Engine]:
    """The impact report (``chartgate impact``): store, ledger and the tenants' pseudonyms."""
    engine = make_engine(settings.database_url)
    cipher = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(engine))

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
