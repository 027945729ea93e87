"""The unit of work: one database transaction, with the repositories bound to it.

Use cases open one per command; leaving the block commits, an exception rolls everything
back (draft, approval, outbox row and audit event together, or none of them). Just before
the commit, the new domain events of every draft the unit saw become audit records in the
same transaction (``service/event_records.py``, ADR 0033).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from chartgate.adapters.storage.context_store import SqlContextStore
from chartgate.adapters.storage.engine import writer_lock
from chartgate.adapters.storage.idempotency_keys import SqlIdempotencyStore
from chartgate.adapters.storage.killswitches import SqlKillSwitches
from chartgate.adapters.storage.repositories import (
    ApprovalRepository,
    AuditRepository,
    DraftRepository,
)
from chartgate.adapters.storage.writebacks import WritebackRepository
from chartgate.domain.errors import StoreUnavailable
from chartgate.service.event_records import record_new_events
from chartgate.service.ports import Cipher, EventRecorder


class SqlUnitOfWork:
    """One transaction on the store."""

    drafts: DraftRepository
    approvals: ApprovalRepository
    writebacks: WritebackRepository
    audit: AuditRepository
    idempotency: SqlIdempotencyStore
    killswitches: SqlKillSwitches
    context: SqlContextStore

    def __init__(
        self,
        engine: Engine,
        cipher: Cipher,
        *,
        read_only: bool = False,
        ehr_vendors: Mapping[str, str] | None = None,
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._read_only = read_only
        self._ehr_vendors = ehr_vendors
        self._stack = contextlib.ExitStack()
        self._conn: Connection | None = None
        self._recorder: EventRecorder | None = None

    def recording(self, recorder: EventRecorder) -> None:
        """Record the new events of the drafts this unit saw with ``recorder`` on commit."""
        self._recorder = recorder

    def __enter__(self) -> Self:
        lock = None if self._read_only else writer_lock(self._engine)
        if lock is not None:
            self._stack.enter_context(lock)
        try:
            conn = self._engine.connect()
            if self._read_only:
                conn = conn.execution_options(chartgate_read_only=True)
            self._conn = self._stack.enter_context(conn)
            self._stack.enter_context(self._conn.begin())
        except DBAPIError as error:
            self._stack.close()
            raise _unavailable(error) from error
        self.drafts = DraftRepository(self._conn, self._cipher)
        self.approvals = ApprovalRepository(self._conn, self._cipher)
        self.writebacks = WritebackRepository(
            self._conn, self._cipher, ehr_vendors=self._ehr_vendors
        )
        self.audit = AuditRepository(self._conn)
        self.idempotency = SqlIdempotencyStore(self._conn, self._cipher)
        self.killswitches = SqlKillSwitches(self._conn)
        self.context = SqlContextStore(self._conn, self._cipher)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                self._before_commit()
            except BaseException as error:
                self._close(type(error), error, error.__traceback__)
                raise
        self._close(exc_type, exc, tb)

    def _before_commit(self) -> None:
        """In the transaction, before it commits: the seen drafts' new events, recorded."""
        record_new_events(self.drafts.seen, self._recorder, self.audit)

    def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The transaction context commits on a clean exit and rolls back on an exception.
        try:
            self._stack.__exit__(exc_type, exc, tb)
        except DBAPIError as error:
            self._forget_row_versions()
            if _lost_connection(error):
                raise _unavailable(error) from error
            raise
        except BaseException:
            self._forget_row_versions()
            raise
        if exc_type is not None:
            self._forget_row_versions()
        if isinstance(exc, DBAPIError) and _lost_connection(exc):
            raise _unavailable(exc) from exc

    def _forget_row_versions(self) -> None:
        """Rolled back: no draft this unit saw may pass for the row its save did not leave."""
        drafts = getattr(self, "drafts", None)
        for draft in drafts.seen if drafts is not None else ():
            draft.stored_version = None


def _lost_connection(error: DBAPIError) -> bool:
    """A dropped or refused connection, or a server shutting down (not a constraint error)."""
    from sqlalchemy.exc import InterfaceError, OperationalError  # noqa: PLC0415

    return error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError))


def _unavailable(error: DBAPIError) -> StoreUnavailable:
    del error  # its text can hold SQL parameters: never shown
    return StoreUnavailable("the database is unavailable; nothing was written, try again")
