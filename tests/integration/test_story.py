"""The whole story over real HTTP, on SQLite and PostgreSQL, into the Medplum test EHR."""

from __future__ import annotations

import base64

from builders import ENCOUNTER, PATIENT, edited_note, submission
from stack import Stack

OLD = "Return if symptoms worsen."
NEW = "Return if fever develops or symptoms last 10 days."


def approve_story(stack: Stack) -> tuple[dict, dict]:
    """Submit, edit one sentence, approve; return (draft after approve, write-back)."""
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft = created.json()
    saved = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edited_note(draft, OLD, NEW),
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert saved.status_code == 200, saved.text
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"2"'},
    )
    assert approved.status_code == 202, approved.text
    return approved.json()["draft"], approved.json()["writeback"]


def test_approved_note_lands_once_in_the_chart_with_provenance(medplum_stack: Stack) -> None:
    """An approved edit becomes exactly one DocumentReference plus a Provenance in the EHR."""
    draft, writeback = approve_story(medplum_stack)
    assert draft["state"] == "queued"
    medplum_stack.work()
    status = medplum_stack.api.get(
        f"/v1/writebacks/{writeback['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["state"] == "committed", status
    doc_id = status["ehr_resource"].split("/")[1]
    with medplum_stack.ehr() as ehr:
        doc = ehr.get(f"/DocumentReference/{doc_id}").json()
        found = ehr.get(
            "/DocumentReference",
            params={"identifier": f"urn:chartgate:writeback|{writeback['id']}"},
        ).json()
        prov_id = status["provenance"].split("/")[1]
        provenance = ehr.get(f"/Provenance/{prov_id}").json()
    assert len(found.get("entry", [])) == 1
    text = base64.b64decode(doc["content"][0]["attachment"]["data"]).decode()
    assert NEW in text
    assert OLD not in text
    assert doc["subject"]["reference"] == PATIENT
    assert doc["context"]["encounter"][0]["reference"] == ENCOUNTER
    assert doc["docStatus"] == "preliminary"
    assert doc["type"]["coding"][0]["code"] == "11506-3"
    assert provenance["target"][0]["reference"] == (
        f"DocumentReference/{doc_id}/_history/{status['ehr_version']}"
    )
    agent_types = [a["type"]["coding"][0]["code"] for a in provenance["agent"]]
    assert {"author", "verifier", "transmitter"} <= set(agent_types)
    assert provenance["reason"][0]["coding"][0]["code"] == "AIAST"
    assert provenance["policy"][0].startswith("urn:chartgate:policy:sha256:")


def test_audit_chain_joins_every_step_by_correlation_id(medplum_stack: Stack) -> None:
    """Every step from draft received to committed is in the audit trail under one id."""
    draft, _ = approve_story(medplum_stack)
    medplum_stack.work()
    chain = medplum_stack.app.audit_chain(medplum_stack.tenant, draft["correlation_id"])
    types = [event["type"] for event in chain]
    for expected in (
        "draft.received",
        "draft.version_saved",
        "draft.approved",
        "writeback.queued",
        "ehr.request",
        "ehr.response",
        "writeback.committed",
    ):
        assert expected in types
    assert [event["seq"] for event in chain] == sorted(event["seq"] for event in chain)
    assert types.index("draft.approved") < types.index("ehr.request")


def test_finalize_turns_the_chart_note_final_with_if_match(medplum_stack: Stack) -> None:
    """Finalize updates the committed note to docStatus final (If-Match) with its own Provenance."""
    draft, first = approve_story(medplum_stack)
    medplum_stack.work()
    finalized = medplum_stack.api.post(
        f"/v1/drafts/{draft['id']}/finalize", headers=medplum_stack.as_clinician()
    )
    assert finalized.status_code == 202, finalized.text
    second = finalized.json()["writeback"]
    medplum_stack.work()
    status = medplum_stack.api.get(
        f"/v1/writebacks/{second['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["state"] == "committed", status
    first_status = medplum_stack.api.get(
        f"/v1/writebacks/{first['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["ehr_resource"] == first_status["ehr_resource"]
    assert status["ehr_version"] != first_status["ehr_version"]
    with medplum_stack.ehr() as ehr:
        doc = ehr.get(f"/{status['ehr_resource']}").json()
        provenance = ehr.get(f"/{status['provenance']}").json()
        history = ehr.get(f"/{status['ehr_resource']}/_history").json()
    assert doc["docStatus"] == "final"
    assert doc["authenticator"]["reference"] == "Practitioner/prac-001"
    assert provenance["activity"]["coding"][0]["code"] == "UPDATE"
    assert len(history["entry"]) == 2
    view = medplum_stack.api.get(
        f"/v1/drafts/{draft['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert view["state"] == "committed"
    assert view["doc_status"] == "final"
