"""Exactly-once write-back into the Medplum test EHR: lost answers, replays and races.

Every test looks at three things: what the EHR really holds (searched by the write-back's
business identifier), what ``GET /v1/writebacks/{id}`` says, and the audit chain.
Synthetic data only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from builders import submission
from chartgate.adapters.storage import tables as t
from stack import Stack, running_stack

WRITEBACK_SYSTEM = "urn:chartgate:writeback"
RACERS = 6


# -- helpers ----------------------------------------------------------------------------------


def submit(stack: Stack) -> dict[str, Any]:
    """A scribe submits the synthetic note; return the draft."""
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft: dict[str, Any] = created.json()
    return draft


def approve(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    """Submit and approve version 1; return (draft, write-back)."""
    draft = submit(stack)
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    return draft, approved.json()["writeback"]


def status(stack: Stack, writeback_id: str) -> dict[str, Any]:
    """What the API says about one write-back."""
    answer = stack.api.get(f"/v1/writebacks/{writeback_id}", headers=stack.as_clinician())
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def in_ehr(stack: Stack, resource_type: str, writeback_id: str) -> list[dict[str, Any]]:
    """The resources the EHR holds for one write-back (by identifier or, Provenance, tag)."""
    param = "identifier" if resource_type == "DocumentReference" else "_tag"
    with stack.ehr() as ehr:
        bundle = ehr.get(f"/{resource_type}", params={param: f"{WRITEBACK_SYSTEM}|{writeback_id}"})
    assert bundle.status_code == 200, bundle.text
    return [entry["resource"] for entry in bundle.json().get("entry", [])]


def chain(stack: Stack, correlation_id: str) -> list[dict[str, Any]]:
    """The audit events of one correlation id, in ledger order."""
    return stack.app.audit_chain(stack.tenant, correlation_id)


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def document_posts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audited requests that created a DocumentReference."""
    return [
        e
        for e in events
        if e["type"] == "ehr.request"
        and e["data"]["method"] in ("POST", "PUT")  # PUT: a create with a client-assigned id
        and e["data"]["resource_type"] == "DocumentReference"
    ]


def set_row(stack: Stack, writeback_id: str, **values: Any) -> None:
    """Change the outbox row directly (what a crash, a replay or an operator could leave)."""
    with stack.app.engine.begin() as conn:
        conn.execute(
            update(t.writebacks)
            .where(t.writebacks.c.tenant == stack.tenant, t.writebacks.c.id == writeback_id)
            .values(**values)
        )


def make_due(stack: Stack, writeback_id: str) -> None:
    """Move the write-back's next attempt into the past instead of sleeping through backoff."""
    set_row(stack, writeback_id, next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))


def rows(stack: Stack, table: Any, draft_id: str) -> int:
    with stack.app.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.tenant == stack.tenant, table.c.draft_id == draft_id)
            ).scalar_one()
        )


@pytest.fixture
def pg_medplum_stack(
    postgres_url: str, medplum_fresh_base_url: str, tmp_path: Path
) -> Iterator[Stack]:
    """Chartgate on PostgreSQL only, writing to the Medplum test EHR."""
    with running_stack(postgres_url, tmp_path, ehr_base=medplum_fresh_base_url) as stack:
        yield stack


# -- 1. the answer is lost after the EHR committed ------------------------------------------


@pytest.mark.medplum
def test_answer_dropped_after_commit_is_reconciled_to_exactly_one_document(
    medplum_stack: Stack, medplum_faults: Callable[..., dict[str, Any]]
) -> None:
    """A create the EHR committed but never answered goes ambiguous, then reconciles to one doc."""
    stack = medplum_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    medplum_faults(drop_after_commit=1)
    executor = stack.app.executor(owner="worker-1")

    assert executor.process(stack.tenant, wb_id)
    first = status(stack, wb_id)
    assert first["state"] == "ambiguous", first
    assert first["ehr_resource"] is None
    landed = in_ehr(stack, "DocumentReference", wb_id)
    assert len(landed) == 1  # the EHR did commit it

    make_due(stack, wb_id)
    assert executor.process(stack.tenant, wb_id)
    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert final["ehr_resource"] == f"DocumentReference/{landed[0]['id']}"
    assert len(in_ehr(stack, "DocumentReference", wb_id)) == 1
    provenance = in_ehr(stack, "Provenance", wb_id)
    assert [f"Provenance/{p['id']}" for p in provenance] == [final["provenance"]]

    events = chain(stack, draft["correlation_id"])
    kinds = types_of(events)
    assert kinds.index("writeback.ambiguous") < kinds.index("writeback.reconciled")
    assert kinds.index("writeback.reconciled") < kinds.index("writeback.committed")
    reconciled = next(e for e in events if e["type"] == "writeback.reconciled")
    assert reconciled["data"]["chart"] == "mine"
    assert len(document_posts(events)) == 1  # found by search: never re-sent
    assert kinds.count("writeback.committed") == 1


# -- 2. the same approval replayed from the outbox ------------------------------------------


