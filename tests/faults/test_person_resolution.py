"""A person's resolution settles a parked write-back without a second Provenance.

Found while writing the history checker's person (tests/history): on an EHR that guards
nothing (Epic), the Provenance's answer was lost, the search found nothing yet, so the
write-back waited for a person; by the time the person looked, the slow Provenance had landed.
Pointing at the note (``landed``) then sent the Provenance again: two Provenances for one
write. Sandbox imitating
Epic over real HTTP, SQLite store, synthetic data only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from test_writeback_faults import (
    EHR_TIMEOUT,
    approve,
    documents,
    draft_state,
    make_due,
    provenances,
    status,
)

from chartgate.service.writeback import WritebackExecutor
from stack import Stack

pytestmark = pytest.mark.timeout(120)
# Long enough that the search runs before the held Provenance lands, even on a busy machine.
# It is a cap: each test releases the hold (``FaultPlan.release_held``) right after the
# search it must precede, then waits for the landing instead of for the rest of the hold.
HOLD = EHR_TIMEOUT + 8.0


def wait_for(check: Callable[[], object], *, seconds: float) -> bool:
    """Poll ``check`` until it is true or ``seconds`` pass (for a request held at the EHR)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_pointing_at_the_note_after_its_provenance_landed_late_writes_no_second_one(
    epic_stack: Stack,
) -> None:
    """Note landed, Provenance answered too late and found by no search: 'landed' finds it."""
    stack = epic_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    sends = 0

    def slow_provenance(point: str) -> None:
        # The second request of the write-back is its Provenance: hold it past the timeout.
        nonlocal sends
        if point == "before_send":
            sends += 1
            if sends == 2:  # the Provenance is the second request
                stack.sandbox.faults.load_json(
                    {"timeout": {"count": 1, "seconds": HOLD, "before_commit": True}}
                )

    app = stack.app
    executor = WritebackExecutor(
        uow=app.uow, ehr=app.ehr, clock=app.clock, owner="w1", crash=slow_provenance
    )
    assert executor.process(stack.tenant, wb_id)
    assert status(stack, wb_id)["state"] == "ambiguous"
    make_due(stack, wb_id)
    stack.work(rounds=1)  # the search runs before the held Provenance lands
    parked = status(stack, wb_id)
    assert parked["state"] == "needs_person", parked
    assert parked["note_in_chart"] is True
    assert not provenances(stack, wb_id)  # still held: the search above could not see it
    stack.sandbox.faults.release_held()

    # The person looks later: the slow Provenance is there by then.
    assert wait_for(lambda: provenances(stack, wb_id), seconds=HOLD + 10)
    assert len(provenances(stack, wb_id)) == 1
    doc = documents(stack, wb_id)[0]
    resolved = stack.api.post(
        f"/v1/writebacks/{wb_id}/resolve",
        json={"action": "landed", "document": f"DocumentReference/{doc['id']}"},
        headers=stack.as_clinician(),
    )
    assert resolved.status_code == 200, resolved.text
    stack.work()

    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert len(provenances(stack, wb_id)) == 1
    assert final["provenance"] == f"Provenance/{provenances(stack, wb_id)[0]['id']}"
    assert draft_state(stack, draft["id"]) == "committed"
