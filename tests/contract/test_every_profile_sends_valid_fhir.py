"""Every resource chartgate sends, for every vendor profile and kind, passes Medplum's validator.

Issue 13 item 7. For each product profile, chartgate (built as production builds it, the
profile named in its settings) writes to the sandbox imitating that EHR: approve (approve and
sign where the EHR takes signed notes only), finalize where it takes drafts, amend where it
takes ``relatesTo = replaces``, and retract; the draft proposes a Condition, an
AllergyIntolerance, an Observation and a MedicationRequest under a policy that writes them
(issue 13 item 5), so a profile whose ``writable_types`` take them gets each once, with its
Provenance (the amendment changes the Observation's value: a ``structured-update`` with its
own Provenance, ADR 0031; with the note's retraction, each entered-in-error), and the others
none. Every
version of every DocumentReference, every structured resource and every Provenance that landed
is then posted to the Medplum test EHR's ``$validate`` (base R4 StructureDefinitions, an
implementation we did not write), and every one holds every R4 invariant chartgate checks
before approval (``adapters/fhir_invariants.py``). What a profile cannot take is
refused at the API, before anything is sent. Synthetic data only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import edited_note
from chartgate.adapters.fhir_invariants import R4Invariants
from chartgate.domain.vendor_profile import AmendmentMode
from chartgate.domain.vendors import VENDORS
from stack import Stack, running_stack
from structured_items import WRITTEN_TYPES, structured_submission, write_policy_file

pytestmark = [pytest.mark.medplum, pytest.mark.timeout(300)]

FHIR_JSON = "application/fhir+json"
NEW = "Return if fever develops or symptoms last 10 days."


@pytest.fixture(scope="module")
def validator(medplum_base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=medplum_base_url,
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        timeout=20,
    ) as client:
        yield client


def _errors(validator: httpx.Client, resource: dict[str, Any]) -> list[dict[str, Any]]:
    answer = validator.post(f"{resource['resourceType']}/$validate", json=resource)
    assert answer.status_code in {200, 400}, answer.text
    return [i for i in answer.json()["issue"] if i["severity"] in {"error", "fatal"}]


def _committed(stack: Stack, answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    writeback_id = answer.json()["writeback"]["id"]
    stack.work()
    status: dict[str, Any] = stack.api.get(
        f"/v1/writebacks/{writeback_id}", headers=stack.as_clinician()
    ).json()
    assert status["state"] == "committed", status
    return status


def _story(stack: Stack, name: str) -> set[str]:
    """Write, finalize, amend and retract as the profile allows; return the kinds written."""
    profile = VENDORS[name]
    signs = not profile.accepts_preliminary
    clinician = stack.as_clinician()
    created = stack.api.post("/v1/drafts", json=structured_submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft = created.json()
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        json={"sign": True} if signs else None,
        headers={**clinician, "If-Match": 'W/"1"'},
    )
    first = _committed(stack, approved)
    kinds = {"approve"}
    items = stack.api.get(f"/v1/drafts/{draft['id']}", headers=clinician).json()["structured"]
    writes = set(WRITTEN_TYPES) <= profile.writable_types
    assert [i["written"] for i in items] == [writes] * len(WRITTEN_TYPES), items
    if writes:
        assert {i["writeback"]["state"] for i in items} == {"committed"}, items
    finalize = stack.api.post(f"/v1/drafts/{draft['id']}/finalize", headers=clinician)
    if signs:
        assert finalize.status_code == 409, finalize.text  # signed at approval already
    else:
        _committed(stack, finalize)
        kinds.add("finalize")
    view = stack.api.get(f"/v1/drafts/{draft['id']}", headers=clinician).json()
    edit = edited_note(view, "Return if symptoms worsen.", NEW)
    edit["resources"] = [_fever(r) for r in edit["resources"]]
    amended = stack.api.post(
        f"/v1/writebacks/{first['id']}/amend",
        json=edit,
        headers={**clinician, "If-Match": f'W/"{view["current_version"]}"'},
    )
    target = first
    if profile.amendment_mode is AmendmentMode.REPLACES:
        target = _committed(stack, amended)
        kinds.add("amend")
    else:
        assert amended.status_code == 403, amended.text  # refused before anything is sent
    retracted = stack.api.post(
        f"/v1/writebacks/{target['id']}/retract", json={"reason": "duplicate"}, headers=clinician
    )
    _committed(stack, retracted)
    kinds.add("retract")
    return kinds


def _fever(resource: dict[str, Any]) -> dict[str, Any]:
    """The Observation with another value (the amendment updates it in the chart)."""
    if resource["resourceType"] != "Observation":
        return resource
    return {**resource, "valueQuantity": {**resource["valueQuantity"], "value": 37.9}}


def _landed(stack: Stack) -> list[dict[str, Any]]:
    """Every version of every note, and every Provenance, in the emulated chart."""
    with stack.ehr() as ehr:
        notes = ehr.get("/DocumentReference", params={"_count": "100"}).json().get("entry", [])
        versions = [
            entry["resource"]
            for note in notes
            for entry in ehr.get(f"/DocumentReference/{note['resource']['id']}/_history")
            .json()
            .get("entry", [])
        ]
        provenances = ehr.get("/Provenance", params={"_count": "100"}).json().get("entry", [])
        structured = [
            entry["resource"]
            for kind in WRITTEN_TYPES
            for entry in ehr.get(f"/{kind}", params={"_count": "100"}).json().get("entry", [])
            if entry["resource"].get("identifier")  # ours: the seeded chart has none
        ]
    return versions + structured + [entry["resource"] for entry in provenances]


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_every_resource_sent_for_a_profile_validates_in_medplum(
    name: str, migrated_sqlite_url: str, tmp_path: Path, validator: httpx.Client
) -> None:
    """Approve, finalize, amend and retract as the profile allows: Medplum finds no error."""
    policy = write_policy_file(tmp_path)
    with running_stack(
        migrated_sqlite_url, tmp_path, vendor=name, sandbox_vendor=name, policy=policy
    ) as stack:
        kinds = _story(stack, name)
        landed = _landed(stack)
    assert {"approve", "retract"} <= kinds
    documents = [r for r in landed if r["resourceType"] == "DocumentReference"]
    assert len(documents) >= len(kinds)  # one version per kind written (plus superseded)
    structured = [r for r in landed if r["resourceType"] in WRITTEN_TYPES]
    takes = set(WRITTEN_TYPES) <= VENDORS[name].writable_types
    assert sorted(r["resourceType"] for r in structured) == (sorted(WRITTEN_TYPES) if takes else [])
    if VENDORS[name].provenance_mode.value == "none":
        assert [r for r in landed if r["resourceType"] == "Provenance"] == []
    else:
        provenances = sum(r["resourceType"] == "Provenance" for r in landed)
        # Each kind written, each structured resource, and its retraction with the note's;
        # the amendment's update of the Observation where the note was amended.
        updated = int(takes and "amend" in kinds)
        assert provenances == len(kinds) + 2 * len(structured) + updated
    if takes and "amend" in kinds:
        (observation,) = [r for r in structured if r["resourceType"] == "Observation"]
        assert observation["valueQuantity"]["value"] == 37.9
    for resource in structured:  # retracted with the note: entered-in-error, still valid
        status = resource.get("verificationStatus", {}).get("coding", [{}])[0].get("code")
        assert "entered-in-error" in (status, resource.get("status")), resource
    problems = {
        f"{r['resourceType']}/{r['id']}/_history/{r['meta']['versionId']}": _errors(validator, r)
        for r in landed
    }
    assert {where: errors for where, errors in problems.items() if errors} == {}
    invariants = R4Invariants()
    broken = {
        f"{r['resourceType']}/{r['id']}": [f.code for f in invariants.check(r, location="")]
        for r in landed
    }
    assert {where: keys for where, keys in broken.items() if keys} == {}
