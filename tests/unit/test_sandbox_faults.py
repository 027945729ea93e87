"""The sandbox's fault plan and its injection into FHIR requests, in-process."""

from __future__ import annotations

import threading
import time

import anyio
import httpx
import pytest

from chartgate.sandbox.faults import (
    FaultKind,
    FaultPlan,
    FaultSpecError,
    SandboxConnectionDropped,
    SlowAnswer,
    StatusStorm,
)
from chartgate.sandbox.fhir import create_fhir_app

pytestmark = pytest.mark.anyio

NOTE = {
    "resourceType": "DocumentReference",
    "status": "current",
    "identifier": [{"system": "urn:chartgate:writeback", "value": "wb-drop"}],
    "subject": {"reference": "Patient/pat-001"},
    "content": [{"attachment": {"contentType": "text/plain", "data": "aGk="}}],
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def plan():
    return FaultPlan()


@pytest.fixture
async def client(tmp_path, plan):
    app = create_fhir_app(str(tmp_path / "ehr.sqlite3"), faults=plan)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client


async def documents(client, value: str = "wb-drop") -> int:
    params = {"identifier": f"urn:chartgate:writeback|{value}"}
    return (await client.get("/fhir/R4/DocumentReference", params=params)).json()["total"]


async def test_status_storm_answers_503_with_retry_after_then_recovers(client, plan):
    """A 503 storm of two answers the next two requests 503 with Retry-After, then passes."""
    plan.configure(status_storm=StatusStorm(count=2, status=503, retry_after=3))
    statuses = [await client.get("/fhir/R4/Patient/pat-001") for _ in range(3)]
    assert [a.status_code for a in statuses] == [503, 503, 200]
    assert statuses[0].headers["retry-after"] == "3"
    assert statuses[0].json()["issue"][0]["code"] == "transient"


async def test_a_status_storm_on_one_type_lets_other_requests_through(client):
    """``resource_type``: the storm hits the note, not the Encounter read before it."""
    storm = {"count": 1, "status": 503, "resource_type": "DocumentReference"}
    await client.post("/__sandbox/faults", json={"status_storm": storm})
    assert (await client.get("/fhir/R4/Encounter/enc-001")).status_code == 200
    assert (await client.post("/fhir/R4/DocumentReference", json=NOTE)).status_code == 503
    assert (await client.post("/fhir/R4/DocumentReference", json=NOTE)).status_code == 201


async def test_status_storm_can_throttle_with_429(client):
    """A storm posted as JSON with status 429 answers 429 with code throttled."""
    await client.post("/__sandbox/faults", json={"status_storm": {"count": 1, "status": 429}})
    answer = await client.post("/fhir/R4/DocumentReference", json=NOTE)
    assert answer.status_code == 429
    assert answer.json()["issue"][0]["code"] == "throttled"
    assert await documents(client) == 0


async def test_token_expiry_answers_401_and_processes_nothing(client, plan):
    """token_expiry answers 401 with a Bearer challenge and the write does not happen."""
    plan.configure(token_expiry=1)
    answer = await client.post("/fhir/R4/DocumentReference", json=NOTE)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert await documents(client) == 0


async def test_token_expiry_is_checked_before_a_status_storm(client, plan):
    """At most one counted fault hits a request, token expiry first."""
    plan.configure(token_expiry=1, status_storm=StatusStorm(count=1))
    first = (await client.get("/fhir/R4/Patient/pat-001")).status_code
    second = (await client.get("/fhir/R4/Patient/pat-001")).status_code
    assert (first, second) == (401, 503)


async def test_latency_delays_every_fhir_request(client, plan):
    """latency_ms delays each FHIR request by at least that long."""
    plan.configure(latency_ms=150)
    started = time.monotonic()
    await client.get("/fhir/R4/Patient/pat-001")
    await client.get("/fhir/R4/Patient/pat-002")
    assert time.monotonic() - started >= 0.3


async def test_commit_then_drop_commits_and_gives_no_answer_in_process(client, plan):
    """In-process, commit_then_drop raises SandboxConnectionDropped after the write landed."""
    plan.configure(commit_then_drop=1)
    with pytest.raises(SandboxConnectionDropped):
        await client.post("/fhir/R4/DocumentReference", json=NOTE)
    assert await documents(client) == 1
    assert plan.injected(FaultKind.COMMIT_THEN_DROP) == 1
    assert (await client.post("/fhir/R4/DocumentReference", json=NOTE)).status_code == 201


async def test_commit_then_drop_leaves_reads_alone(client, plan):
    """commit_then_drop only counts mutating requests; reads pass untouched."""
    plan.configure(commit_then_drop=1)
    assert (await client.get("/fhir/R4/Patient/pat-001")).status_code == 200
    assert plan.to_json()["commit_then_drop"] == {"count": 1}


async def test_timeout_answers_late_after_committing(client, plan):
    """A timeout fault holds the answer for its seconds; the write is already stored."""
    plan.configure(timeout=SlowAnswer(count=1, seconds=0.3))
    started = time.monotonic()
    answer = await client.post("/fhir/R4/DocumentReference", json=NOTE)
    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 201
    assert await documents(client) == 1


async def test_timeout_before_commit_still_stores_the_write(client, plan):
    """With before_commit the delay comes first, yet the write lands after it."""
    plan.configure(timeout=SlowAnswer(count=1, seconds=0.2, before_commit=True))
    answer = await client.post("/fhir/R4/DocumentReference", json=NOTE)
    assert answer.status_code == 201
    assert await documents(client) == 1


async def test_release_held_lets_a_held_write_land_at_once(client, plan):
    """A before_commit hold of ten minutes ends when the plan releases it; then the write lands."""
    plan.configure(timeout=SlowAnswer(count=1, seconds=600, before_commit=True))
    results: list[httpx.Response] = []

    async def post() -> None:
        results.append(await client.post("/fhir/R4/DocumentReference", json=NOTE))

    with anyio.fail_after(30):  # the hold is 600 s: only the release ends it in time
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(post)
            while plan.injected(FaultKind.TIMEOUT) == 0:  # noqa: ASYNC110 - a counter, no event
                await anyio.sleep(0.01)
            await anyio.sleep(0.1)
            assert await documents(client) == 0  # still held: nothing stored yet
            assert not results
            plan.release_held()
    assert results[0].status_code == 201
    assert await documents(client) == 1


async def test_control_endpoints_are_never_faulted(client, plan):
    """/__sandbox requests pass through a storm without using it up."""
    plan.configure(status_storm=StatusStorm(count=1), token_expiry=1)
    assert (await client.get("/__sandbox/faults")).status_code == 200
    assert (await client.get("/__sandbox/faults")).json()["token_expiry"] == {"count": 1}


async def test_posting_a_plan_replaces_the_whole_plan(client, plan):
    """POST /__sandbox/faults replaces every fault; absent keys are switched off."""
    plan.configure(token_expiry=5, latency_ms=10)
    shown = (await client.post("/__sandbox/faults", json={"commit_then_drop": 2})).json()
    assert shown["token_expiry"] == {"count": 0}
    assert shown["latency_ms"] == 0
    assert shown["commit_then_drop"] == {"count": 2}


async def test_get_faults_round_trips_through_post(client):
    """What GET /__sandbox/faults shows can be posted back unchanged."""
    await client.post(
        "/__sandbox/faults",
        json={
            "latency_ms": 5,
            "status_storm": {"count": 3, "status": 503, "retry_after": 1},
            "timeout": {"count": 1, "seconds": 2.5, "before_commit": True},
            "commit_then_drop": {"count": 1},
            "token_expiry": 2,
        },
    )
    shown = (await client.get("/__sandbox/faults")).json()
    again = (await client.post("/__sandbox/faults", json=shown)).json()
    assert again == shown
    assert shown["timeout"] == {"count": 1, "seconds": 2.5, "before_commit": True}


@pytest.mark.parametrize(
    "body",
    [
        {"explode": 1},
        {"status_storm": {"count": 1, "status": 200}},
        {"status_storm": {"count": -1}},
        {"timeout": {"count": 1, "minutes": 3}},
        {"commit_then_drop": "yes"},
        {"latency_ms": -5},
        [],
    ],
)
async def test_a_bad_fault_plan_is_refused_with_400(client, body):
    """A fault plan outside the contract answers 400 with an OperationOutcome."""
    answer = await client.post("/__sandbox/faults", json=body)
    assert answer.status_code == 400
    assert answer.json()["resourceType"] == "OperationOutcome"


async def test_reset_clears_the_fault_plan(client, plan):
    """POST /__sandbox/reset switches every fault off."""
    plan.configure(token_expiry=3)
    await client.post("/__sandbox/reset")
    assert (await client.get("/fhir/R4/Patient/pat-001")).status_code == 200


def test_counts_are_used_up_exactly_once_across_threads():
    """Concurrent requests never take more faults than the plan holds."""
    plan = FaultPlan(commit_then_drop=50)
    taken: list[object] = []

    def worker() -> None:
        taken.extend(plan.next_fault(mutating=True) for _ in range(20))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fault is not None for fault in taken) == 50
    assert plan.injected(FaultKind.COMMIT_THEN_DROP) == 50


def test_load_json_refuses_a_non_object():
    """A fault plan must be a JSON object."""
    with pytest.raises(FaultSpecError):
        FaultPlan().load_json(["token_expiry"])
