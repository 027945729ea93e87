"""PostgreSQL databases for tests: create (maybe from a template) and drop them.

Used by ``tests/conftest.py``'s database fixtures and by modules that copy a database of their
own (``CREATE DATABASE ... TEMPLATE``). Under CI=true an unreachable server is a failure.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from required import missing

PG_ADMIN_URL = os.environ.get(
    "CHARTGATE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """Create ``name`` (copied from ``template`` when given) and return its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    except OperationalError:
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    finally:
        admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    """Drop ``name`` (and end its connections) if it exists."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
