"""A running chartgate with TWO tenants, two issuers and two EHRs, for the attack suite.

``two_tenants`` (module scope) starts two sandboxes (each one dev IdP + one FHIR EHR), wires
chartgate exactly as production does (``bootstrap.build`` + ``create_app`` under uvicorn) with
tenant ``clinic-a`` trusting only sandbox A's issuer and ``clinic-b`` only sandbox B's, and
seeds drafts in both (one of each kind the attacks need). ``unchanged`` proves an attack left
no trace: row counts of every table, stored non-refusal answers and both EHRs' documents are
compared before and after, with the worker run in between so a queued write would show.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from builders import SOAP_NOTE, submission
from chartgate.adapters.storage import tables
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.idp import MFA_ACR
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import CareTeamGrant, EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from stack import http_client

TENANT_A = "clinic-a"
TENANT_B = "clinic-b"
SCRIBE_A = "scribe-a"
SCRIBE_B = "scribe-b"
GRANTED_PRACTITIONER = "Practitioner/prac-grant"
GRANTED_ENCOUNTER = "Encounter/enc-777"
FHIR_JSON = "application/fhir+json"
# Every table of the store; audit events and idempotency answers are compared more finely.
ROW_TABLES = tuple(tables.metadata.sorted_tables)
# Audit events a refusal itself may leave (a security alert); anything else is a side effect.
REFUSAL_EVENT_WORDS = ("denied", "refused", "security", "rejected_access")


@dataclass
class Drafts:
    """Seeded drafts by role in the attacks (ids as the API returned them)."""

    a: str = ""  # tenant A, Encounter/enc-001, in review
    a_other_encounter: str = ""  # tenant A, Encounter/enc-002 (outside the launch context)
    a_granted: str = ""  # tenant A, Encounter/enc-777 (covered by a care-team grant)
    a_committed: str = ""  # tenant A, committed in EHR A (finalize target)
    a_writeback: str = ""  # the committed draft's write-back id
    b: str = ""  # tenant B, Encounter/enc-001 (same encounter id as A's, other tenant)
    b_committed: str = ""
    b_writeback: str = ""


@dataclass
class TwoTenants:
    """Handles on the running two-tenant chartgate."""

    app: Application
    api: httpx.Client
    a: SandboxServer
    b: SandboxServer
    drafts: Drafts = field(default_factory=Drafts)

    def sandbox(self, tenant: str) -> SandboxServer:
        return self.a if tenant == TENANT_A else self.b

    # -- tokens ---------------------------------------------------------------------------

    def clinician_token(
        self, tenant: str = TENANT_A, *, issuer_of: str | None = None, **overrides: Any
    ) -> str:
        """A clinician of ``tenant``: MFA, fresh auth_time, launch context on enc-001.

        ``issuer_of`` signs with another tenant's issuer (the ``tenant`` claim stays).
        """
        claims: dict[str, Any] = {
            "subject": f"dr-{tenant}",
            "scopes": ["openid", "fhirUser", "chartgate/drafts.approve"],
            "tenant": tenant,
            "fhir_user": "Practitioner/prac-001",
            "patient": "pat-001",
            "encounter": "enc-001",
            "auth_time": int(time.time()),
            "amr": ("pwd", "otp"),
            "acr": MFA_ACR,
        }
        claims.update(overrides)
        return self.sandbox(issuer_of or tenant).idp.mint(**claims)

    def scribe_token(self, tenant: str = TENANT_A, **overrides: Any) -> str:
        """The tenant's scribe client (client credentials shape: no fhirUser)."""
        client = SCRIBE_A if tenant == TENANT_A else SCRIBE_B
        claims: dict[str, Any] = {
            "subject": client,
            "scopes": ["chartgate/drafts.submit"],
            "tenant": tenant,
            "amr": (),
            "acr": None,
            "extra_claims": {"client_id": client},
        }
        claims.update(overrides)
        return self.sandbox(tenant).idp.mint(**claims)

    def role_token(self, role: str, tenant: str = TENANT_A) -> str:
        """An admin or auditor of ``tenant`` (a person, MFA, no launch context)."""
        scope = {"admin": "chartgate/admin", "auditor": "chartgate/audit.read"}[role]
        return self.sandbox(tenant).idp.mint(
            subject=f"{role}-{tenant}", scopes=["openid", scope], tenant=tenant
        )

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    # -- requests -------------------------------------------------------------------------

    def submit(self, tenant: str, **overrides: Any) -> dict[str, Any]:
        answer = self.api.post(
            "/v1/drafts",
            json=submission(**overrides),
            headers=self.bearer(self.scribe_token(tenant)),
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def approve(
        self, draft_id: str, token: str, version: int = 1, **headers: str
    ) -> httpx.Response:
        return self.api.post(
            f"/v1/drafts/{draft_id}/approve",
            headers={**self.bearer(token), "If-Match": f'W/"{version}"', **headers},
        )

    def work(self) -> None:
        """Run the worker until nothing is due (so a queued write would reach an EHR)."""
        executor = self.app.executor(owner="security-worker")
        for _ in range(20):
            if executor.run_once() == 0:
                break

    # -- evidence -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything an attack could change: rows, stored successes, both charts."""
        with self.app.engine.connect() as conn:
            counts = {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in ROW_TABLES
                if t is not tables.audit_events and t is not tables.idempotency_keys
            }
            events = conn.execute(select(tables.audit_events.c.type)).scalars().all()
            answers = conn.execute(
                select(tables.idempotency_keys.c.status_code).where(
                    tables.idempotency_keys.c.status_code < 400
                )
            ).all()
        counts["audit_events"] = sum(
            1 for e in events if not any(word in e.lower() for word in REFUSAL_EVENT_WORDS)
        )
        counts["stored_successes"] = len(answers)
        for name, sandbox in (("ehr_a", self.a), ("ehr_b", self.b)):
            for resource in ("DocumentReference", "Provenance"):
                counts[f"{name}_{resource}"] = _ehr_count(sandbox, resource)
        return counts


def _ehr_count(sandbox: SandboxServer, resource: str) -> int:
    # One kept-alive client for the whole run: ``httpx.get`` built a client per call (a TLS
    # context loaded from the CA bundle, a new connection), ~0.1 s of the ~0.5 s each
    # ``unchanged`` snapshot cost, twice per attack.
    answer = _ehr_client().get(
        f"{sandbox.fhir_base}/{resource}",
        params={"_count": "1000"},
        headers={"Accept": FHIR_JSON},
    )
    answer.raise_for_status()
    bundle = answer.json()
    return len(bundle.get("entry", []))


@cache
def _ehr_client() -> httpx.Client:
    """The client that looks at both EHRs (plain HTTP on loopback), built once per process."""
    return http_client(timeout=10)


@contextmanager
def unchanged_world(stack: TwoTenants) -> Iterator[None]:
    """Assert that the block changed no row, stored no success and wrote nothing to an EHR.

    The worker runs first (so earlier, legitimate work is settled) and again afterwards (so a
    write the block queued would reach an EHR and show).
    """
    stack.work()
    before = stack.snapshot()
    yield
    stack.work()
    assert stack.snapshot() == before


def refused(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The answer is a refusal with ``status`` as a FHIR OperationOutcome, without note text."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["content-type"].split(";")[0].strip() == FHIR_JSON
    body: dict[str, Any] = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "Synthetic patient" not in answer.text
    assert SOAP_NOTE[:40] not in answer.text
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer ")
    return body


def _tenant(sandbox: SandboxServer, tenant: str, **extra: Any) -> TenantSettings:
    return TenantSettings(
        id=tenant,
        issuers=[sandbox.issuer],
        ehr=EhrSettings(base_url=sandbox.fhir_base, vendor="sandbox", timeout_seconds=3),
        **extra,
    )


def _seed(stack: TwoTenants) -> None:
    # The granted encounter exists in EHR A: chartgate reads a draft's Encounter and Patient
    # from the EHR before approving it (issue 13 item 6).
    encounter = {
        "resourceType": "Encounter",
        "id": GRANTED_ENCOUNTER.split("/")[1],
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/pat-001"},
        "period": {"start": "2026-11-24T11:30:00Z"},
    }
    created = httpx.put(
        f"{stack.a.fhir_base}/{GRANTED_ENCOUNTER}",
        json=encounter,
        headers={"Content-Type": FHIR_JSON, "If-None-Match": "*"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    d = stack.drafts
    d.a = stack.submit(TENANT_A)["id"]
    d.a_other_encounter = stack.submit(TENANT_A, encounter="Encounter/enc-002")["id"]
    d.a_granted = stack.submit(TENANT_A, encounter=GRANTED_ENCOUNTER)["id"]
    d.b = stack.submit(TENANT_B)["id"]
    for tenant in (TENANT_A, TENANT_B):
        draft_id = stack.submit(tenant)["id"]
        answer = stack.approve(draft_id, stack.clinician_token(tenant))
        assert answer.status_code == 202, answer.text
        writeback = answer.json()["writeback"]["id"]
        if tenant == TENANT_A:
            d.a_committed, d.a_writeback = draft_id, writeback
        else:
            d.b_committed, d.b_writeback = draft_id, writeback
    stack.work()
    for draft_id in (d.a_committed, d.b_committed):
        tenant = TENANT_A if draft_id == d.a_committed else TENANT_B
        state = stack.api.get(
            f"/v1/drafts/{draft_id}", headers=stack.bearer(stack.clinician_token(tenant))
        ).json()["state"]
        assert state == "committed", state


@pytest.fixture(scope="module")
def two_tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoTenants]:
    """A chartgate with tenants A and B (own issuer, own EHR each), seeded with drafts."""
    workdir: Path = tmp_path_factory.mktemp("two-tenants")
    with (
        SandboxServer(workdir / "ehr-a.sqlite3") as sandbox_a,
        SandboxServer(workdir / "ehr-b.sqlite3") as sandbox_b,
    ):
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'chartgate.sqlite3'}",
            key_file=str(workdir / "kek.key"),
            step_up_acr=MFA_ACR,
            tenants=[
                _tenant(
                    sandbox_a,
                    TENANT_A,
                    scribe_clients=[SCRIBE_A],
                    care_team_grants=[
                        CareTeamGrant(
                            fhir_user=GRANTED_PRACTITIONER, encounters=[GRANTED_ENCOUNTER]
                        )
                    ],
                ),
                _tenant(sandbox_b, TENANT_B, scribe_clients=[SCRIBE_B]),
            ],
        )
        app = build(settings, migrate=True)
        try:
            with (
                ThreadedServer(create_app(app)) as server,
                httpx.Client(base_url=server.base_url, timeout=30) as api,
            ):
                stack = TwoTenants(app=app, api=api, a=sandbox_a, b=sandbox_b)
                _seed(stack)
                yield stack
        finally:
            app.close()
            _ehr_client().close()
            _ehr_client.cache_clear()


@pytest.fixture
def unchanged(two_tenants: TwoTenants) -> Iterator[None]:
    """Wrap a test: the attack must leave the world exactly as it found it."""
    with unchanged_world(two_tenants):
        yield


def random_id() -> str:
    """A guessed id: a fresh UUIDv4 nobody issued."""
    return str(uuid.uuid4())
