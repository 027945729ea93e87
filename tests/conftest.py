"""Fixtures shared by every test folder: databases, the identity provider, a running stack.

Real parts only: a SQLite file and a fresh PostgreSQL database per test (over a real
connection), the Medplum test EHR or our sandbox over real HTTP, the API under uvicorn.
Under CI=true a missing PostgreSQL or Node.js is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from stack import Stack, running_stack

pytest_plugins = ["medplum_ehr", "idp_oidc_provider"]

PG_ADMIN_URL = os.environ.get(
    "CHARTGATE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def missing(reason: str) -> None:
    """Fail under CI (a required service is missing), skip on a developer machine."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required service missing under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'chartgate.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the machine's server, dropped afterwards."""
    name = f"chartgate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def medplum_stack(
    database_url: str, medplum_fresh_base_url: str, tmp_path: Path
) -> Iterator[Stack]:
    """The chartgate stack (API + worker) on both databases, writing to the Medplum test EHR."""
    with running_stack(database_url, tmp_path, ehr_base=medplum_fresh_base_url) as stack:
        yield stack


@pytest.fixture
def sandbox_stack(sqlite_url: str, tmp_path: Path) -> Iterator[Stack]:
    """The chartgate stack on SQLite, writing to our sandbox EHR (for fault injection)."""
    with running_stack(sqlite_url, tmp_path) as stack:
        yield stack
