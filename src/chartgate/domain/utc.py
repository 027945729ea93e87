"""UTC instants: every time chartgate stores, compares or signs is an aware UTC ``datetime``.

SQLite hands ``DateTime(timezone=True)`` columns back naive and PostgreSQL hands them back in
the session's time zone; ``as_utc`` is the one place either becomes an aware UTC value (the
storage adapter's ``UtcDateTime`` column type applies it on every read).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(moment: datetime) -> datetime: ...


@overload
def as_utc(moment: None) -> None: ...


def as_utc(moment: datetime | None) -> datetime | None:
    """Return ``moment`` as an aware UTC datetime; a naive one is taken to be UTC already.

    ``None`` passes through, for nullable columns.
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
