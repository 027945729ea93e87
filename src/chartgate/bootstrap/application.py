"""The one composition root: settings in, a wired application out.

Nothing is built at import time. ``build(settings)`` is called by ``serve``, ``worker``,
``demo`` and the tests, and every collaborator is passed in from here. Import it as
``from chartgate.bootstrap import build`` (the package loads this module on first use).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from opentelemetry.sdk.trace.export import SpanExporter
from sqlalchemy import Engine

from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory, connections_for
from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.ehr.http import HttpClient, build_client
from chartgate.adapters.fhir_invariants import R4Invariants
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.adapters.identity.jwt import TokenVerifier, issuer_configs
from chartgate.adapters.keys.custody import Custody
from chartgate.adapters.keys.pseudonyms import KeyedPseudonyms
from chartgate.adapters.keys.usage import KeyUsageCollector
from chartgate.adapters.processors import require_registered
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.migrate import upgrade
from chartgate.adapters.storage.observed import EventTap, ObservedUnitOfWork
from chartgate.adapters.storage.ops_stats import ops_snapshot
from chartgate.adapters.storage.rate_buckets import SqlRateBuckets
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
from chartgate.bootstrap.keys import open_keys
from chartgate.bootstrap.ledger import Ledger, audited_gate, build_audit_sink, build_ledger
from chartgate.bootstrap.tenants import load_policy, tenant_access
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.principal import Principal
from chartgate.observability import Metrics, StoreCollector, log_state_changes
from chartgate.service.access import Access
from chartgate.service.approvals import Approvals
from chartgate.service.audit_sink import AuditSinkPusher
from chartgate.service.consent import ConsentService
from chartgate.service.context import Context
from chartgate.service.drafting import Drafting
from chartgate.service.idempotency import IdempotencyGuard
from chartgate.service.killswitch import KillSwitches
from chartgate.service.ports import Clock, IdSource, JsonObject
from chartgate.service.replays import Replays
from chartgate.service.resolution import Resolutions
from chartgate.service.scribe_context import ContextService
from chartgate.service.validation import DraftValidator
from chartgate.service.webhooks import WebhookPusher, Webhooks
from chartgate.service.worklists import Worklists
from chartgate.service.writeback import WritebackExecutor
from chartgate.settings import Settings


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
    gate: ProcessorGate  # the processor (BAA) gate every outbound client passes
    context: ContextService  # scribe sessions and minimum-necessary reads (issue 17)
    consents: ConsentService  # consent evidence and disclosure rules (issue 17)
    audit_sink: AuditSinkPusher | None = None  # pushes AuditEvents when a sink is configured
    custody: Custody | None = None  # the checked keys (docs/keys.md); counts their uses
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
            in_flight=self.settings.worker_in_flight,
            in_flight_per_tenant=self.settings.worker_in_flight_per_tenant,
        )

    def audit_chain(self, tenant: str, correlation_id: str) -> list[JsonObject]:
        """Every audit event of one correlation id (used by the demo and tests)."""
        with self.uow(read_only=True) as uow:
            return uow.audit.by_correlation(tenant, correlation_id)

    def identity_client(self) -> HttpClient:
        """A client for the identity providers (discovery, keys, code exchange), gated."""
        tenants = tuple(t.id for t in self.settings.tenants)
        return build_client(
            gate=self.gate.bound(tenants=tenants, purpose="identity"), timeout_seconds=5.0
        )

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
    http: HttpClient | None = None,
    span_exporter: SpanExporter | None = None,
) -> Application:
    """Wire chartgate from ``settings``; ``migrate`` brings the schema up first.

    Refuses to start (``ProcessorNotRegistered``) when a configured destination is not
    under a registered processor; every outbound client is gated per call (ADR 0021).

    ``span_exporter`` turns tracing on with that exporter (tests use an in-memory one);
    otherwise ``settings.tracing_exporter`` decides, and "none" instruments nothing.
    """
    require_registered(settings)
    tracing = configure_tracing(settings, exporter=span_exporter)
    engine = make_engine(settings.database_url)
    tracing.instrument_engine(engine)
    if migrate:
        upgrade(engine)
    clock = clock or SystemClock()
    ids = UuidIds()
    cipher, custody = open_keys(settings, engine)
    pseudonyms = KeyedPseudonyms(cipher.derive_key)
    ledger = build_ledger(settings, engine, pseudonyms, clock, ids, custody)
    for tenant in settings.tenants:
        # Create or unwrap each tenant's data key now, outside any write transaction.
        cipher.encrypt(tenant.id, b"", aad=b"warm-up")
    gate = audited_gate(settings, ledger, clock, ids)
    all_tenants = tuple(t.id for t in settings.tenants)

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
    # Each tenant's connection pool holds what one worker may carry of it at once.
    connections = connections_for(settings.worker_in_flight, settings.worker_in_flight_per_tenant)
    ehr = (
        TracedEhrDirectory(
            tenants,
            gate=gate,
            tracer=tracing.tracer(),
            lookup=TraceLookup(engine),
            rate_buckets=buckets,
            max_connections=connections,
        )
        if tracing.enabled
        else ConfiguredEhrDirectory(
            tenants, gate=gate, rate_buckets=buckets, max_connections=connections
        )
    )
    identity_http = http or build_client(
        gate=gate.bound(tenants=all_tenants, purpose="identity"), timeout_seconds=5.0
    )
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
        validator=DraftValidator(policy, R4BSchema(), R4Invariants()),
        pseudonyms=pseudonyms,
    )
    webhook_store = SqlWebhooks(engine)
    secrets = ConfiguredWebhookSecrets({t.id: t for t in settings.tenants})
    transport = HttpWebhookTransport(
        lambda tenant: build_client(
            gate=gate.bound(tenants=(tenant,), purpose="webhook"), timeout_seconds=5.0
        )
    )
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
        context=ContextService(ctx),
        consents=ConsentService(ctx),
        webhooks=Webhooks(
            store=webhook_store,
            ledger=ledger.unit,
            secrets=secrets,
            clock=clock,
            ids=ids,
            dev_mode=settings.dev_mode,
            refusal=gate.refused_status,
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
        gate=gate,
    )
    app._closers.append(tracing.shutdown)  # noqa: SLF001 - closed last (closers run reversed)
    ledger.audit.record_startup(
        [t.id for t in settings.tenants],
        policy_hash=policy.content_hash,
        key_created=ledger.key.created,
        actor=f"system:{socket.gethostname()}",
    )
    app.custody = custody
    app._closers.append(custody.close)  # noqa: SLF001 - the root owns its resources
    app._closers.append(ehr.close)  # noqa: SLF001
    app._closers.append(transport.close)  # noqa: SLF001
    app.audit_sink = build_audit_sink(
        settings,
        engine,
        ledger,
        clock,
        gate,
        app._closers,  # noqa: SLF001
    )
    if http is None:
        app._closers.append(identity_http.close)  # noqa: SLF001
    return app


def observe(application: Application) -> Metrics:
    """This process's metrics and state-change logs over a wired application.

    Committed audit events feed the counters and one JSON log line each; queue, ledger and
    audit-sink gauges are read from the store at scrape time; authentication failures are
    counted from the ``chartgate.security`` log stream and rate-governor waits from
    ``chartgate.ehr.rate``. Called by ``create_app`` and by the
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
    if application.custody is not None:
        metrics.registry.register(KeyUsageCollector(application.custody.usage))
    application._closers.append(metrics.watch_security_log())  # noqa: SLF001
    application._closers.append(metrics.watch_rate_governor())  # noqa: SLF001
    metrics.watch_log_drops()
    return metrics
