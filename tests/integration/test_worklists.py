"""Worklists over the real API on SQLite and PostgreSQL: who sees what, states, pages.

One chartgate per store serves the module (``tenant_stacks``); each test acts for a tenant of
its own, so a worklist lists that test's drafts and write-backs only.

``GET /v1/drafts`` shows a clinician the drafts of encounters it may open and nothing else;
``GET /v1/writebacks`` shows the tenant's admin ids and states only. Synthetic data only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from builders import submission
from chartgate.adapters.storage import tables as t
from chartgate.domain.errors import InputError
from stack import Stack, TenantStacks

OTHER_ENCOUNTER = "Encounter/enc-002"


@pytest.fixture
def stack(shared_stacks: TenantStacks) -> Stack:
    """The module's chartgate acting for a tenant of the test's own: its worklists are its own."""
    return shared_stacks.next()


def as_admin(stack: Stack) -> dict[str, str]:
    """Authorization header of the tenant's admin."""
    token = stack.sandbox.idp.mint(
        subject="admin-test", scopes=["openid", "chartgate/admin"], tenant=stack.tenant
    )
    return {"Authorization": f"Bearer {token}"}


def submit(stack: Stack, **overrides: Any) -> str:
    """A scribe submits a note; its draft id."""
    answer = stack.api.post("/v1/drafts", json=submission(**overrides), headers=stack.as_scribe())
    assert answer.status_code == 201, answer.text
    draft_id: str = answer.json()["id"]
    return draft_id


def listed(stack: Stack, query: str = "", **token: Any) -> dict[str, Any]:
    """The clinician's draft worklist."""
    answer = stack.api.get(f"/v1/drafts{query}", headers=stack.as_clinician(**token))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_clinician_lists_only_drafts_of_its_encounter(stack: Stack) -> None:
    """The launch encounter's drafts are listed; another encounter's are not, even by name."""
    mine = {submit(stack), submit(stack)}
    theirs = submit(stack, encounter=OTHER_ENCOUNTER)
    assert {d["id"] for d in listed(stack)["drafts"]} == mine
    assert [d["id"] for d in listed(stack, encounter="enc-002")["drafts"]] == [theirs]
    assert listed(stack, f"?encounter={OTHER_ENCOUNTER}")["drafts"] == []
    assert all(d["state"] == "in_review" for d in listed(stack)["drafts"])


def test_state_filter_and_default_awaiting_review(stack: Stack) -> None:
    """By default drafts awaiting review; state=queued shows the approved one instead."""
    waiting = submit(stack)
    approved = submit(stack)
    answer = stack.api.post(
        f"/v1/drafts/{approved}/approve", headers={**stack.as_clinician(), "If-Match": 'W/"1"'}
    )
    assert answer.status_code == 202, answer.text
    assert [d["id"] for d in listed(stack)["drafts"]] == [waiting]
    assert [d["id"] for d in listed(stack, "?state=queued")["drafts"]] == [approved]
    assert {d["id"] for d in listed(stack, "?state=queued,in_review")["drafts"]} == {
        waiting,
        approved,
    }
    bad = stack.api.get("/v1/drafts?state=lost", headers=stack.as_clinician())
    assert bad.status_code == 422
    assert bad.json()["resourceType"] == "OperationOutcome"


