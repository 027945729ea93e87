"""The kill switch over the real API, store and worker, on SQLite and PostgreSQL.

Each mode is engaged by an admin (or the operator's service call), refuses or holds what it
covers and nothing else, is a ledger event with who and why, and releasing resumes the held
write-backs exactly once. Synthetic data only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builders import submission
from chartgate.domain.killswitch import ALL_TENANTS, SwitchSpec
from chartgate.service.writeback import WritebackExecutor
from stack import Stack, running_stack

WRITEBACK_SYSTEM = "urn:chartgate:writeback"


@pytest.fixture
def stack(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate on both stores, writing to the sandbox EHR."""
    with running_stack(migrated_database_url, tmp_path) as running:
        yield running


def as_admin(stack: Stack, **overrides: Any) -> dict[str, str]:
    """Authorization header of the tenant's admin."""
    claims: dict[str, Any] = {
        "subject": "admin-test",
        "scopes": ["openid", "chartgate/admin"],
        "tenant": stack.tenant,
    }
    claims.update(overrides)
    return {"Authorization": f"Bearer {stack.sandbox.idp.mint(**claims)}"}


def engage(stack: Stack, **body: Any) -> dict[str, Any]:
    """An admin engages a switch; return the answer."""
    body.setdefault("reason", "synthetic incident drill")
    answer = stack.api.post("/v1/admin/killswitches", json=body, headers=as_admin(stack))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def release(stack: Stack, switch_id: str) -> None:
    """An admin releases a switch."""
    answer = stack.api.post(
        f"/v1/admin/killswitches/{switch_id}/release",
        json={"reason": "fixed model deployed"},
        headers=as_admin(stack),
    )
    assert answer.status_code == 200, answer.text


def submit(stack: Stack, **overrides: Any) -> Any:
    """A scribe submits the synthetic note."""
    return stack.api.post("/v1/drafts", json=submission(**overrides), headers=stack.as_scribe())


def approve(stack: Stack, draft_id: str) -> Any:
    """The clinician approves version 1."""
    return stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )


def documents(stack: Stack, writeback_id: str) -> list[dict[str, Any]]:
    """The DocumentReferences the EHR holds for one write-back."""
    with stack.ehr() as ehr:
        bundle = ehr.get(
            "/DocumentReference", params={"identifier": f"{WRITEBACK_SYSTEM}|{writeback_id}"}
        )
    assert bundle.status_code == 200, bundle.text
    return [entry["resource"] for entry in bundle.json().get("entry", [])]


def ledger_types(stack: Stack, correlation_id: str) -> list[str]:
    """Event types of one correlation id (a switch's events carry its id)."""
    return [e["type"] for e in stack.app.audit_chain(stack.tenant, correlation_id)]


def test_stop_drafting_on_a_model_version_refuses_only_that_model(stack: Stack) -> None:
    """stop-drafting on one model version refuses its submissions with the reason; others pass."""
    switch = engage(stack, mode="stop-drafting", scope="model-version", value="2026.10.1")
    refused = submit(stack)
    assert refused.status_code == 409
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "stop-drafting" in outcome["issue"][0]["diagnostics"]
    assert "synthetic incident drill" in outcome["issue"][0]["diagnostics"]
    other = submission()["origin"] | {
        "model": {"name": "example-scribe-llm", "version": "2026.11.0"}
    }
    assert submit(stack, origin=other).status_code == 201
    release(stack, switch["switch"]["id"])
    assert submit(stack).status_code == 201


def test_freeze_approvals_refuses_approve_until_released(stack: Stack) -> None:
    """freeze-approvals on the tenant refuses approve with 409; after release it goes through."""
    draft = submit(stack).json()
    switch = engage(stack, mode="freeze-approvals", scope="tenant")
    refused = approve(stack, draft["id"])
    assert refused.status_code == 409, refused.text
    assert "freeze-approvals" in refused.json()["issue"][0]["diagnostics"]
    assert (
        stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician()).json()["state"]
        == "in_review"
    )
    release(stack, switch["switch"]["id"])
    assert approve(stack, draft["id"]).status_code == 202


def test_hold_write_back_queues_sends_nothing_and_release_sends_once(stack: Stack) -> None:
    """hold-write-back accepts the approval, sends nothing; release commits exactly one note."""
    switch = engage(stack, mode="hold-write-back", scope="prompt-template", value="soap-v3")
    assert switch["acknowledged"] is True
    draft = submit(stack).json()
    approved = approve(stack, draft["id"])
    assert approved.status_code == 202, approved.text
    writeback_id = approved.json()["writeback"]["id"]
    assert stack.work() == 0  # nothing due for a worker: the queue keeps it
    assert documents(stack, writeback_id) == []
    held = stack.api.get("/v1/writebacks?state=held", headers=as_admin(stack)).json()
    assert [w["id"] for w in held["writebacks"]] == [writeback_id]
    assert held["writebacks"][0]["state"] == "queued"
    release(stack, switch["switch"]["id"])
    stack.work()
    stack.work()  # a second pass finds nothing more to send
    assert len(documents(stack, writeback_id)) == 1
    status = stack.api.get(f"/v1/writebacks/{writeback_id}", headers=stack.as_clinician())
    assert status.json()["state"] == "committed"


