"""The real clock and id source."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time, UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)


class UuidIds:
    """Unguessable ids: UUIDv4 (122 random bits)."""

    def new_id(self) -> str:
        """A new random UUID as text."""
        return str(uuid.uuid4())