@pytest.mark.medplum
def test_same_approval_replayed_from_the_outbox_yields_one_document(
    medplum_stack: Stack,
) -> None:
    """Replaying a committed approval from the outbox returns the existing doc, never a second."""
    stack = medplum_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    executor = stack.app.executor(owner="worker-1")
    assert executor.process(stack.tenant, wb_id)
    first = status(stack, wb_id)
    assert first["state"] == "committed", first
    assert not executor.process(stack.tenant, wb_id)  # a committed row cannot be claimed again

    # Replay: the outbox row is back to queued, as if its progress had been lost.
    set_row(
        stack,
        wb_id,
        state="queued",
        document_id=None,
        document_version=None,
        provenance_id=None,
        may_have_landed=False,
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    assert stack.work() == 1
    again = status(stack, wb_id)
    assert again["state"] == "committed", again
    assert again["ehr_resource"] == first["ehr_resource"]
    assert again["provenance"] == first["provenance"]
    assert len(in_ehr(stack, "DocumentReference", wb_id)) == 1
    assert len(in_ehr(stack, "Provenance", wb_id)) == 1

    events = chain(stack, draft["correlation_id"])
    posts = document_posts(events)
    assert len(posts) == 2  # sent twice, created once: the conditional create held
    answers = [
        e["data"]["status"]
        for e in events
        if e["type"] == "ehr.response" and e["data"]["resource_type"] == "DocumentReference"
    ]
    assert answers == [201, 200]
    assert types_of(events).count("writeback.committed") == 2


# -- 3. two workers racing on one outbox (PostgreSQL) ---------------------------------------


@pytest.mark.postgres
@pytest.mark.medplum
@pytest.mark.parametrize("entry", ["process", "run_once"])
def test_workers_racing_on_one_outbox_send_one_document(
    pg_medplum_stack: Stack, entry: str
) -> None:
    """Several workers claiming the same write-back at once: one wins, one doc, one Provenance."""
    stack = pg_medplum_stack
    draft, writeback = approve(stack)
    wb_id = writeback["id"]
    executors = [stack.app.executor(owner=f"racer-{i}") for i in range(RACERS)]
    stack.app.ehr.gateway(stack.tenant)  # built once, before the race
    barrier = threading.Barrier(RACERS)

    def race(index: int) -> int:
        barrier.wait(timeout=10)
        if entry == "process":
            return int(executors[index].process(stack.tenant, wb_id))
        return executors[index].run_once()

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        won = list(pool.map(race, range(RACERS)))

    assert sum(won) == 1, won
    final = status(stack, wb_id)
    assert final["state"] == "committed", final
    assert final["attempts"] == 1  # exactly one claim was taken
    assert len(in_ehr(stack, "DocumentReference", wb_id)) == 1
    assert len(in_ehr(stack, "Provenance", wb_id)) == 1

    events = chain(stack, draft["correlation_id"])
    winner = f"worker:racer-{won.index(1)}"
    worker_events = [e for e in events if e["actor"].startswith("worker:")]
    assert {e["actor"] for e in worker_events} == {winner}
    assert len(document_posts(events)) == 1
    assert types_of(events).count("writeback.committed") == 1


# -- 4. the same draft approved twice at once -----------------------------------------------


@pytest.mark.medplum
@pytest.mark.parametrize("same_key", [False, True], ids=["no-key", "same-idempotency-key"])
def test_concurrent_approvals_of_one_draft_queue_one_writeback(
    medplum_stack: Stack, same_key: bool
) -> None:
    """Two simultaneous approvals of one draft make one approval and one outbox row, not two."""
    stack = medplum_stack
    draft = submit(stack)
    headers = {**stack.as_clinician(), "If-Match": 'W/"1"'}
    if same_key:
        headers["Idempotency-Key"] = f"approve-{draft['id']}"
    barrier = threading.Barrier(2)

    def approve_once(_: int) -> httpx.Response:
        barrier.wait(timeout=10)
        with httpx.Client(base_url=str(stack.api.base_url), timeout=30) as client:
            return client.post(f"/v1/drafts/{draft['id']}/approve", headers=headers)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(approve_once, range(2)))

    codes = sorted(a.status_code for a in answers)
    if same_key and codes == [202, 202]:
        # The second arrived after the first finished: a replay of the same answer.
        assert any(a.headers.get("Idempotent-Replayed") == "true" for a in answers)
        assert answers[0].json() == answers[1].json()
    else:
        assert codes[0] == 202, [a.text for a in answers]
        assert codes[1] in {409, 412}, [a.text for a in answers]
        refused = next(a for a in answers if a.status_code != 202)
        assert refused.json()["resourceType"] == "OperationOutcome"
    winner = next(a for a in answers if a.status_code == 202).json()["writeback"]

    assert rows(stack, t.approvals, draft["id"]) == 1
    assert rows(stack, t.writebacks, draft["id"]) == 1
    view = stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician()).json()
    assert [w["id"] for w in view["writebacks"]] == [winner["id"]]
    assert view["state"] == "queued"

    assert stack.work() == 1
    assert status(stack, winner["id"])["state"] == "committed"
    with stack.ehr() as ehr:
        docs = ehr.get("/DocumentReference", params={"patient": draft["patient"]}).json()
    assert len(docs.get("entry", [])) == 1

    kinds = types_of(chain(stack, draft["correlation_id"]))
    assert kinds.count("draft.approved") == 1
    assert kinds.count("writeback.queued") == 1


# -- the due query of one tenant ----------------------------------------------------------------


@pytest.mark.medplum
def test_due_of_one_tenant_lists_only_that_tenants_write_backs(medplum_stack: Stack) -> None:
    """``due(tenant=...)`` lists that tenant's due rows and no other's (the history lanes)."""
    stack = medplum_stack
    _, writeback = approve(stack)
    later = datetime.now(UTC) + timedelta(hours=1)
    with stack.app.uow() as uow:
        assert (stack.tenant, writeback["id"]) in uow.writebacks.due(later)
        assert uow.writebacks.due(later, tenant=stack.tenant) == [(stack.tenant, writeback["id"])]
        assert uow.writebacks.due(later, tenant=f"{stack.tenant}-other") == []
