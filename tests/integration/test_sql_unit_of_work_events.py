"""The real unit of work keeps the domain-event contract (``tests/uow_contract.py``, ADR 0033).

The same checks as the fake's (``tests/unit/test_unit_of_work_events.py``), on
``SqlUnitOfWork`` over a migrated SQLite and PostgreSQL database, with its ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.unit_of_work import SqlUnitOfWork
from chartgate.service.ports import UnitOfWorkFactory
from uow_contract import CONTRACT


class PlainCipher:
    """No encryption: the contract is about events (the envelope cipher has its own tests)."""

    def encrypt(self, tenant: str, plaintext: bytes, *, aad: bytes) -> bytes:
        """The plaintext."""
        del tenant, aad
        return plaintext

    def decrypt(self, tenant: str, blob: bytes, *, aad: bytes) -> bytes:
        """The blob."""
        del tenant, aad
        return blob


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[Engine]:
    """The migrated database's engine."""
    built = make_engine(migrated_database_url)
    yield built
    built.dispose()


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_the_sql_unit_of_work_keeps_the_event_contract(
    check: Callable[[UnitOfWorkFactory], None], engine: Engine
) -> None:
    """Each contract check passes on an empty migrated database."""

    def unit(*, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, PlainCipher(), read_only=read_only)

    check(unit)
