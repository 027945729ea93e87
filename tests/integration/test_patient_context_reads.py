"""The right patient and encounter, read from the EHR on approval (issue 13 item 6).

Real HTTP: chartgate's API, the sandbox EHR with its synthetic chart (pat-001 with enc-001,
pat-002 with enc-002), SQLite and PostgreSQL. A refusal is a 409 OperationOutcome that names
the problem and no patient; nothing is queued and the draft can still be corrected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders import submission
from stack import Stack, running_stack

FHIR_JSON = "application/fhir+json"


@pytest.fixture
def stack(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(migrated_database_url, tmp_path) as running:
        yield running


def _approve(stack: Stack, encounter: str) -> httpx.Response:
    """Submit a note for pat-001 on ``encounter`` and approve it (launch context there)."""
    context = {"encounter": encounter.split("/")[1]}
    created = stack.api.post(
        "/v1/drafts", json=submission(encounter=encounter), headers=stack.as_scribe()
    )
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    return stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        headers={**stack.as_clinician(**context), "If-Match": 'W/"1"'},
    )


def _refused_with(answer: httpx.Response, words: str) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    body: dict[str, Any] = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    assert words in body["issue"][0]["diagnostics"]
    assert "Synthetic" not in answer.text  # no patient name in a refusal
    return body


def _queued(stack: Stack) -> int:
    return stack.work()


def test_an_encounter_of_another_patient_is_refused_and_nothing_is_queued(stack: Stack) -> None:
    """enc-002 belongs to pat-002: a note for pat-001 on it is refused before anything."""
    _refused_with(_approve(stack, "Encounter/enc-002"), "another patient")
    assert _queued(stack) == 0


def test_an_encounter_the_ehr_does_not_have_is_refused(stack: Stack) -> None:
    """An encounter id the EHR does not know is refused (409), never written to."""
    _refused_with(_approve(stack, "Encounter/enc-404"), "does not exist")
    assert _queued(stack) == 0


def test_a_cancelled_encounter_is_refused(stack: Stack) -> None:
    """A status the profile does not document for (cancelled) refuses the approval."""
    with stack.ehr() as ehr:
        encounter = ehr.get("/Encounter/enc-001").json()
        version = encounter["meta"]["versionId"]
        changed = ehr.put(
            "/Encounter/enc-001",
            json={**encounter, "status": "cancelled"},
            headers={"Content-Type": FHIR_JSON, "If-Match": f'W/"{version}"'},
        )
        assert changed.status_code == 200, changed.text
    _refused_with(_approve(stack, "Encounter/enc-001"), "status")
    assert _queued(stack) == 0


def test_the_right_encounter_is_approved_and_written(stack: Stack) -> None:
    """The positive control: pat-001's own in-progress encounter is approved and written."""
    answer = _approve(stack, "Encounter/enc-001")
    assert answer.status_code == 202, answer.text
    assert _queued(stack) == 1
