"""The Idempotency-Key store as the service sees it: a taken key is a domain error.

Two requests with the same key can both find no stored answer and then both insert; the
table's primary key refuses the second insert. That database error is translated here, in the
storage adapter, into ``IdempotencyInFlight`` (409), so the service layer never has to know
SQLAlchemy's exceptions (the import-linter ``forbidden`` contract keeps it that way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError as DbIntegrityError

from chartgate.adapters.storage.repositories import IdempotencyRepository
from chartgate.domain.errors import IdempotencyInFlight

if TYPE_CHECKING:
    from datetime import datetime


class SqlIdempotencyStore(IdempotencyRepository):
    """``IdempotencyRepository`` whose ``begin`` refuses a key another request holds."""

    def begin(
        self, tenant: str, principal: str, key: str, request_hash: str, now: datetime
    ) -> None:
        """Record that a request with this key is in flight.

        Raises:
            IdempotencyInFlight: another request inserted the same key first.
        """
        try:
            super().begin(tenant, principal, key, request_hash, now)
        except DbIntegrityError:
            raise IdempotencyInFlight(
                "a request with this Idempotency-Key is in progress", expression="Idempotency-Key"
            ) from None
