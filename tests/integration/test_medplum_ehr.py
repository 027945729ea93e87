# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The Medplum test EHR honours the FHIR R4 REST contract chartgate relies on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


pytestmark = pytest.mark.medplum

FHIR_JSON = "application/fhir+json"
MRN = "urn:oid:2.16.840.1.113883.3.9999.1"  # synthetic identifier system


@pytest.fixture
def fhir(medplum_fresh_base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=medplum_fresh_base_url,
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        timeout=10,
    ) as client:
        yield client


def patient(mrn: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN, "value": mrn}],
        "name": [{"family": "Testperson", "given": ["Synthetic"]}],
    }


def by_identifier(client: httpx.Client, mrn: str) -> list[dict[str, Any]]:
    response = client.get("Patient", params={"identifier": f"{MRN}|{mrn}"})
    assert response.status_code == 200
    return [entry["resource"] for entry in response.json().get("entry", [])]


def etag_version(response: httpx.Response) -> str:
    etag = response.headers["ETag"]
    assert etag.startswith('W/"')
    assert etag.endswith('"')
    return etag[3:-1]


def test_create_returns_201_with_etag_and_location(fhir: httpx.Client) -> None:
    """A create answers 201 with a weak ETag, a versioned Location and the stored resource."""
    response = fhir.post("Patient", json=patient("MRN-1"))
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    body = response.json()
    vid = etag_version(response)
    assert body["meta"]["versionId"] == vid
    assert response.headers["Location"] == (f"{fhir.base_url}Patient/{body['id']}/_history/{vid}")
    assert fhir.get(f"Patient/{body['id']}").json()["identifier"][0]["value"] == "MRN-1"


def test_create_ignores_client_id_and_version(fhir: httpx.Client) -> None:
    """A plain create assigns its own id and versionId whatever the client sent."""
    sent = {**patient("MRN-ID"), "id": "client-chosen", "meta": {"versionId": "42"}}
    body = fhir.post("Patient", json=sent).json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] != "42"


def test_conditional_create_twice_keeps_one_resource(fhir: httpx.Client) -> None:
    """The second If-None-Exist create answers 200 with the first resource and creates nothing."""
    condition = {"If-None-Exist": f"identifier={MRN}|MRN-2"}
    first = fhir.post("Patient", json=patient("MRN-2"), headers=condition)
    second = fhir.post("Patient", json=patient("MRN-2"), headers=condition)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert len(by_identifier(fhir, "MRN-2")) == 1


def test_conditional_create_with_several_matches_is_412(fhir: httpx.Client) -> None:
    """If-None-Exist matching more than one resource answers 412 with an OperationOutcome."""
    fhir.post("Patient", json=patient("MRN-DUP")).raise_for_status()
    fhir.post("Patient", json=patient("MRN-DUP")).raise_for_status()
    response = fhir.post(
        "Patient", json=patient("MRN-DUP"), headers={"If-None-Exist": f"identifier={MRN}|MRN-DUP"}
    )
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    assert len(by_identifier(fhir, "MRN-DUP")) == 2


def test_update_with_stale_if_match_is_412(fhir: httpx.Client) -> None:
    """An update whose If-Match names an old version answers 412 and changes nothing."""
    created = fhir.post("Patient", json=patient("MRN-3"))
    resource = created.json()
    stale = created.headers["ETag"]
    updated = fhir.put(
        f"Patient/{resource['id']}", json={**resource, "active": True}, headers={"If-Match": stale}
    )
    assert updated.status_code == 200
    assert updated.headers["ETag"] != stale

    again = fhir.put(
        f"Patient/{resource['id']}", json={**resource, "active": False}, headers={"If-Match": stale}
    )
    assert again.status_code == 412
    assert again.json()["resourceType"] == "OperationOutcome"
    assert fhir.get(f"Patient/{resource['id']}").json()["active"] is True


def test_malformed_if_match_is_rejected(fhir: httpx.Client) -> None:
    """An If-Match the server cannot parse answers 400 rather than updating unguarded."""
    resource = fhir.post("Patient", json=patient("MRN-4")).json()
    response = fhir.put(f"Patient/{resource['id']}", json=resource, headers={"If-Match": 'W/""'})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_update_as_create_is_201(fhir: httpx.Client) -> None:
    """A PUT to an unknown id creates the resource and answers 201 with a Location."""
    response = fhir.put(
        "Patient/synthetic-put-1", json={**patient("MRN-5"), "id": "synthetic-put-1"}
    )
    assert response.status_code == 201
    assert "/Patient/synthetic-put-1/_history/" in response.headers["Location"]


def test_vread_and_history_newest_first(fhir: httpx.Client) -> None:
    """Every version stays readable by vread and history lists versions newest first, stably."""
    created = fhir.post("Patient", json=patient("MRN-6"))
    resource = created.json()
    v1 = etag_version(created)
    v2 = etag_version(fhir.put(f"Patient/{resource['id']}", json={**resource, "active": True}))

    old = fhir.get(f"Patient/{resource['id']}/_history/{v1}")
    assert old.status_code == 200
    assert "active" not in old.json()
    assert etag_version(old) == v1
    for _ in range(2):  # upstream MemoryRepository flipped the order on every read
        history = fhir.get(f"Patient/{resource['id']}/_history").json()
        assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == [v2, v1]


