"""Synthetic data only: drafts and notes for tests (no real patient, ever)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from chartgate.domain.principal import Principal, Role

TENANT = "clinic-a"
PATIENT = "Patient/pat-001"
ENCOUNTER = "Encounter/enc-001"
CLINICIAN = "Practitioner/prac-001"

SOAP_NOTE = """## Subjective
Synthetic patient reports three days of dry cough without fever.

## Objective
Temperature 37.1 C. Lungs clear to auscultation.

## Assessment
Acute viral bronchitis, uncomplicated.

## Plan
Supportive care with fluids and rest. Return if symptoms worsen.
"""


def scribe_and_clinician(tenant: str) -> tuple[Principal, Principal]:
    """A scribe and a clinician of ``tenant`` launched into the synthetic encounter, with MFA.

    For tests and benchmarks that call the use cases in process (no token, no HTTP).
    """
    scribe = Principal(tenant=tenant, subject="scribe-in-process", role=Role.SCRIBE)
    clinician = Principal(
        tenant=tenant,
        subject="clinician-in-process",
        role=Role.CLINICIAN,
        fhir_user=CLINICIAN,
        amr=("pwd", "otp"),
        launch_patient=PATIENT.removeprefix("Patient/"),
        launch_encounter=ENCOUNTER.removeprefix("Encounter/"),
    )
    return scribe, clinician


def submission(**overrides: Any) -> dict[str, Any]:
    """A valid scribe submission for the synthetic encounter; override any top-level key."""
    body: dict[str, Any] = {
        "patient": PATIENT,
        "encounter": ENCOUNTER,
        "note": {
            "type": "11506-3",
            "title": "Progress note",
            "content_type": "text/markdown",
            "text": SOAP_NOTE,
        },
        "resources": [],
        "origin": {
            "model": {"name": "example-scribe-llm", "version": "2026.10.1"},
            "prompt_template": "soap-v3",
            "transcript_sha256": hashlib.sha256(b"synthetic transcript").hexdigest(),
            "generated_at": "2026-11-24T10:00:00Z",
        },
    }
    body.update(copy.deepcopy(overrides))
    return body


def edited_note(draft: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The current version's content with one sentence replaced (a clinician's edit)."""
    current = draft["versions"][-1]
    note = dict(current["note"], text=current["note"]["text"].replace(old, new))
    return {"note": note, "resources": current["resources"]}


def draft_in(
    state: Any = None, *, draft_id: str = "d-1", tenant: str = TENANT, **fields: Any
) -> Any:
    """A domain ``Draft`` of the synthetic submission, put in ``state`` (for unit tests)."""
    from datetime import UTC, datetime  # noqa: PLC0415 - keeps this module light for HTTP tests

    from chartgate.domain.drafts import Draft  # noqa: PLC0415
    from chartgate.domain.submission import DraftSubmission  # noqa: PLC0415

    sent = DraftSubmission.model_validate(submission())
    draft = Draft.submit(
        draft_id=draft_id,
        tenant=tenant,
        patient=sent.patient,
        encounter=sent.encounter,
        origin=sent.origin,
        content=sent.content(),
        baseline={},
        correlation_id="c-1",
        author="scribe:s",
        at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
    )
    if state is not None:
        draft.state = state
    for name, value in fields.items():
        setattr(draft, name, value)
    return draft
