"""Where the store's schema stands against the migrations this version ships.

``/readyz``, ``chartgate db current`` / ``db check`` and the start of ``serve`` and
``worker`` ask the same question: is the store at head? A store one migration behind
answers queries until the first one that touches the new column, so it is checked up front.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from chartgate.adapters.storage.migrate import alembic_config


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The store's revision (None: never migrated) and the newest one shipped."""

    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        """True when the store needs no migration."""
        return self.current == self.head


def head_revision(engine: Engine) -> str:
    """The newest migration shipped with this version."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        msg = "no migrations are packaged"
        raise RuntimeError(msg)
    return head


def schema_state(engine: Engine) -> SchemaState:
    """Read the store's Alembic revision (connects; raises the driver's error if it cannot)."""
    migration_log = logging.getLogger("alembic.runtime.migration")
    level = migration_log.level
    migration_log.setLevel(logging.WARNING)  # "Context impl SQLiteImpl." on every probe
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        migration_log.setLevel(level)
    return SchemaState(current=current, head=head_revision(engine))
