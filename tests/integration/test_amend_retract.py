"""Amendment, retraction and rebase against the Medplum test EHR: the original is never edited."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update
from test_story import approve_story

from builders import edited_note
from chartgate.adapters.storage import tables
from stack import Stack

AMENDED = "Return if fever develops, symptoms last 10 days, or breathing worsens."


def committed(stack: Stack) -> tuple[dict, dict]:
    """A draft approved and written; returns (draft view, write-back status)."""
    draft, writeback = approve_story(stack)
    stack.work()
    status = stack.api.get(f"/v1/writebacks/{writeback['id']}", headers=stack.as_clinician())
    view = stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician())
    return view.json(), status.json()


def history(ehr: httpx.Client, reference: str) -> list[dict]:
    """Every stored version of one resource."""
    bundle = ehr.get(f"/{reference}/_history").json()
    return [entry["resource"] for entry in bundle.get("entry", [])]


def test_amendment_writes_a_new_document_that_replaces_the_old(medplum_stack: Stack) -> None:
    """Amend posts a new DocumentReference (relatesTo replaces) and only supersedes the old one."""
    view, first = committed(medplum_stack)
    old_ref = first["ehr_resource"]
    with medplum_stack.ehr() as ehr:
        before = ehr.get(f"/{old_ref}").json()
    edit = edited_note(view, "Return if fever develops or symptoms last 10 days.", AMENDED)
    amended = medplum_stack.api.post(
        f"/v1/writebacks/{first['id']}/amend",
        json=edit,
        headers={**medplum_stack.as_clinician(), "If-Match": f'W/"{view["current_version"]}"'},
    )
    assert amended.status_code == 202, amended.text
    second = amended.json()["writeback"]
    medplum_stack.work()
    status = medplum_stack.api.get(
        f"/v1/writebacks/{second['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["state"] == "committed", status
    assert status["ehr_resource"] != old_ref
    with medplum_stack.ehr() as ehr:
        new = ehr.get(f"/{status['ehr_resource']}").json()
        old = ehr.get(f"/{old_ref}").json()
        old_versions = history(ehr, old_ref)
        provenance = ehr.get(f"/{status['provenance']}").json()
    assert new["relatesTo"] == [{"code": "replaces", "target": {"reference": old_ref}}]
    assert new["docStatus"] == "amended"
    assert AMENDED in base64.b64decode(new["content"][0]["attachment"]["data"]).decode()
    assert old["status"] == "superseded"
    assert old["content"] == before["content"]
    assert all(v["content"] == before["content"] for v in old_versions)
    assert {"role": "revision", "what": {"reference": old_ref}} in provenance["entity"]
    draft = medplum_stack.api.get(
        f"/v1/drafts/{view['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert draft["state"] == "committed"
    assert draft["doc_status"] == "amended"


def test_retraction_marks_entered_in_error_without_touching_content(medplum_stack: Stack) -> None:
    """Retract (with step-up) sets entered-in-error with a NULLIFY Provenance; content unchanged."""
    view, first = committed(medplum_stack)
    with medplum_stack.ehr() as ehr:
        before = ehr.get(f"/{first['ehr_resource']}").json()
    retracted = medplum_stack.api.post(
        f"/v1/writebacks/{first['id']}/retract",
        json={"reason": "wrong-patient"},
        headers=medplum_stack.as_clinician(),
    )
    assert retracted.status_code == 202, retracted.text
    record = retracted.json()["writeback"]
    medplum_stack.work()
    status = medplum_stack.api.get(
        f"/v1/writebacks/{record['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["state"] == "committed", status
    with medplum_stack.ehr() as ehr:
        doc = ehr.get(f"/{first['ehr_resource']}").json()
        provenance = ehr.get(f"/{status['provenance']}").json()
    assert doc["status"] == "entered-in-error"
    assert doc["content"] == before["content"]
    assert provenance["activity"]["coding"][0]["code"] == "NULLIFY"
    draft = medplum_stack.api.get(
        f"/v1/drafts/{view['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert draft["state"] == "retracted"


def test_retraction_needs_a_recent_authentication(medplum_stack: Stack) -> None:
    """Retract with an old auth_time answers 401 insufficient_user_authentication."""
    _, first = committed(medplum_stack)
    stale = medplum_stack.as_clinician(auth_time=1_700_000_000)
    refused = medplum_stack.api.post(
        f"/v1/writebacks/{first['id']}/retract", json={"reason": "duplicate"}, headers=stale
    )
    assert refused.status_code == 401
    assert "insufficient_user_authentication" in refused.headers["www-authenticate"]


def test_retraction_reason_must_be_a_code(medplum_stack: Stack) -> None:
    """A free-text retraction reason is refused (reasons are codes, never clinical text)."""
    _, first = committed(medplum_stack)
    refused = medplum_stack.api.post(
        f"/v1/writebacks/{first['id']}/retract",
        json={"reason": "patient said something"},
        headers=medplum_stack.as_clinician(),
    )
    assert refused.status_code == 422


def test_conflict_then_rebase_needs_a_new_approval(medplum_stack: Stack) -> None:
    """A chart change since the baseline gives conflict; rebase makes a new version to approve."""
    headers = {"Content-Type": "application/fhir+json"}
    with medplum_stack.ehr() as ehr:
        prior = ehr.post(
            "/DocumentReference",
            json={
                "resourceType": "DocumentReference",
                "status": "current",
                "content": [{"attachment": {"contentType": "text/plain", "data": "eA=="}}],
            },
            headers=headers,
        ).json()
    reference = f"DocumentReference/{prior['id']}"
    from builders import submission  # noqa: PLC0415 - local: only this test needs it

    created = medplum_stack.api.post(
        "/v1/drafts",
        json=submission(baseline={reference: prior["meta"]["versionId"]}),
        headers=medplum_stack.as_scribe(),
    ).json()
    with medplum_stack.ehr() as ehr:
        changed = ehr.put(
            f"/{reference}", json={**prior, "description": "changed"}, headers=headers
        ).json()
    approved = medplum_stack.api.post(
        f"/v1/drafts/{created['id']}/approve",
        headers={**medplum_stack.as_clinician(), "If-Match": 'W/"1"'},
    ).json()
    medplum_stack.work()
    status = medplum_stack.api.get(
        f"/v1/writebacks/{approved['writeback']['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["state"] == "conflict"
    assert status["ehr_resource"] is None
    rebased = medplum_stack.api.post(
        f"/v1/drafts/{created['id']}/rebase",
        json={"baseline": {reference: changed["meta"]["versionId"]}},
        headers=medplum_stack.as_clinician(),
    )
    assert rebased.status_code == 200, rebased.text
    assert rebased.json()["state"] == "in_review"
    assert rebased.json()["current_version"] == 2
    again = medplum_stack.api.post(
        f"/v1/drafts/{created['id']}/approve",
        headers={**medplum_stack.as_clinician(), "If-Match": 'W/"2"'},
    ).json()
    medplum_stack.work()
    final = medplum_stack.api.get(
        f"/v1/writebacks/{again['writeback']['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert final["state"] == "committed"


def test_amendment_whose_answer_is_lost_lands_exactly_once(
    medplum_stack: Stack, medplum_faults: Callable[..., dict[str, Any]]
) -> None:
    """An amendment committed by the EHR whose answer is dropped reconciles to one new note."""
    view, first = committed(medplum_stack)
    edit = edited_note(view, "Return if fever develops or symptoms last 10 days.", AMENDED)
    amended = medplum_stack.api.post(
        f"/v1/writebacks/{first['id']}/amend",
        json=edit,
        headers={**medplum_stack.as_clinician(), "If-Match": f'W/"{view["current_version"]}"'},
    ).json()["writeback"]
    medplum_faults(drop_after_commit=1)
    medplum_stack.work(rounds=1)
    assert (
        medplum_stack.api.get(
            f"/v1/writebacks/{amended['id']}", headers=medplum_stack.as_clinician()
        ).json()["state"]
        == "ambiguous"
    )
    with medplum_stack.app.engine.begin() as conn:
        conn.execute(
            update(tables.writebacks)
            .where(tables.writebacks.c.id == amended["id"])
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    medplum_stack.work()
    status = medplum_stack.api.get(
        f"/v1/writebacks/{amended['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["state"] == "committed", status
    with medplum_stack.ehr() as ehr:
        found = ehr.get(
            "/DocumentReference",
            params={"identifier": f"urn:chartgate:writeback|{amended['id']}"},
        ).json()
    assert len(found.get("entry", [])) == 1
    assert found["entry"][0]["resource"]["docStatus"] == "amended"


def test_a_refused_finalize_leaves_the_note_committed(
    medplum_stack: Stack, medplum_faults: Callable[..., dict[str, Any]]
) -> None:
    """A finalize the EHR refuses is recorded on its write-back; the draft stays committed."""
    view, _ = committed(medplum_stack)
    finalized = medplum_stack.api.post(
        f"/v1/drafts/{view['id']}/finalize", headers=medplum_stack.as_clinician()
    ).json()["writeback"]
    medplum_faults(fail_status=422, count=1)
    medplum_stack.work(rounds=1)
    status = medplum_stack.api.get(
        f"/v1/writebacks/{finalized['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["state"] == "rejected"
    draft = medplum_stack.api.get(
        f"/v1/drafts/{view['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert draft["state"] == "committed"
    assert draft["doc_status"] == "preliminary"


def test_finalizing_an_amendment_keeps_what_it_replaces(medplum_stack: Stack) -> None:
    """Finalize after an amendment makes the new note final and keeps its relatesTo."""
    view, first = committed(medplum_stack)
    edit = edited_note(view, "Return if fever develops or symptoms last 10 days.", AMENDED)
    amended = medplum_stack.api.post(
        f"/v1/writebacks/{first['id']}/amend",
        json=edit,
        headers={**medplum_stack.as_clinician(), "If-Match": f'W/"{view["current_version"]}"'},
    ).json()["writeback"]
    medplum_stack.work()
    finalized = medplum_stack.api.post(
        f"/v1/drafts/{view['id']}/finalize", headers=medplum_stack.as_clinician()
    )
    assert finalized.status_code == 202, finalized.text
    medplum_stack.work()
    status = medplum_stack.api.get(
        f"/v1/writebacks/{finalized.json()['writeback']['id']}",
        headers=medplum_stack.as_clinician(),
    ).json()
    assert status["state"] == "committed", status
    amended_status = medplum_stack.api.get(
        f"/v1/writebacks/{amended['id']}", headers=medplum_stack.as_clinician()
    ).json()
    assert status["ehr_resource"] == amended_status["ehr_resource"]
    with medplum_stack.ehr() as ehr:
        doc = ehr.get(f"/{status['ehr_resource']}").json()
    assert doc["docStatus"] == "final"
    assert doc["relatesTo"] == [
        {"code": "replaces", "target": {"reference": first["ehr_resource"]}}
    ]
