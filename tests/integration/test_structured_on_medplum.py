"""Structured write-backs against Medplum, the real test FHIR server (issue 13 item 5).

The stack runs as production builds it, with the ``medplum`` profile (conditional create)
and a policy that writes the four structured types after approval. Each lands once, with its
own Provenance, after the note; Medplum's ``$validate`` finds no error in any of them; and an
answer lost after Medplum committed a Condition is read back to that one Condition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from builders import edited_note
from chartgate.adapters.storage import tables as t
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from stack import Stack, running_stack
from structured_items import (
    ALLERGY,
    CONDITION,
    MEDICATION_REQUEST,
    OBSERVATION,
    WRITTEN_TYPES,
    structured_submission,
    write_policy_file,
)

pytestmark = [pytest.mark.medplum, pytest.mark.timeout(300)]

FHIR_JSON = "application/fhir+json"


@pytest.fixture
def stack(migrated_sqlite_url: str, medplum_fresh_base_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(
        migrated_sqlite_url,
        tmp_path,
        ehr_base=medplum_fresh_base_url,
        vendor="medplum",
        policy=write_policy_file(tmp_path),
    ) as running:
        yield running


def _approve(stack: Stack, body: dict[str, Any]) -> tuple[str, str]:
    created = stack.api.post("/v1/drafts", json=body, headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    approved = stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    return draft_id, approved.json()["writeback"]["id"]


def _items(stack: Stack, draft_id: str) -> list[dict[str, Any]]:
    view = stack.api.get(f"/v1/drafts/{draft_id}", headers=stack.as_clinician()).json()
    items: list[dict[str, Any]] = view["structured"]
    return items


def _in_ehr(stack: Stack, kind: str, writeback_id: str) -> list[dict[str, Any]]:
    param = "_tag" if kind == "Provenance" else "identifier"
    with stack.ehr() as ehr:
        bundle = ehr.get(f"/{kind}", params={param: f"{WRITEBACK_SYSTEM}|{writeback_id}"})
    assert bundle.status_code == 200, bundle.text
    return [entry["resource"] for entry in bundle.json().get("entry", [])]


def _errors(stack: Stack, resource: dict[str, Any]) -> list[dict[str, Any]]:
    with httpx.Client(
        base_url=stack.ehr_base, headers={"Content-Type": FHIR_JSON}, timeout=20
    ) as client:
        answer = client.post(f"{resource['resourceType']}/$validate", json=resource)
    assert answer.status_code in {200, 400}, answer.text
    return [i for i in answer.json()["issue"] if i["severity"] in {"error", "fatal"}]


def test_each_structured_resource_lands_once_with_its_provenance_and_validates(
    stack: Stack,
) -> None:
    """Each structured resource lands once with its provenance and validates."""
    draft_id, note_id = _approve(stack, structured_submission())
    stack.work()
    items = _items(stack, draft_id)
    assert [i["resource_type"] for i in items] == [
        "MedicationRequest",
        "Observation",
        "AllergyIntolerance",
        "Condition",
    ]  # the draft's order; written in WRITE_ORDER
    parts = sorted((i["writeback"] for i in items), key=lambda w: w["part"])
    assert [p["resource_type"] for p in parts] == list(WRITTEN_TYPES)
    assert parts[0]["after"] == note_id
    for part in parts:
        assert part["state"] == "committed", part
        (landed,) = _in_ehr(stack, part["resource_type"], part["id"])
        assert part["ehr_resource"] == f"{part['resource_type']}/{landed['id']}"
        (provenance,) = _in_ehr(stack, "Provenance", part["id"])
        assert provenance["target"][0]["reference"].startswith(part["ehr_resource"] + "/_history/")
        assert _errors(stack, landed) == []
        assert _errors(stack, provenance) == []


def test_a_lost_answer_to_a_committed_condition_is_read_back_to_that_one(
    stack: Stack, medplum_faults: Callable[..., dict[str, Any]]
) -> None:
    """A lost answer to a committed condition is read back to that one."""
    draft_id, note_id = _approve(stack, structured_submission(CONDITION))
    executor = stack.app.executor(owner="worker-1")
    assert executor.process(stack.tenant, note_id)  # the note and its Provenance
    (item,) = _items(stack, draft_id)
    part_id = item["writeback"]["id"]
    medplum_faults(drop_after_commit=1)
    assert executor.process(stack.tenant, part_id)
    (item,) = _items(stack, draft_id)
    assert item["writeback"]["state"] == "ambiguous", item
    assert len(_in_ehr(stack, "Condition", part_id)) == 1  # Medplum did commit it
    with stack.app.engine.begin() as conn:  # its backoff, without sleeping through it
        conn.execute(
            update(t.writebacks)
            .where(t.writebacks.c.id == part_id)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    stack.work()
    (item,) = _items(stack, draft_id)
    assert item["writeback"]["state"] == "committed", item
    assert len(_in_ehr(stack, "Condition", part_id)) == 1
    assert len(_in_ehr(stack, "Provenance", part_id)) == 1


def _fever(resource: dict[str, Any]) -> dict[str, Any]:
    return {**resource, "valueQuantity": {**resource["valueQuantity"], "value": 38.4}}


def test_an_amendment_creates_updates_and_retracts_structured_resources_in_medplum(
    stack: Stack,
) -> None:
    """Amend (ADR 0031): Observation updated, MedicationRequest retracted, Condition left."""
    draft_id, note_id = _approve(
        stack, structured_submission(CONDITION, OBSERVATION, MEDICATION_REQUEST)
    )
    stack.work()
    clinician = stack.as_clinician()
    view = stack.api.get(f"/v1/drafts/{draft_id}", headers=clinician).json()
    before = {i["resource_type"]: i["writeback"] for i in view["structured"]}
    edit = edited_note(view, "Return if symptoms worsen.", "Return if fever develops.")
    edit["resources"] = [CONDITION, _fever(OBSERVATION), ALLERGY]
    amended = stack.api.post(
        f"/v1/writebacks/{note_id}/amend",
        json=edit,
        headers={**clinician, "If-Match": f'W/"{view["current_version"]}"'},
    )
    assert amended.status_code == 202, amended.text
    stack.work()
    items = _items(stack, draft_id)
    shown = {(i["resource_type"], i["index"] is None): i for i in items}
    # Condition: unchanged, never written again.
    condition = shown["Condition", False]
    assert condition["update"] is None
    (landed,) = _in_ehr(stack, "Condition", before["Condition"]["id"])
    assert landed["meta"]["versionId"] == before["Condition"]["ehr_version"]
    # Observation: updated in place (same id, new version, its own mark and Provenance).
    observation = shown["Observation", False]
    update = observation["update"]
    assert update["kind"] == "structured-update"
    assert update["state"] == "committed", update
    (landed,) = _in_ehr(stack, "Observation", before["Observation"]["id"])
    assert landed["valueQuantity"]["value"] == 38.4
    assert f"Observation/{landed['id']}" == before["Observation"]["ehr_resource"]
    assert landed["meta"]["versionId"] == update["ehr_version"]
    assert {"system": WRITEBACK_SYSTEM, "code": update["id"]} in landed["meta"]["tag"]
    (provenance,) = _in_ehr(stack, "Provenance", update["id"])
    assert provenance["activity"]["coding"][0]["code"] == "UPDATE"
    assert provenance["target"][0]["reference"] == (
        f"Observation/{landed['id']}/_history/{update['ehr_version']}"
    )
    # AllergyIntolerance: new, created after the amended note.
    allergy = shown["AllergyIntolerance", False]
    assert allergy["writeback"]["state"] == "committed"
    assert len(_in_ehr(stack, "AllergyIntolerance", allergy["writeback"]["id"])) == 1
    # MedicationRequest: removed by the amendment, entered-in-error (never deleted).
    removed = shown["MedicationRequest", True]
    assert removed["retraction"]["state"] == "committed"
    (order,) = _in_ehr(stack, "MedicationRequest", before["MedicationRequest"]["id"])
    assert order["status"] == "entered-in-error"
    for resource in (landed, order, provenance):
        assert _errors(stack, resource) == []


def test_an_approval_breaking_a_fhir_invariant_is_refused_with_its_key(stack: Stack) -> None:
    """ait-1 (no clinicalStatus): 422 OperationOutcome naming it, and nothing is queued."""
    broken = {k: v for k, v in ALLERGY.items() if k != "clinicalStatus"}
    created = stack.api.post(
        "/v1/drafts", json=structured_submission(broken), headers=stack.as_scribe()
    )
    assert created.status_code == 201, created.text  # stored, with the finding shown
    draft_id = created.json()["id"]
    refused = stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert refused.status_code == 422, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    codes = {c["code"] for i in outcome["issue"] for c in i.get("details", {}).get("coding", [])}
    assert "invariant.ait-1" in codes
    view = stack.api.get(f"/v1/drafts/{draft_id}", headers=stack.as_clinician()).json()
    assert view["state"] == "in_review"
    assert "invariant.ait-1" in {f["code"] for f in view["findings"]}  # shown before approving
    assert stack.work() == 0  # nothing was queued
