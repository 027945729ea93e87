"""Consent evidence at approval against the Medplum test EHR (issue 17), on both stores.

A tenant in California (an all-party-consent state in the shipped policy): approval is refused
until a consent record is on file; a consent sentence the model wrote is flagged; the note that
reaches the chart carries only the consent text chartgate wrote from the record, and its
Provenance names the record's digest. Synthetic data only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import ENCOUNTER, PATIENT, SOAP_NOTE, edited_note, submission
from chartgate.domain.fhir_codes import CONSENT_SYSTEM
from stack import Stack, running_stack

MODEL_SENTENCE = "Patient consented to the recording of this visit."
CONSENT = {
    "patient": PATIENT,
    "encounter": ENCOUNTER,
    "consenter": "patient",
    "method": "verbal",
    "consented_at": "2026-11-20T08:55:00Z",
    "jurisdiction": "US-CA",
    "scope": ["audio-recording", "ai-documentation"],
    "captured_by": "Practitioner/prac-001",
}


def load_encounter(base: str) -> None:
    """Put the synthetic patient and encounter into Medplum (a session reads the encounter)."""
    with httpx.Client(base_url=base, timeout=10) as ehr:
        for resource in (
            {"resourceType": "Patient", "id": "pat-001", "gender": "female"},
            {
                "resourceType": "Encounter",
                "id": "enc-001",
                "status": "in-progress",
                "class": {"code": "AMB"},
                "subject": {"reference": PATIENT},
                "period": {"start": "2026-11-20T09:00:00Z"},
            },
        ):
            answer = ehr.put(f"{resource['resourceType']}/{resource['id']}", json=resource)
            assert answer.status_code in {200, 201}, answer.text


@pytest.fixture
def stack(
    migrated_database_url: str, medplum_fresh_base_url: str, tmp_path: Path
) -> Iterator[Stack]:
    """Chartgate for a tenant in US-CA, writing to Medplum."""
    load_encounter(medplum_fresh_base_url)
    with running_stack(
        migrated_database_url, tmp_path, ehr_base=medplum_fresh_base_url, jurisdiction="US-CA"
    ) as running:
        yield running


def approve(stack: Stack, draft_id: str, version: int, **body: Any) -> Any:
    """The clinician approves ``version``."""
    return stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        json=body,
        headers={**stack.as_clinician(), "If-Match": f'W/"{version}"'},
    )


def test_consent_is_required_flagged_and_written_by_chartgate(stack: Stack) -> None:
    """No record: 403; model sentence: a warning; the chart gets only chartgate's sentence."""
    text = SOAP_NOTE.replace("## Plan\n", f"## Plan\n{MODEL_SENTENCE} ")
    draft = stack.api.post(
        "/v1/drafts",
        json=submission(note={**submission()["note"], "text": text}),
        headers=stack.as_scribe(),
    ).json()
    checked = stack.api.post(f"/v1/drafts/{draft['id']}/validate", headers=stack.as_clinician())
    keys = {f["key"] for f in checked.json()["findings"]}
    assert "content.model-consent-statement@note.text" in keys

    refused = approve(stack, draft["id"], 1)
    assert refused.status_code == 403, refused.text
    issue = refused.json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert "consent to ambient documentation must be on record" in issue["diagnostics"]
    assert issue["expression"] == ["consent"]

    session = stack.api.post(
        "/v1/scribe-sessions",
        json={"patient": PATIENT, "encounter": ENCOUNTER, "template": "soap-v3",
              "scribe_client": "scribe-test-client"},
        headers=stack.as_clinician(),
    ).json()["id"]  # fmt: skip
    recorded = stack.api.post(
        "/v1/consents", json={**CONSENT, "session": session}, headers=stack.as_scribe()
    )
    assert recorded.status_code == 201, recorded.text
    digest = recorded.json()["digest"]

    # Consent is on file, but the model's own consent sentence blocks approval: it cannot be
    # acknowledged away, nor kept by editing something else.
    key = "content.model-consent-statement@note.text"
    flagged = approve(stack, draft["id"], 1, acknowledge=[key])
    assert flagged.status_code == 422, flagged.text
    elsewhere = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edited_note(draft, "## Plan\n", "## Plan\nRecheck in 3 months. "),
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert elsewhere.status_code == 200, elsewhere.text
    kept = approve(stack, draft["id"], 2, acknowledge=[key])
    assert kept.status_code == 422, kept.text
    codes = {i["details"]["coding"][0]["code"] for i in kept.json()["issue"] if "details" in i}
    assert "content.model-consent-statement" in codes
    saved = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edited_note(elsewhere.json(), f"{MODEL_SENTENCE} ", ""),
        headers={**stack.as_clinician(), "If-Match": 'W/"2"'},
    )
    assert saved.status_code == 200, saved.text
    queued = approve(stack, draft["id"], 3)
    assert queued.status_code == 202, queued.text
    assert stack.work() >= 1
    status = stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician()).json()
    assert status["state"] == "committed", json.dumps(status["writebacks"])

    with stack.ehr() as ehr:
        found = ehr.get("DocumentReference", params={"patient": PATIENT}).json()["entry"]
        document = found[0]["resource"]
        note = base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
        provenance = ehr.get("Provenance").json()["entry"][0]["resource"]
    assert MODEL_SENTENCE not in note
    assert "## Consent (recorded by chartgate)" in note
    assert "given by the patient (verbal) on 2026-11-20 in US-CA" in note
    assert "written by chartgate from the consent record" in note
    consent_entities = [
        e for e in provenance["entity"] if e["what"].get("identifier", {}).get("system")
        == CONSENT_SYSTEM
    ]  # fmt: skip
    assert [e["what"]["identifier"]["value"] for e in consent_entities] == [digest]

    chain = stack.app.audit_chain(stack.tenant, draft["correlation_id"])
    approved = next(e for e in chain if e["type"] == "draft.approved")
    assert approved["data"]["consent_digest"] == digest
    assert approved["data"]["disclosures"] == [
        {
            "rule": "ca-ab3030",
            "source": "California Health and Safety Code §1339.75 (AB 3030, 2024)",
            "outcome": "exempt: reviewed and approved by a licensed provider",
        }
    ]


def test_a_scribe_records_consent_only_inside_its_session(stack: Stack) -> None:
    """Without a session, or for another encounter than the session's: refused."""
    no_session = stack.api.post("/v1/consents", json=CONSENT, headers=stack.as_scribe())
    assert no_session.status_code == 422, no_session.text
    by_clinician = stack.api.post("/v1/consents", json=CONSENT, headers=stack.as_clinician())
    assert by_clinician.status_code == 201, by_clinician.text
    elsewhere = stack.api.post(
        "/v1/consents",
        json={**CONSENT, "encounter": "Encounter/enc-002"},
        headers=stack.as_clinician(),
    )
    assert elsewhere.status_code == 404
