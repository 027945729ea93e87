"""The fake unit of work keeps the domain-event contract (``tests/uow_contract.py``).

The same checks run on the real store in ``tests/integration/test_sql_unit_of_work_events.py``,
so the use-case unit tests over ``FakeStore`` see the ledger the real store would write.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chartgate.service.ports import UnitOfWorkFactory
from fakes import FakeStore
from uow_contract import CONTRACT


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_the_fake_unit_of_work_keeps_the_event_contract(
    check: Callable[[UnitOfWorkFactory], None],
) -> None:
    """Each contract check passes on an empty ``FakeStore``."""
    check(FakeStore().unit)
