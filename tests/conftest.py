"""Fixtures shared by every test folder: databases, the identity provider, a running stack.

Real parts only: a SQLite file and a fresh PostgreSQL database per test (over a real
connection), the Medplum test EHR or our sandbox over real HTTP, the API under uvicorn.
Under CI=true a missing PostgreSQL or Node.js is a failure, never a skip.

Every test still gets a database of its own. ``sqlite_url``/``postgres_url``/``database_url``
are empty (for the migration tests); the ``migrated_*`` ones are copies of a database migrated
once per test process (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL),
so the many tests that only need the schema do not each run Alembic from scratch. Under
pytest-xdist each worker is its own process with its own templates.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.migrate import upgrade
from databases import PG_ADMIN_URL
from databases import create_database as _create_database
from databases import drop_database as _drop_database
from stack import Stack, TenantStacks, running_stack, tenant_stacks

# Property tests prove rules, not speed: no per-example deadline and no "too slow" health check,
# which a loaded CI machine trips at random.
settings.register_profile("chartgate", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("chartgate")

# The suite runs chartgate in dev mode (keys made on first use, loopback http allowed), as the
# demo does; tests of the production rules set dev_mode=False (or CHARTGATE_DEV_MODE=false).
os.environ.setdefault("CHARTGATE_DEV_MODE", "true")

pytest_plugins = [
    "medplum_ehr",
    "idp_oidc_provider",
    "suite_rules",
    "suite_schedule",
    "pytester",
    "softhsm",
    "tsa_server",
]

# The suite is a dev deployment on loopback: plain http is allowed (dev mode) and the test
# systems (sandbox, Medplum, oidc-provider, local sinks and receivers, all on 127.0.0.1 or
# localhost) are one registered processor, as the processor registry requires of every
# destination (docs/compliance.md). Tests of production behaviour pass dev_mode=False and
# their own processors explicitly; explicit arguments win over the environment.
TEST_PROCESSORS = [
    {
        "id": "loopback-test-systems",
        "legal_entity": "chartgate test suite (synthetic data only)",
        "role": "ehr",
        "purpose": "test EHRs, identity providers, sinks and receivers on loopback",
        "endpoints": [
            "http://127.0.0.1",
            "http://localhost",
            "https://127.0.0.1",
            "https://localhost",
        ],
        "phi_categories": ["synthetic-test-data"],
        "baa_signed": "2026-01-01",
    },
    {
        "id": "test-webhook-receiver",
        "legal_entity": "a fictional scribe vendor's webhook receiver",
        "role": "webhook",
        "purpose": "webhook registration tests (never reached)",
        "endpoints": ["https://scribe.example"],
    },
]
os.environ.setdefault("CHARTGATE_DEV_MODE", "true")
os.environ.setdefault("CHARTGATE_PROCESSORS", json.dumps(TEST_PROCESSORS))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'chartgate.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the machine's server, dropped afterwards."""
    name = f"chartgate_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(PG_ADMIN_URL, name)
    try:
        yield url
    finally:
        _drop_database(PG_ADMIN_URL, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per test process."""
    path = tmp_path_factory.mktemp("template") / "chartgate.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _migrated_postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated to head once per test process (a template, never used)."""
    name = f"chartgate_template_{uuid.uuid4().hex[:12]}"
    _migrate(_create_database(PG_ADMIN_URL, name))
    try:
        yield name
    finally:
        _drop_database(PG_ADMIN_URL, name)


@pytest.fixture
def migrated_sqlite_url(_migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite file with the schema at head (a copy of the process's template)."""
    path = tmp_path / "chartgate.sqlite3"
    shutil.copyfile(_migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def migrated_postgres_url(_migrated_postgres_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database with the schema at head, dropped afterwards."""
    name = f"chartgate_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(PG_ADMIN_URL, name, template=_migrated_postgres_template)
    try:
        yield url
    finally:
        _drop_database(PG_ADMIN_URL, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_database_url(request: pytest.FixtureRequest) -> str:
    """``database_url`` with the schema already at head: once on SQLite, once on PostgreSQL."""
    fixture = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def medplum_stack(
    migrated_database_url: str, medplum_fresh_base_url: str, tmp_path: Path
) -> Iterator[Stack]:
    """The chartgate stack (API + worker) on both databases, writing to the Medplum test EHR."""
    with running_stack(migrated_database_url, tmp_path, ehr_base=medplum_fresh_base_url) as stack:
        yield stack


@pytest.fixture
def sandbox_stack(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[Stack]:
    """The chartgate stack on SQLite, writing to our sandbox EHR (for fault injection)."""
    with running_stack(migrated_sqlite_url, tmp_path) as stack:
        yield stack


# -- one database per module, for a module's shared stack (``stack.tenant_stacks``) ----------


@pytest.fixture(scope="module")
def module_test_count(request: pytest.FixtureRequest) -> int:
    """How many of the collected tests are in this module (the tenants its shared stack needs)."""
    return sum(
        1 for item in request.session.items if getattr(item, "module", None) is request.module
    )


@pytest.fixture(scope="module")
def module_migrated_sqlite_url(
    _migrated_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A SQLite file with the schema at head, shared by one module (never a migration test's)."""
    path = tmp_path_factory.mktemp("module-db") / "chartgate.sqlite3"
    shutil.copyfile(_migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def module_migrated_postgres_url(_migrated_postgres_template: str) -> Iterator[str]:
    """A PostgreSQL database with the schema at head, shared by one module, dropped after it."""
    name = f"chartgate_module_{uuid.uuid4().hex[:12]}"
    url = _create_database(PG_ADMIN_URL, name, template=_migrated_postgres_template)
    try:
        yield url
    finally:
        _drop_database(PG_ADMIN_URL, name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_migrated_database_url(request: pytest.FixtureRequest) -> str:
    """``module_migrated_*_url`` once on SQLite, once on PostgreSQL (tests grouped by store)."""
    fixture = (
        "module_migrated_sqlite_url"
        if request.param == "sqlite"
        else "module_migrated_postgres_url"
    )
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="module")
def shared_sqlite_stacks(
    module_migrated_sqlite_url: str,
    module_test_count: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TenantStacks]:
    """One chartgate on SQLite with the sandbox EHR for the module, a tenant per test."""
    workdir = tmp_path_factory.mktemp("stack")
    with tenant_stacks(module_migrated_sqlite_url, workdir, count=module_test_count) as stacks:
        yield stacks


@pytest.fixture(scope="module")
def shared_stacks(
    module_migrated_database_url: str,
    module_test_count: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TenantStacks]:
    """``shared_sqlite_stacks`` once per store (SQLite, PostgreSQL; tests grouped by store)."""
    workdir = tmp_path_factory.mktemp("stack")
    with tenant_stacks(module_migrated_database_url, workdir, count=module_test_count) as stacks:
        yield stacks
