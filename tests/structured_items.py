"""Structured proposals for tests: a note that names them, and a policy that writes them.

The shipped policy keeps structured resources ``draft-only``; ``writing_policy()`` is the
same file with Condition, AllergyIntolerance, Observation and MedicationRequest moved to
``clinician-approved`` for every EHR profile (synthetic data only).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from builders import submission
from chartgate.domain.policy.loader import LoadedPolicy
from chartgate.policy import default_policy_bytes, load_policy_bytes

SNOMED = "http://snomed.info/sct"

STRUCTURED_NOTE = """## Subjective
Synthetic patient reports three days of dry cough without fever. Allergy to penicillin.

## Objective
Body temperature 37.1 Cel. Lungs clear to auscultation.

## Assessment
Acute bronchitis, uncomplicated.

## Plan
Supportive care with fluids and rest. Acetaminophen 325 MG Oral Tablet as needed.
Return if symptoms worsen.
"""

CONDITION: dict[str, Any] = {
    "resourceType": "Condition",
    "clinicalStatus": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "active",
            }
        ]
    },
    "code": {
        "coding": [{"system": SNOMED, "code": "10509002", "display": "Acute bronchitis"}],
        "text": "Acute bronchitis",
    },
}
ALLERGY: dict[str, Any] = {
    "resourceType": "AllergyIntolerance",
    # ait-1: clinicalStatus is required unless entered-in-error (Medplum's validator found it
    # missing here; our R4B models do not check invariants).
    "clinicalStatus": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                "code": "active",
            }
        ]
    },
    "code": {
        "coding": [{"system": SNOMED, "code": "91936005", "display": "Allergy to penicillin"}],
        "text": "Allergy to penicillin",
    },
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "code": {
        "coding": [{"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}],
        "text": "Body temperature",
    },
    "valueQuantity": {
        "value": 37.1,
        "unit": "Cel",
        "system": "http://unitsofmeasure.org",
        "code": "Cel",
    },
}
MEDICATION_REQUEST: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "medicationCodeableConcept": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "313782",
                "display": "Acetaminophen 325 MG Oral Tablet",
            }
        ],
        "text": "Acetaminophen 325 MG Oral Tablet",
    },
}
ALL_FOUR = (MEDICATION_REQUEST, OBSERVATION, ALLERGY, CONDITION)
"""In the draft's order (deliberately not the write order)."""

WRITTEN_TYPES = ("Condition", "AllergyIntolerance", "Observation", "MedicationRequest")
PROFILES = [
    "generic-r4",
    "medplum",
    "epic",
    "oracle-health",
    "athenaone",
    "athenapractice",
    "veradigm",
    "eclinicalworks",
    "advancedmd",
    "sandbox",
]


def structured_submission(*resources: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A scribe submission whose note names every structured item it proposes."""
    body = submission(**overrides)
    body["note"]["text"] = STRUCTURED_NOTE
    body["resources"] = copy.deepcopy(list(resources or ALL_FOUR))
    return body


def writing_policy(*, draft_only: tuple[str, ...] = ()) -> LoadedPolicy:
    """The shipped policy with the four structured types written after approval."""
    return load_policy_bytes(_policy_bytes(draft_only=draft_only), source="tests/structured_items")


def _policy_bytes(*, draft_only: tuple[str, ...] = ()) -> bytes:
    data = yaml.safe_load(default_policy_bytes())
    for kind in WRITTEN_TYPES:
        rule = data["resources"][kind]
        if kind not in draft_only:
            rule["mode"] = "clinician-approved"
            rule["ehr_profiles"] = list(PROFILES)
            rule["rollback"] = ["entered-in-error"]
    return yaml.safe_dump(data).encode()


def write_policy_file(directory: Path, **options: Any) -> str:
    """``writing_policy()``'s YAML in ``directory`` (for a stack built from settings)."""
    path = directory / "writeback-structured.yaml"
    path.write_bytes(_policy_bytes(**options))
    return str(path)