def test_search_by_identifier_subject_patient_encounter(fhir: httpx.Client) -> None:
    """Searches by identifier, subject, patient and encounter find exactly the matching ones."""
    pat = fhir.post("Patient", json=patient("MRN-7")).json()
    fhir.post("Patient", json=patient("MRN-OTHER")).raise_for_status()
    enc = fhir.post(
        "Encounter",
        json={
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": f"Patient/{pat['id']}"},
        },
    ).json()
    doc = fhir.post(
        "DocumentReference",
        json={
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": {"reference": f"Patient/{pat['id']}"},
            "context": {"encounter": [{"reference": f"Encounter/{enc['id']}"}]},
            "content": [{"attachment": {"contentType": "text/plain", "data": "U3ludGhldGlj"}}],
        },
    ).json()

    assert [p["id"] for p in by_identifier(fhir, "MRN-7")] == [pat["id"]]
    for params in (
        {"subject": f"Patient/{pat['id']}"},
        {"patient": f"Patient/{pat['id']}"},
        {"encounter": f"Encounter/{enc['id']}"},
    ):
        bundle = fhir.get("DocumentReference", params=params).json()
        assert bundle["type"] == "searchset"
        assert [e["resource"]["id"] for e in bundle["entry"]] == [doc["id"]], params
    assert (
        fhir.get("DocumentReference", params={"encounter": "Encounter/none"}).json()["total"] == 0
    )


def test_prefer_return_minimal(fhir: httpx.Client) -> None:
    """Prefer: return=minimal answers with headers and no body."""
    response = fhir.post("Patient", json=patient("MRN-8"), headers={"Prefer": "return=minimal"})
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["ETag"]
    assert response.headers["Location"]


def test_read_unknown_is_404_operation_outcome(fhir: httpx.Client) -> None:
    """Reading an unknown id answers 404 with an OperationOutcome body."""
    response = fhir.get("Patient/does-not-exist")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_validate_flags_invalid_resource(fhir: httpx.Client) -> None:
    """$validate answers 200 for a valid resource and 400 with error issues for an invalid one."""
    valid = fhir.post("Patient/$validate", json=patient("MRN-9"))
    assert valid.status_code == 200
    assert all(i["severity"] not in {"error", "fatal"} for i in valid.json()["issue"])

    invalid = fhir.post(
        "DocumentReference/$validate",
        json={"resourceType": "DocumentReference", "subject": {"reference": 7}, "bogus": True},
    )
    assert invalid.status_code == 400
    outcome = invalid.json()
    assert outcome["resourceType"] == "OperationOutcome"
    expressions = {e for i in outcome["issue"] if i["severity"] == "error" for e in i["expression"]}
    assert {"DocumentReference.status", "DocumentReference.content"} <= expressions
    assert "DocumentReference.bogus" in expressions
    assert fhir.get("DocumentReference").json()["total"] == 0  # $validate stores nothing


def test_failed_transaction_leaves_nothing(fhir: httpx.Client) -> None:
    """A transaction whose second entry fails rolls back its first entry."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("MRN-TX"), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {"resourceType": "Patient", "id": "missing"},
                "request": {"method": "PUT", "url": "Patient/missing", "ifMatch": 'W/"nope"'},
            },
        ],
    }
    response = fhir.post("", json=bundle)
    assert response.status_code >= 400
    assert by_identifier(fhir, "MRN-TX") == []


def test_drop_after_commit_commits_then_drops(
    fhir: httpx.Client, medplum_faults: Callable[..., dict[str, Any]]
) -> None:
    """With drop_after_commit the client sees a dropped connection yet the write is stored."""
    medplum_faults(drop_after_commit=1)
    with pytest.raises(httpx.RemoteProtocolError):
        fhir.post("Patient", json=patient("MRN-DROP"))
    assert len(by_identifier(fhir, "MRN-DROP")) == 1
    assert fhir.post("Patient", json=patient("MRN-AFTER")).status_code == 201  # fault used up


def test_fail_status_answers_without_acting(
    fhir: httpx.Client, medplum_faults: Callable[..., dict[str, Any]]
) -> None:
    """fail_status answers the next `count` requests with that status and Retry-After, no write."""
    medplum_faults(fail_status=503, count=2, retry_after=1)
    for _ in range(2):
        response = fhir.post("Patient", json=patient("MRN-503"))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json()["resourceType"] == "OperationOutcome"
    assert by_identifier(fhir, "MRN-503") == []


def test_unknown_fault_key_is_rejected(medplum_fresh_base_url: str) -> None:
    """POST /__faults refuses keys it does not know instead of silently ignoring them."""
    root = medplum_fresh_base_url.removesuffix("/fhir/R4")
    assert httpx.post(f"{root}/__faults", json={"drop_after_comit": 1}).status_code == 400
