"""The sandbox EHR's FHIR REST contract, in-process (generic-r4 profile)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from chartgate.sandbox.fhir import create_fhir_app
from chartgate.sandbox.vendors import GENERIC_R4

pytestmark = pytest.mark.anyio

WRITEBACK_SYSTEM = "urn:chartgate:writeback"
DOCS = "/fhir/R4/DocumentReference"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def asgi_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def note(writeback_id: str = "wb-1", text_type: str = "text/plain") -> dict[str, object]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "preliminary",
        "identifier": [{"system": WRITEBACK_SYSTEM, "value": writeback_id}],
        "subject": {"reference": "Patient/pat-001"},
        "context": {"encounter": [{"reference": "Encounter/enc-001"}]},
        "content": [{"attachment": {"contentType": text_type, "data": "U3ludGhldGljIG5vdGU="}}],
    }


@pytest.fixture
async def client(tmp_path):
    async with asgi_client(create_fhir_app(str(tmp_path / "ehr.sqlite3"))) as test_client:
        yield test_client


async def ids(client, path: str, **params: str) -> list[str]:
    bundle = (await client.get(path, params=params)).json()
    assert bundle["total"] == len(bundle["entry"])
    return [entry["resource"]["id"] for entry in bundle["entry"]]


async def test_seeded_patients_and_encounters_are_readable(client):
    """The synthetic patients and encounters exist at version 1 from the start."""
    for path in ("Patient/pat-001", "Patient/pat-002", "Encounter/enc-001", "Encounter/enc-002"):
        answer = await client.get(f"/fhir/R4/{path}")
        assert answer.status_code == 200
        assert answer.headers["etag"] == 'W/"1"'
        assert answer.json()["meta"]["versionId"] == "1"


async def test_elements_search_answers_only_the_named_elements_marked_subsetted(client):
    """``_id`` + ``_elements``: the minimum-necessary read of a Patient (search.html#elements)."""
    bundle = (
        await client.get(
            "/fhir/R4/Patient", params={"_id": "pat-001", "_elements": "name,birthDate"}
        )
    ).json()
    (patient,) = [entry["resource"] for entry in bundle["entry"]]
    assert set(patient) == {"resourceType", "id", "meta", "name", "birthDate"}
    assert {"gender", "identifier", "managingOrganization"}.isdisjoint(patient)
    assert any(tag["code"] == "SUBSETTED" for tag in patient["meta"]["tag"])


async def test_create_answers_201_with_location_etag_and_last_modified(client):
    """A create gets a server id, version 1 and the R4 headers that name that version."""
    answer = await client.post(DOCS, json={**note(), "id": "client-chosen"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert answer.headers["etag"] == 'W/"1"'
    assert answer.headers["location"] == (
        f"http://testserver/fhir/R4/DocumentReference/{body['id']}/_history/1"
    )
    assert answer.headers["last-modified"].endswith("GMT")
    assert answer.headers["content-type"].startswith("application/fhir+json")


async def test_create_keeps_client_meta_security_labels(client):
    """Server-set meta fields do not erase the client's security labels."""
    label = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST"}
    answer = await client.post(DOCS, json={**note(), "meta": {"security": [label]}})
    assert answer.json()["meta"]["security"] == [label]


async def test_conditional_create_with_no_match_creates(client):
    """If-None-Exist that matches nothing creates the resource (201)."""
    answer = await client.post(
        DOCS,
        json=note("wb-new"),
        headers={"If-None-Exist": f"identifier={WRITEBACK_SYSTEM}|wb-new"},
    )
    assert answer.status_code == 201


async def test_conditional_create_with_one_match_returns_the_existing_resource(client):
    """If-None-Exist that matches one resource answers 200 with it and creates nothing."""
    condition = {"If-None-Exist": f"identifier={WRITEBACK_SYSTEM}|wb-1"}
    first = await client.post(DOCS, json=note(), headers=condition)
    again = await client.post(DOCS, json=note(), headers=condition)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert await ids(client, DOCS, identifier="wb-1") == [first.json()["id"]]


async def test_conditional_create_with_several_matches_is_refused_with_412(client):
    """If-None-Exist that matches more than one resource answers 412 and creates nothing."""
    await client.post(DOCS, json=note("dup"))
    await client.post(DOCS, json=note("dup"))
    answer = await client.post(
        DOCS, json=note("dup"), headers={"If-None-Exist": f"identifier={WRITEBACK_SYSTEM}|dup"}
    )
    assert answer.status_code == 412
    assert answer.json()["issue"][0]["code"] == "multiple-matches"
    assert len(await ids(client, DOCS, identifier="dup")) == 2


async def test_update_with_current_if_match_makes_a_new_version(client):
    """A PUT with the current version in If-Match stores version 2."""
    created = (await client.post(DOCS, json=note())).json()
    answer = await client.put(
        f"{DOCS}/{created['id']}",
        json={**created, "docStatus": "final"},
        headers={"If-Match": 'W/"1"'},
    )
    assert answer.status_code == 200
    assert answer.headers["etag"] == 'W/"2"'
    assert answer.json()["docStatus"] == "final"


async def test_update_with_stale_if_match_is_refused_with_412(client):
    """A PUT naming a version that is no longer current answers 412 and changes nothing."""
    created = (await client.post(DOCS, json=note())).json()
    url = f"{DOCS}/{created['id']}"
    await client.put(url, json=created, headers={"If-Match": 'W/"1"'})
    answer = await client.put(
        url, json={**created, "status": "entered-in-error"}, headers={"If-Match": 'W/"1"'}
    )
    assert answer.status_code == 412
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert (await client.get(url)).json()["status"] == "current"


async def test_update_without_if_match_is_refused_when_the_vendor_demands_it(tmp_path):
    """A vendor profile that requires If-Match answers 400 to an update without it."""
    strict = dataclasses.replace(GENERIC_R4, name="strict", require_if_match=True)
    async with asgi_client(create_fhir_app(str(tmp_path / "s.sqlite3"), vendor=strict)) as client:
        patient = (await client.get("/fhir/R4/Patient/pat-001")).json()
        answer = await client.put("/fhir/R4/Patient/pat-001", json=patient)
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["code"] == "required"


async def test_update_whose_body_id_differs_from_the_url_is_refused(client):
    """A PUT body must carry the id of the URL it is sent to."""
    patient = (await client.get("/fhir/R4/Patient/pat-001")).json()
    answer = await client.put("/fhir/R4/Patient/pat-002", json=patient)
    assert answer.status_code == 400


async def test_update_of_an_unknown_id_creates_it_on_generic_r4(client):
    """The generic profile supports update-as-create with a client-chosen id."""
    answer = await client.put(
        "/fhir/R4/Practitioner/prac-009", json={"resourceType": "Practitioner", "id": "prac-009"}
    )
    assert answer.status_code == 201
    assert answer.headers["etag"] == 'W/"1"'


async def test_search_by_identifier_system_and_value(client):
    """identifier=system|value finds exactly the resource carrying that identifier."""
    await client.post(DOCS, json=note("a"))
    wanted = (await client.post(DOCS, json=note("b"))).json()
    bundle = (await client.get(DOCS, params={"identifier": f"{WRITEBACK_SYSTEM}|b"})).json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    assert [e["resource"]["id"] for e in bundle["entry"]] == [wanted["id"]]


async def test_search_by_identifier_with_another_system_finds_nothing(client):
    """The system part of an identifier token must match too."""
    await client.post(DOCS, json=note("a"))
    assert await ids(client, DOCS, identifier="urn:other|a") == []


async def test_search_by_patient_encounter_and_id(client):
    """patient, subject, encounter and _id narrow a search the FHIR way (ANDed)."""
    created = (await client.post(DOCS, json=note())).json()
    for params in (
        {"patient": "pat-001"},
        {"subject": "Patient/pat-001"},
        {"encounter": "Encounter/enc-001", "patient": "Patient/pat-001"},
        {"_id": created["id"]},
    ):
        assert await ids(client, DOCS, **params) == [created["id"]], params
    assert await ids(client, DOCS, patient="pat-002") == []
    assert await ids(client, "/fhir/R4/Encounter", patient="pat-002") == ["enc-002"]


async def test_search_with_an_unknown_parameter_is_refused(client):
    """An unsupported search parameter answers 400 instead of matching everything."""
    answer = await client.get(DOCS, params={"identifer": "x"})
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["code"] == "not-supported"


async def test_vread_returns_the_named_version(client):
    """A vread returns old versions unchanged after later updates."""
    created = (await client.post(DOCS, json=note())).json()
    url = f"{DOCS}/{created['id']}"
    await client.put(url, json={**created, "docStatus": "final"}, headers={"If-Match": 'W/"1"'})
    first = await client.get(f"{url}/_history/1")
    second = await client.get(f"{url}/_history/2")
    missing = await client.get(f"{url}/_history/3")
    assert first.json()["docStatus"] == "preliminary"
    assert first.headers["etag"] == 'W/"1"'
    assert second.json()["docStatus"] == "final"
    assert missing.status_code == 404


async def test_history_lists_every_version_newest_first(client):
    """The instance history bundle holds each version, newest first."""
    created = (await client.post(DOCS, json=note())).json()
    url = f"{DOCS}/{created['id']}"
    await client.put(url, json=created, headers={"If-Match": 'W/"1"'})
    bundle = (await client.get(f"{url}/_history")).json()
    assert bundle["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in bundle["entry"]] == ["2", "1"]
    assert [e["request"]["method"] for e in bundle["entry"]] == ["PUT", "POST"]


async def test_read_with_the_current_etag_in_if_none_match_answers_304(client):
    """A conditional read naming the current version answers 304 Not Modified."""
    answer = await client.get("/fhir/R4/Patient/pat-001", headers={"If-None-Match": 'W/"1"'})
    assert answer.status_code == 304


async def test_prefer_return_minimal_gives_an_empty_body_with_headers(client):
    """Prefer: return=minimal answers without a body but with Location and ETag."""
    answer = await client.post(DOCS, json=note(), headers={"Prefer": "return=minimal"})
    assert answer.status_code == 201
    assert answer.content == b""
    assert answer.headers["etag"] == 'W/"1"'
    assert "/_history/1" in answer.headers["location"]


async def test_prefer_return_operation_outcome_gives_an_outcome(client):
    """Prefer: return=OperationOutcome answers with an informational OperationOutcome."""
    answer = await client.post(DOCS, json=note(), headers={"Prefer": "return=OperationOutcome"})
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert answer.json()["issue"][0]["severity"] == "information"


async def test_errors_are_operation_outcomes(client):
    """Unknown ids, unknown types, bad JSON and a wrong resourceType answer OperationOutcomes."""
    answers = [
        (await client.get("/fhir/R4/Patient/nobody"), 404),
        (await client.get("/fhir/R4/Spaceship/1"), 404),
        (await client.post(DOCS, content=b"{not json"), 400),
        (await client.post(DOCS, json={"resourceType": "Patient"}), 400),
        (await client.put(f"{DOCS}/x", json=note(), headers={"If-Match": "yesterday's"}), 400),
        (await client.delete("/fhir/R4/Patient/pat-001"), 405),
    ]
    for answer, status in answers:
        assert answer.status_code == status
        assert answer.json()["resourceType"] == "OperationOutcome"


async def test_reset_removes_written_resources_and_restores_the_seed(client):
    """POST /__sandbox/reset deletes everything written and puts the seed back at version 1."""
    await client.post(DOCS, json=note())
    patient = (await client.get("/fhir/R4/Patient/pat-001")).json()
    await client.put("/fhir/R4/Patient/pat-001", json=patient, headers={"If-Match": 'W/"1"'})
    assert (await client.post("/__sandbox/reset")).status_code == 200
    assert await ids(client, DOCS, patient="pat-001") == []
    assert (await client.get("/fhir/R4/Patient/pat-001")).headers["etag"] == 'W/"1"'


async def test_data_survives_a_restart_on_the_same_file(tmp_path):
    """A new app on the same SQLite file sees what the previous one wrote."""
    db = str(tmp_path / "ehr.sqlite3")
    async with asgi_client(create_fhir_app(db)) as first:
        created = (await first.post(DOCS, json=note())).json()
    async with asgi_client(create_fhir_app(db)) as second:
        assert (await second.get(f"{DOCS}/{created['id']}")).status_code == 200


async def test_metadata_advertises_conditional_create(client):
    """The CapabilityStatement says the generic profile supports conditional create."""
    statement = (await client.get("/fhir/R4/metadata")).json()
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["rest"][0]["resource"][0]["conditionalCreate"] is True