def test_pages_cover_every_draft_once(stack: Stack) -> None:
    """limit=2 over five drafts gives pages of 2, 2 and 1, each draft exactly once."""
    ids = [submit(stack) for _ in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = listed(stack, query)
        seen += [d["id"] for d in page["drafts"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    forged = stack.api.get("/v1/drafts?cursor=not-a-cursor", headers=stack.as_clinician())
    assert forged.status_code == 422


def test_only_clinicians_list_drafts_and_the_read_is_recorded(stack: Stack) -> None:
    """A scribe gets 403; a clinician's listing is a worklist.read ledger event."""
    submit(stack)
    assert stack.api.get("/v1/drafts", headers=stack.as_scribe()).status_code == 403
    listed(stack)
    with stack.app.engine.connect() as conn:
        found = conn.execute(
            select(t.audit_events.c.event).where(
                t.audit_events.c.type == "worklist.read", t.audit_events.c.tenant == stack.tenant
            )
        ).all()
    assert [row.event["data"]["count"] for row in found] == [1]


def test_the_writeback_worklist_is_admin_only_ids_and_states(stack: Stack) -> None:
    """Admins see stuck write-backs (conflict, escalated) with ids and states, no PHI."""
    ids = []
    for _ in range(3):
        draft_id = submit(stack)
        answer = stack.api.post(
            f"/v1/drafts/{draft_id}/approve",
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
        ids.append(answer.json()["writeback"]["id"])
    with stack.app.engine.begin() as conn:
        wb = t.writebacks.c
        conn.execute(update(t.writebacks).where(wb.id == ids[0]).values(state="conflict"))
        conn.execute(
            update(t.writebacks).where(wb.id == ids[1]).values(escalated_at=datetime.now(UTC))
        )
    assert stack.api.get("/v1/writebacks", headers=stack.as_clinician()).status_code == 403
    answer = stack.api.get("/v1/writebacks", headers=as_admin(stack))
    assert answer.status_code == 200, answer.text
    items = answer.json()["writebacks"]
    assert [w["id"] for w in items] == ids[:2]
    assert items[0]["state"] == "conflict"
    assert items[1]["escalated"] is True
    assert set(items[0]) == {
        "id", "draft_id", "kind", "state", "attempts", "escalated", "held", "last_status",
        "created_at", "updated_at",
    }  # fmt: skip
    text = answer.text
    assert "Patient/" not in text
    assert "Encounter/" not in text
    only = stack.api.get("/v1/writebacks?state=escalated", headers=as_admin(stack)).json()
    assert [w["id"] for w in only["writebacks"]] == [ids[1]]
    queued = stack.api.get("/v1/writebacks?state=queued&limit=1", headers=as_admin(stack)).json()
    assert len(queued["writebacks"]) == 1
    assert queued["next_cursor"] is not None
    alias = stack.api.get("/v1/writebacks?state=needs-person", headers=as_admin(stack))
    assert alias.status_code == 200
    assert alias.json()["writebacks"] == []


def test_a_clinician_sees_their_own_writebacks_that_need_a_person(stack: Stack) -> None:
    """The clinician's own write-backs that wait for a person are listed, no one else's.

    Follow-up failed (partial) and needs-a-person write-backs of the clinician's encounter come
    with their write-back state; another encounter's are not listed (issue 16).
    """
    from chartgate.domain.principal import Principal, Role  # noqa: PLC0415

    ids = {}
    for name, encounter in (("partial", None), ("needs_person", None), ("other", OTHER_ENCOUNTER)):
        other = {"patient": "Patient/pat-002", "encounter": encounter} if encounter else {}
        draft_id = submit(stack, **other)
        token = {"patient": "pat-002", "encounter": "enc-002"} if encounter else {}
        answer = stack.api.post(
            f"/v1/drafts/{draft_id}/approve",
            headers={**stack.as_clinician(**token), "If-Match": 'W/"1"'},
        )
        assert answer.status_code == 202, answer.text
        ids[name] = (draft_id, answer.json()["writeback"]["id"])
    with stack.app.engine.begin() as conn:
        wb = t.writebacks.c
        for name, state in (("partial", "partial"), ("needs_person", "needs_person")):
            conn.execute(update(t.writebacks).where(wb.id == ids[name][1]).values(state=state))
        conn.execute(update(t.writebacks).where(wb.id == ids["other"][1]).values(state="partial"))
    clinician = Principal(
        tenant=stack.tenant,
        subject="clinician-test",
        role=Role.CLINICIAN,
        fhir_user="Practitioner/prac-001",
        launch_patient="Patient/pat-001",
        launch_encounter="Encounter/enc-001",
    )
    lists = stack.app.worklists
    found = lists.drafts(
        clinician,
        state="conflict,ambiguous,rejected",
        encounter=None,
        cursor=None,
        limit=50,
        writebacks="partial,needs_person",
    )
    assert {(i.id, i.writeback_state) for i in found.items} == {
        (ids["partial"][0], "partial"),
        (ids["needs_person"][0], "needs_person"),
    }
    # Without asking for write-backs the draft states alone do not reveal them.
    plain = lists.drafts(
        clinician, state="conflict,ambiguous,rejected", encounter=None, cursor=None, limit=50
    )
    assert plain.items == []
    with pytest.raises(InputError):
        lists.drafts(
            clinician, state=None, encounter=None, cursor=None, limit=50, writebacks="conflict"
        )
