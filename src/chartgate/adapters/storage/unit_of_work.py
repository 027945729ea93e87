"""The unit of work: one database transaction, with the repositories bound to it.

Handlers open one per command; leaving the block commits, an exception rolls everything
back (draft, approval, outbox row and audit event together, or none of them).
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from chartgate.adapters.storage.engine import writer_lock
from chartgate.adapters.storage.repositories import (
    ApprovalRepository,
    AuditRepository,
    DraftRepository,
    IdempotencyRepository,
    WritebackRepository,
)
from chartgate.service.ports import Cipher


class SqlUnitOfWork:
    """One transaction on the store."""

    drafts: DraftRepository
    approvals: ApprovalRepository
    writebacks: WritebackRepository
    audit: AuditRepository
    idempotency: IdempotencyRepository

    def __init__(self, engine: Engine, cipher: Cipher, *, read_only: bool = False) -> None:
        self._engine = engine
        self._cipher = cipher
        self._read_only = read_only
        self._stack = contextlib.ExitStack()
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        lock = None if self._read_only else writer_lock(self._engine)
        if lock is not None:
            self._stack.enter_context(lock)
        conn = self._engine.connect()
        if self._read_only:
            conn = conn.execution_options(chartgate_read_only=True)
        self._conn = self._stack.enter_context(conn)
        self._stack.enter_context(self._conn.begin())
        self.drafts = DraftRepository(self._conn, self._cipher)
        self.approvals = ApprovalRepository(self._conn, self._cipher)
        self.writebacks = WritebackRepository(self._conn, self._cipher)
        self.audit = AuditRepository(self._conn)
        self.idempotency = IdempotencyRepository(self._conn, self._cipher)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The transaction context commits on a clean exit and rolls back on an exception.
        self._stack.__exit__(exc_type, exc, tb)
