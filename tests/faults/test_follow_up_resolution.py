"""A finalize whose Provenance is parked on Epic has a safe resolution (issue 10, the gap).

On an EHR that guards no create (Epic), a finalize's PUT lands, its Provenance's answer is
lost, and the search finds nothing yet: the write-back waits for a person. By the time the
person looks, the slow Provenance has landed. ``retry-follow-up`` used to send the Provenance
again without reading the chart (two Provenances for one write), and ``landed`` looked for the
finalize's own id on the document's identifier (which carries the approval's), so it was
always refused. Resolution now reads the chart first (our mark: ``meta.tag`` = write-back id)
and decides through the outcome table. Sandbox imitating Epic over real HTTP, synthetic data.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_person_resolution import HOLD, wait_for
from test_writeback_faults import approve, make_due, provenances, status

from chartgate.service.writeback import WritebackExecutor
from stack import Stack

pytestmark = pytest.mark.timeout(150)


def _parked_finalize(stack: Stack) -> tuple[str, dict[str, Any]]:
    """Approve and commit, then finalize with its Provenance held past the timeout: parked."""
    draft, first = approve(stack)
    stack.work()
    assert status(stack, first["id"])["state"] == "committed"
    answer = stack.api.post(f"/v1/drafts/{draft['id']}/finalize", headers=stack.as_clinician())
    assert answer.status_code == 202, answer.text
    wb_id = answer.json()["writeback"]["id"]
    sends = 0

    def slow_provenance(point: str) -> None:
        nonlocal sends
        if point == "before_send":
            sends += 1
            if sends == 2:  # the finalize's PUT, then its Provenance
                stack.sandbox.faults.load_json(
                    {"timeout": {"count": 1, "seconds": HOLD, "before_commit": True}}
                )

    app = stack.app
    executor = WritebackExecutor(
        uow=app.uow, ehr=app.ehr, clock=app.clock, owner="w1", crash=slow_provenance
    )
    assert executor.process(stack.tenant, wb_id)
    make_due(stack, wb_id)
    stack.work(rounds=1)  # the search runs before the held Provenance lands
    parked = status(stack, wb_id)
    assert parked["state"] == "needs_person", parked
    assert parked["note_in_chart"] is True
    assert not provenances(stack, wb_id)  # still held: the search above could not see it
    stack.sandbox.faults.release_held()
    # The person looks later: the slow Provenance is there by then.
    assert wait_for(lambda: provenances(stack, wb_id), seconds=HOLD + 10)
    return wb_id, parked


def test_retry_follow_up_reads_the_chart_and_sends_no_second_provenance(
    epic_stack: Stack,
) -> None:
    """``retry-follow-up`` on a parked finalize finds its late Provenance: committed, one."""
    stack = epic_stack
    wb_id, _ = _parked_finalize(stack)
    resolved = stack.api.post(
        f"/v1/writebacks/{wb_id}/resolve",
        json={"action": "retry-follow-up"},
        headers=stack.as_clinician(),
    )
    assert resolved.status_code == 200, resolved.text
    stack.work()
    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert len(provenances(stack, wb_id)) == 1
    assert final["provenance"] == f"Provenance/{provenances(stack, wb_id)[0]['id']}"


def test_landed_accepts_the_finalized_document_by_its_mark(epic_stack: Stack) -> None:
    """``landed`` on a parked finalize checks the version's mark (its own id), then settles."""
    stack = epic_stack
    wb_id, parked = _parked_finalize(stack)
    resolved = stack.api.post(
        f"/v1/writebacks/{wb_id}/resolve",
        json={"action": "landed", "document": parked["ehr_resource"]},
        headers=stack.as_clinician(),
    )
    assert resolved.status_code == 200, resolved.text
    stack.work()
    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert len(provenances(stack, wb_id)) == 1
