"""A running chartgate for tests: API on loopback, an executor, an IdP, a FHIR server.

``running_stack`` wires chartgate exactly as production does (``bootstrap.build`` +
``api.app.create_app`` under uvicorn); only the identity provider is our dev IdP, served by
a sandbox whose FHIR endpoint is also the EHR unless ``ehr_base`` names another server.
"""

from __future__ import annotations

import itertools
import ssl
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from joserfc.jwk import ECKey, RSAKey

from builders import CLINICIAN, ENCOUNTER, PATIENT, TENANT
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.idp import Algorithm, generate_signing_keys
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer

# A test process starts hundreds of stacks. Two costs of a start are not what any test is about
# and are paid once here: the TLS context every httpx.Client loads (the CA bundle; these
# clients only speak plain HTTP on loopback), and RSA key generation for the sandbox IdP.
# Keys rotate through a small pool, so two stacks alive at once never share an issuer key.
KEY_POOL_SIZE = 4


@cache
def tls_context() -> ssl.SSLContext:
    """A verifying TLS context (system CAs), built once per process."""
    return ssl.create_default_context()


def http_client(**kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` like the default one, without reloading the CA bundle."""
    return httpx.Client(verify=tls_context(), **kwargs)


@cache
def _key_pool() -> Iterator[dict[Algorithm, RSAKey | ECKey]]:
    return itertools.cycle([generate_signing_keys() for _ in range(KEY_POOL_SIZE)])


def pooled_signing_keys() -> dict[Algorithm, RSAKey | ECKey]:
    """The next signing key set of this process's pool (round-robin)."""
    return next(_key_pool())


def scribe_claims(
    tenant: str, client: str = "scribe-test-client", **overrides: Any
) -> dict[str, Any]:
    """``IdP.mint`` arguments for a scribe client's token (no user, no MFA)."""
    claims: dict[str, Any] = {
        "subject": client,
        "scopes": ["chartgate/drafts.submit"],
        "tenant": tenant,
        "amr": (),
        "acr": None,
        "extra_claims": {"client_id": client},
    }
    return claims | overrides


def clinician_claims(tenant: str, **overrides: Any) -> dict[str, Any]:
    """``IdP.mint`` arguments for a clinician: MFA, fresh auth_time, the test encounter's launch."""
    claims: dict[str, Any] = {
        "subject": "clinician-test",
        "scopes": ["openid", "fhirUser", "chartgate/drafts.approve"],
        "tenant": tenant,
        "fhir_user": CLINICIAN,
        "patient": PATIENT.split("/")[1],
        "encounter": ENCOUNTER.split("/")[1],
        "auth_time": int(time.time()),
    }
    return claims | overrides


@dataclass
class Stack:
    """Handles on a running chartgate."""

    app: Application
    api: httpx.Client
    sandbox: SandboxServer
    ehr_base: str
    tenant: str = TENANT

    def scribe_token(self, **overrides: Any) -> str:
        """A scribe client's token for the tenant."""
        return self.sandbox.idp.mint(**scribe_claims(self.tenant, **overrides))

    def clinician_token(self, **overrides: Any) -> str:
        """A clinician's token: MFA, fresh auth_time, launch context on the test encounter."""
        return self.sandbox.idp.mint(**clinician_claims(self.tenant, **overrides))

    def as_scribe(self, **overrides: Any) -> dict[str, str]:
        """Authorization header of a scribe."""
        return {"Authorization": f"Bearer {self.scribe_token(**overrides)}"}

    def as_admin(self) -> dict[str, str]:
        """Authorization header of the tenant's admin (e.g. for ``/metrics``)."""
        token = self.sandbox.idp.mint(
            subject="admin-test", scopes=["openid", "chartgate/admin"], tenant=self.tenant
        )
        return {"Authorization": f"Bearer {token}"}

    def as_clinician(self, **overrides: Any) -> dict[str, str]:
        """Authorization header of a clinician."""
        return {"Authorization": f"Bearer {self.clinician_token(**overrides)}"}

    def work(self, *, rounds: int = 20) -> int:
        """Run the worker until nothing is due (or ``rounds`` runs); return rows taken."""
        executor = self.app.executor(owner="test-worker")
        taken = 0
        for _ in range(rounds):
            done = executor.run_once()
            taken += done
            if done == 0:
                break
        return taken

    def for_tenant(self, tenant: str) -> Stack:
        """The same running chartgate, acting for ``tenant`` (one of ``running_stack``'s)."""
        return replace(self, tenant=tenant)

    def ehr(self) -> httpx.Client:
        """A plain FHIR client on the EHR, to look at the chart directly."""
        return http_client(
            base_url=self.ehr_base, timeout=10, headers={"Accept": "application/fhir+json"}
        )


@contextmanager
def running_stack(
    database_url: str,
    workdir: Path,
    *,
    ehr_base: str | None = None,
    vendor: str = "sandbox",
    sandbox_vendor: str = "generic-r4",
    webhook_secrets: dict[str, str] | None = None,
    ehr_rate_per_second: float | None = None,
    jurisdiction: str | None = None,
    policy: str | None = None,
    provenance_mode: str | None = None,
    tenants: Sequence[str] = (TENANT,),
    ehr_timeout_seconds: float = 3,
) -> Iterator[Stack]:
    """Start sandbox (IdP, maybe EHR), build chartgate on ``database_url``, serve the API.

    ``tenants`` are configured alike (one issuer, one EHR); the stack acts for the first
    (``Stack.for_tenant`` for the others): a module's tests can share one running chartgate
    and still each see a store of their own (``tenant_stacks``).
    """
    with SandboxServer(
        workdir / "sandbox.sqlite3", vendor=sandbox_vendor, signing_keys=pooled_signing_keys()
    ) as sandbox:
        fhir_base = ehr_base or sandbox.fhir_base
        settings = Settings(
            database_url=database_url,
            key_file=str(workdir / "kek.key"),
            **({"policy": policy} if policy is not None else {}),  # else CHARTGATE_POLICY
            tenants=[
                TenantSettings(
                    id=tenant,
                    issuers=[sandbox.issuer],
                    ehr=EhrSettings(
                        base_url=fhir_base,
                        vendor=vendor,
                        provenance_mode=provenance_mode,  # type: ignore[arg-type]
                        timeout_seconds=ehr_timeout_seconds,
                        rate_limit_per_second=ehr_rate_per_second,
                        rate_limit_burst=int(ehr_rate_per_second) if ehr_rate_per_second else None,
                    ),
                    webhook_secrets=webhook_secrets or {},
                    jurisdiction=jurisdiction,
                )
                for tenant in tenants
            ],
        )
        identity_http = http_client(timeout=5.0, follow_redirects=False)
        app = build(settings, migrate=True, http=identity_http)
        try:
            with (
                ThreadedServer(create_app(app)) as server,
                http_client(base_url=server.base_url, timeout=30) as api,
            ):
                try:
                    yield Stack(
                        app=app, api=api, sandbox=sandbox, ehr_base=fhir_base, tenant=tenants[0]
                    )
                finally:
                    # Both servers wind down together (each takes 0.1-0.2 s to stop).
                    server.signal_stop()
                    sandbox.signal_stop()
        finally:
            app.close()
            identity_http.close()


class TenantStacks:
    """A chartgate shared by one module's tests, handing each test a tenant no test used.

    The tenants are configured alike (one issuer, the same EHR), so a test acting for its own
    tenant sees drafts, write-backs, worklists, idempotency keys and ledger entries of its own,
    as on a stack of its own; what it shares is the process, the database file and the EHR
    (look documents up by the write-back's identifier, never "all documents").
    """

    def __init__(self, stack: Stack, tenants: Sequence[str]) -> None:
        self.stack = stack
        self._unused = iter(tenants)

    def next(self) -> Stack:
        """The shared stack acting for the next unused tenant."""
        tenant = next(self._unused, None)
        if tenant is None:
            msg = "the module used all its tenants: tenant_stacks needs a larger count"
            raise RuntimeError(msg)
        return self.stack.for_tenant(tenant)


@contextmanager
def tenant_stacks(
    database_url: str, workdir: Path, *, count: int, **options: Any
) -> Iterator[TenantStacks]:
    """``running_stack`` with ``count`` tenants, one handed to each test (``.next()``).

    ``count`` is the module's number of tests (the ``module_test_count`` fixture): each tenant
    costs a data key and a ``policy.loaded`` ledger entry at build.
    """
    tenants = [f"tenant-{uuid.uuid4().hex[:8]}-{i:03d}" for i in range(count)]
    with running_stack(database_url, workdir, tenants=tenants, **options) as stack:
        yield TenantStacks(stack, tenants)
