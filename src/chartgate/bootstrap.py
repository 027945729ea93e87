"""The one composition root: settings in, a wired application out.

Nothing is built at import time. ``build(settings)`` is called by ``serve``, ``worker``,
``demo`` and the tests, and every collaborator is passed in from here.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine

from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory
from chartgate.adapters.identity.jwt import TokenVerifier, issuer_configs
from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.keys.local import LocalKeyProvider
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.migrate import upgrade
from chartgate.adapters.storage.unit_of_work import SqlUnitOfWork
from chartgate.adapters.system import SystemClock, UuidIds
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.principal import Principal
from chartgate.policy import load_default_policy, load_policy_file
from chartgate.service.handlers import Handlers
from chartgate.service.idempotency import IdempotencyGuard
from chartgate.service.ports import Clock, IdSource
from chartgate.service.writeback import WritebackExecutor
from chartgate.settings import Settings


def load_policy(path: str | None) -> LoadedPolicy:
    """The write-back matrix from ``path``, or the shipped conservative default."""
    return load_policy_file(Path(path)) if path else load_default_policy()


@dataclass
class Application:
    """Everything wired: handlers for the API/CLI, the executor for the worker."""

    settings: Settings
    engine: Engine
    handlers: Handlers
    authenticate: Callable[[str], Principal]
    ehr: ConfiguredEhrDirectory
    clock: Clock
    ids: IdSource
    uow: Callable[..., SqlUnitOfWork]
    idempotency: IdempotencyGuard
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def executor(self, owner: str | None = None) -> WritebackExecutor:
        """A write-back executor for one worker."""
        return WritebackExecutor(
            uow=self.uow,
            ehr=self.ehr,
            clock=self.clock,
            owner=owner or f"{socket.gethostname()}:{id(self)}",
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
    http: httpx.Client | None = None,
) -> Application:
    """Wire chartgate from ``settings``; ``migrate`` brings the schema up first."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    clock = clock or SystemClock()
    ids = UuidIds()
    cipher = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(engine))
    for tenant in settings.tenants:
        # Create or unwrap each tenant's data key now, outside any write transaction.
        cipher.encrypt(tenant.id, b"", aad=b"warm-up")

    def uow(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, cipher, read_only=read_only)

    policy = load_policy(settings.policy)
    ehr = ConfiguredEhrDirectory({t.id: t for t in settings.tenants})
    identity_http = http or httpx.Client(timeout=5.0, follow_redirects=False)
    verifier = TokenVerifier(
        issuer_configs(settings.tenants),
        http=identity_http,
        leeway_seconds=settings.jwt_leeway_seconds,
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
        clock=clock.now,
    )
    handlers = Handlers(uow=uow, clock=clock, ids=ids, policy=policy, ehr=ehr)
    app = Application(
        settings=settings,
        engine=engine,
        handlers=handlers,
        authenticate=verifier.verify,
        ehr=ehr,
        clock=clock,
        ids=ids,
        uow=uow,
        idempotency=IdempotencyGuard(uow, clock),
    )
    app._closers.append(ehr.close)  # noqa: SLF001 - the root owns its resources
    if http is None:
        app._closers.append(identity_http.close)  # noqa: SLF001
    return app
