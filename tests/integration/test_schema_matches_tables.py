"""The migrations build exactly the schema that ``adapters/storage/tables.py`` declares.

The repositories query through ``tables.py``; the store is built by Alembic's migrations. A
column, index or constraint added to one and not the other works in one place and fails (or
is silently slow) in the other, so the two are compared on both stores with Alembic's own
comparison.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from chartgate.adapters.storage import tables


def differences(url: str) -> list[Any]:
    """What Alembic would change to make the migrated store match ``tables.metadata``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            found: list[Any] = compare_metadata(context, tables.metadata)
    finally:
        engine.dispose()
    return found


def test_migrated_store_matches_the_declared_tables(migrated_database_url: str) -> None:
    """No table, column, index or constraint differs between the migrations and tables.py."""
    found = differences(migrated_database_url)
    assert found == [], found
