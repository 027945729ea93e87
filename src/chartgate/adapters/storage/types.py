"""Column types of the store: ``UtcDateTime`` keeps every stored time an aware UTC instant.

``DateTime(timezone=True)`` alone is not enough across our two databases: SQLite keeps no
offset (a non-UTC aware value would be stored as its local wall-clock time) and reads back
naive values, and PostgreSQL reads back in the session's time zone. ``UtcDateTime`` converts
to UTC before binding and returns aware UTC values (``domain/utc.py``), so repositories need no
per-column fix-ups. It renders the same DDL as ``DateTime(timezone=True)``, so switching a
column to it needs no migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

from chartgate.domain.utc import as_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp column whose values are always UTC on the way in and out.

    Binding a naive datetime is refused (``ValueError``): which zone it meant is unknowable,
    and guessing is how a note ends up stamped hours off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware value to UTC; refuse a naive one."""
        del dialect
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        del dialect
        return as_utc(value)