def test_hold_on_an_ehr_vendor_holds_only_that_ehr(stack: Stack) -> None:
    """An EHR switch holds write-backs of tenants on that vendor and not on another one."""
    other = engage(stack, mode="hold-write-back", scope="ehr", value="epic")
    draft = submit(stack).json()
    writeback_id = approve(stack, draft["id"]).json()["writeback"]["id"]
    mine = engage(stack, mode="hold-write-back", scope="ehr", value="sandbox")
    assert stack.work() == 0
    assert documents(stack, writeback_id) == []
    release(stack, mine["switch"]["id"])
    assert stack.work() >= 1
    assert len(documents(stack, writeback_id)) == 1
    release(stack, other["switch"]["id"])


def test_each_change_is_a_ledger_event_with_who_and_why(stack: Stack) -> None:
    """Engage and release are ledger events naming the admin, the scope and both reasons."""
    switch = engage(stack, mode="freeze-approvals", scope="note-type", value="11506-3")
    release(stack, switch["switch"]["id"])
    events = stack.app.audit_chain(stack.tenant, switch["switch"]["id"])
    assert [e["type"] for e in events] == ["killswitch.engaged", "killswitch.released"]
    assert {e["actor"] for e in events} == {"admin:admin-test"}
    assert events[0]["data"]["scope"] == "note-type"
    assert events[0]["data"]["value"] == "11506-3"
    assert events[0]["data"]["switch_reason"] == "synthetic incident drill"
    assert events[1]["data"]["reason"] == "fixed model deployed"


def test_engaging_the_same_switch_twice_changes_nothing(stack: Stack) -> None:
    """A second identical engage answers 200 with the first switch and records no event."""
    first = engage(stack, mode="stop-drafting", scope="tenant")
    again = engage(stack, mode="stop-drafting", scope="tenant", reason="someone else too")
    assert again["created"] is False
    assert again["switch"]["id"] == first["switch"]["id"]
    assert ledger_types(stack, first["switch"]["id"]) == ["killswitch.engaged"]


def test_only_an_admin_sets_switches_and_never_a_global_one(stack: Stack) -> None:
    """A clinician gets 403; an admin asking for a global switch gets 403; bad input is 422."""
    body = {"mode": "stop-drafting", "scope": "tenant", "reason": "drill"}
    clinician = stack.api.post("/v1/admin/killswitches", json=body, headers=stack.as_clinician())
    assert clinician.status_code == 403
    global_ = stack.api.post(
        "/v1/admin/killswitches", json={**body, "scope": "global"}, headers=as_admin(stack)
    )
    assert global_.status_code == 403
    assert "operator" in global_.json()["issue"][0]["diagnostics"]
    no_value = stack.api.post(
        "/v1/admin/killswitches", json={**body, "scope": "model-version"}, headers=as_admin(stack)
    )
    assert no_value.status_code == 422
    assert no_value.json()["resourceType"] == "OperationOutcome"
    unknown = stack.api.post(
        "/v1/admin/killswitches/no-such-switch/release",
        json={"reason": "x"},
        headers=as_admin(stack),
    )
    assert unknown.status_code == 404


def test_a_global_switch_from_the_operator_shows_in_the_admin_status(stack: Stack) -> None:
    """The operator's global switch covers the tenant and is listed for its admin."""
    spec = SwitchSpec.parse(
        tenant=ALL_TENANTS, scope="global", value=None, mode="stop-drafting", reason="drill"
    )
    engaged = stack.app.killswitches.engage(spec, actor="operator:test")
    assert submit(stack).status_code == 409
    status = stack.api.get("/v1/admin/killswitches", headers=as_admin(stack)).json()
    assert [s["id"] for s in status["engaged"]] == [engaged.switch.id]
    assert status["engaged"][0]["tenant"] == ALL_TENANTS
    # An admin cannot release the operator's switch.
    answer = stack.api.post(
        f"/v1/admin/killswitches/{engaged.switch.id}/release",
        json={"reason": "not mine"},
        headers=as_admin(stack),
    )
    assert answer.status_code == 404


def test_an_attempt_under_way_sends_nothing_once_the_switch_is_on(stack: Stack) -> None:
    """A worker that claimed before the switch asks before its request and sends nothing."""
    draft = submit(stack).json()
    writeback_id = approve(stack, draft["id"]).json()["writeback"]["id"]
    spec = SwitchSpec.parse(
        tenant=stack.tenant, scope="tenant", value=None, mode="hold-write-back", reason="drill"
    )

    def engage_after_claim(point: str) -> None:
        if point == "after_claim":
            # drain=False: this very worker is the attempt in flight.
            stack.app.killswitches.engage(spec, actor="operator:test", drain=False)

    executor = WritebackExecutor(
        uow=stack.app.uow,
        ehr=stack.app.ehr,
        clock=stack.app.clock,
        owner="claimed-before-the-switch",
        held=stack.app.killswitches.held,
        crash=engage_after_claim,
    )
    assert executor.run_once() == 1
    assert documents(stack, writeback_id) == []
    chain = stack.app.audit_chain(stack.tenant, draft["correlation_id"])
    assert "ehr.request" not in [e["type"] for e in chain]
    record = stack.app.resolutions.writeback(
        stack.app.authenticate(stack.clinician_token()), writeback_id
    )
    assert record.state.value == "queued"
    assert (record.last_reason or "").startswith("held: kill switch")
