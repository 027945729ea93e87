"""The Idempotency-Key store as the service sees it: a taken key is a domain error.

Two requests with the same key can both find no stored answer and then both insert; the
table's primary key refuses the second insert. That database error is translated here, in the
storage adapter, into ``IdempotencyInFlight`` (409), so the service layer never has to know
SQLAlchemy's exceptions (the import-linter ``forbidden`` contract keeps it that way).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as DbIntegrityError

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.repositories import row_aad
from chartgate.domain.errors import IdempotencyInFlight
from chartgate.service.ports import Cipher, JsonObject


class IdempotencyRepository:
    """Stored answers to Idempotency-Key requests (Stripe semantics).

    A stored answer can hold the draft's note text, so it is sealed like any clinical
    content: the ``response`` column holds ``{"sealed": <base64 ciphertext>}`` only.
    """

    def __init__(self, conn: Connection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def find(self, tenant: str, principal: str, key: str) -> JsonObject | None:
        """The stored record for a key, or None."""
        c = t.idempotency_keys.c
        row = (
            self._conn.execute(
                select(t.idempotency_keys).where(
                    c.tenant == tenant, c.principal == principal, c.key == key
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        record = dict(row)
        sealed = (record.get("response") or {}).get("sealed")
        if sealed is not None:
            plaintext = self._cipher.decrypt(
                tenant, base64.b64decode(sealed), aad=row_aad(tenant, "idempotency", principal, key)
            )
            record["response"] = json.loads(plaintext)
        return record

    def begin(
        self, tenant: str, principal: str, key: str, request_hash: str, now: datetime
    ) -> None:
        """Record that a request with this key is in flight."""
        self._conn.execute(
            insert(t.idempotency_keys).values(
                tenant=tenant,
                principal=principal,
                key=key,
                request_hash=request_hash,
                state="in_flight",
                created_at=now,
            )
        )

    def settle(
        self,
        tenant: str,
        principal: str,
        key: str,
        began: datetime,
        status_code: int,
        response: JsonObject,
    ) -> bool:
        """Store the answer if the attempt that began at ``began`` still holds the key.

        Returns False (and stores nothing) when a retry took the key over or it is done.
        """
        c = t.idempotency_keys.c
        sealed = self._cipher.encrypt(
            tenant,
            json.dumps(response).encode(),
            aad=row_aad(tenant, "idempotency", principal, key),
        )
        done = self._conn.execute(
            update(t.idempotency_keys)
            .where(
                c.tenant == tenant,
                c.principal == principal,
                c.key == key,
                c.state == "in_flight",
                c.created_at == began,
            )
            .values(
                state="done",
                status_code=status_code,
                response={"sealed": base64.b64encode(sealed).decode("ascii")},
            )
        )
        return done.rowcount == 1

    def forget(self, tenant: str, principal: str, key: str, began: datetime | None = None) -> None:
        """Drop an in-flight key whose request failed on our side, so it can be retried.

        With ``began``, only the attempt that began then (never a retry that took it over).
        """
        c = t.idempotency_keys.c
        attempt = [] if began is None else [c.created_at == began]
        self._conn.execute(
            delete(t.idempotency_keys).where(
                c.tenant == tenant,
                c.principal == principal,
                c.key == key,
                c.state == "in_flight",
                *attempt,
            )
        )


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
