"""A worker killed after its write landed, then a refused resend: the chart decides, not the 4xx.

Found by the history checker (tests/history): the Provenance landed, the worker died before it
recorded that, and the next worker's resend was refused (403). The write-back ended
``partial`` ("Provenance missing") while the chart held its Provenance. Sandbox EHR (client-id
guard) over real HTTP, SQLite store, synthetic data only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_writeback_faults import (
    approve,
    documents,
    provenances,
    set_faults,
    set_row,
    status,
)

from chartgate.service.writeback import WritebackExecutor
from stack import Stack


class Killed(BaseException):
    """The worker dies on the spot (kill -9): nothing after the crash point is committed."""


def kill_before_finish(point: str) -> None:
    if point == "before_finish":
        raise Killed(point)


def test_a_refused_provenance_resend_after_a_crash_finds_the_one_that_landed(
    sandbox_stack: Stack,
) -> None:
    """Provenance landed, worker killed, resend refused: committed with that Provenance."""
    stack = sandbox_stack
    _, writeback = approve(stack)
    wb_id = writeback["id"]
    app = stack.app
    dying = WritebackExecutor(
        uow=app.uow, ehr=app.ehr, clock=app.clock, owner="dies", crash=kill_before_finish
    )
    with pytest.raises(Killed):
        dying.process(stack.tenant, wb_id)
    landed = provenances(stack, wb_id)
    assert len(landed) == 1
    assert status(stack, wb_id)["state"] == "sending"

    set_row(stack, wb_id, lease_until=datetime.now(UTC) - timedelta(seconds=1))
    set_faults(stack, {"refuse": {"count": 1, "status": 403, "resource_type": "Provenance"}})
    stack.work()

    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert final["provenance"] == f"Provenance/{landed[0]['id']}"
    assert len(provenances(stack, wb_id)) == 1


def test_a_refused_finalize_resend_after_a_crash_finds_the_finalize_that_landed(
    sandbox_stack: Stack,
) -> None:
    """Finalize PUT landed, worker killed, resend refused (422): committed, chart says final."""
    stack = sandbox_stack
    draft, writeback = approve(stack)
    stack.work()
    assert status(stack, writeback["id"])["state"] == "committed"
    answer = stack.api.post(f"/v1/drafts/{draft['id']}/finalize", headers=stack.as_clinician())
    assert answer.status_code == 202, answer.text
    wb_id = answer.json()["writeback"]["id"]
    app = stack.app

    def kill_after_the_put(point: str) -> None:
        if point == "after_send":
            raise Killed(point)

    dying = WritebackExecutor(
        uow=app.uow, ehr=app.ehr, clock=app.clock, owner="dies", crash=kill_after_the_put
    )
    with pytest.raises(Killed):
        dying.process(stack.tenant, wb_id)
    assert documents(stack, writeback["id"])[0]["docStatus"] == "final"

    set_row(stack, wb_id, lease_until=datetime.now(UTC) - timedelta(seconds=1))
    set_faults(stack, {"refuse": {"count": 1, "status": 422, "resource_type": "DocumentReference"}})
    stack.work()

    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert documents(stack, writeback["id"])[0]["docStatus"] == "final"
    assert len(provenances(stack, wb_id)) == 1
