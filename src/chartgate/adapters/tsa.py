# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The RFC 3161 Time-Stamping Authority client, and where its tokens are kept.

After a checkpoint is signed and committed, the worker asks the configured TSA
(``tsa_url``) to stamp the signed note and stores the token beside the checkpoint
(``checkpoint_timestamps``). A TSA that does not answer costs nothing but the stamp: the
failure is logged and the next checkpoint, which extends this one, gets its own
(docs/ledger.md#timestamps). HTTP goes through the one HTTP seam (``adapters/ehr/http.py``).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.ehr.http import build_client, send
from chartgate.adapters.storage import tables as t
from chartgate.ledger.timestamp import TimestampError, token_from_reply
from chartgate.service.ports import Clock

_MAX_REPLY_BYTES = 64 * 1024


class HttpTimestamper:
    """Asks one TSA for a token over a signed note (``application/timestamp-query``)."""

    def __init__(self, url: str, gate: ProcessorGate) -> None:
        self.url = url  # a registered processor (it receives a hash only, no PHI)
        self._client = build_client(
            gate=gate.bound(tenants=(), purpose="tsa"), timeout_seconds=10.0
        )

    def close(self) -> None:
        """Release the HTTP client."""
        self._client.close()

    def token(self, note: str) -> bytes:
        """The TSA's token over ``note``; ``TimestampError`` when refused or unusable."""
        nonce = secrets.randbits(63)
        from chartgate.ledger.timestamp import request  # noqa: PLC0415 - beside its user

        answer = send(
            self._client,
            "POST",
            self.url,
            what="timestamp a checkpoint",
            headers={"Content-Type": "application/timestamp-query"},
            content=request(note, nonce),
        )
        if answer.status != 200 or len(answer.content) > _MAX_REPLY_BYTES:  # noqa: PLR2004
            raise TimestampError(f"the TSA answered HTTP {answer.status}")
        return token_from_reply(answer.content, note, nonce)


class SqlTimestamps:
    """Timestamp tokens by (tenant, checkpoint size)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, tenant: str, size: int, token: bytes, *, tsa: str, at: datetime) -> None:
        """Keep a token (a second one for the same checkpoint is ignored)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(t.checkpoint_timestamps).values(
                        tenant=tenant, size=size, token=token, tsa=tsa[:300], stamped_at=at
                    )
                )
        except IntegrityError:
            return

    def tokens(self, tenant: str) -> list[tuple[int, bytes]]:
        """Every (checkpoint size, token) of the tenant, oldest first."""
        table = t.checkpoint_timestamps
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            rows = conn.execute(
                select(table.c.size, table.c.token)
                .where(table.c.tenant == tenant)
                .order_by(table.c.size)
            ).all()
        return [(int(size), bytes(token)) for size, token in rows]


class CheckpointStamper:
    """Stamps a committed checkpoint note and stores the token (the Checkpointer's hook)."""

    def __init__(self, timestamper: HttpTimestamper, store: SqlTimestamps, clock: Clock) -> None:
        self._timestamper = timestamper
        self._store = store
        self._clock = clock

    def stamp(self, tenant: str, size: int, note: str) -> None:
        """Get a token for the note and keep it."""
        token = self._timestamper.token(note)
        self._store.add(tenant, size, token, tsa=self._timestamper.url, at=self._clock.now())
