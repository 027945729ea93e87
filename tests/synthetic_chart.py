"""A realistic synthetic chart for minimum-necessary tests (issue 17). Synthetic only.

Five years of outpatient history for the test patient (``builders.PATIENT``): an encounter
every quarter, each with labs, vitals and a social-history observation, a progress note with
content, conditions recorded over the years, medications started and stopped, allergies with a
free-text reaction note; today's encounter (``builders.ENCOUNTER``); and a second patient with
data of the same shape. Generated here, in the repository, from fixed dates (no randomness), so
a test knows exactly what each read profile must return. Loaded with one transaction Bundle.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from builders import ENCOUNTER, PATIENT

TODAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the session encounter's start
OTHER_PATIENT = "Patient/pat-other"
OTHER_ENCOUNTER = "Encounter/enc-other"
QUARTERS = 20  # five years of visits, one every ~91 days
LOINC = "http://loinc.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _ref(reference: str) -> dict[str, str]:
    return {"reference": reference}


def _observation(
    rid: str, patient: str, encounter: str, at: datetime, category: str, code: str, value: float
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": _ref(patient),
        "encounter": _ref(encounter),
        "effectiveDateTime": _iso(at),
        "valueQuantity": {"value": value, "unit": "1", "system": "http://unitsofmeasure.org"},
        "note": [{"text": "synthetic technician remark"}],
        "performer": [_ref("Practitioner/prac-lab")],
    }


@dataclass
class Chart:
    """The resources of the synthetic chart, and what a test expects of them."""

    resources: list[dict[str, Any]]

    def of(self, resource_type: str, patient: str = PATIENT) -> list[dict[str, Any]]:
        """This patient's resources of one type."""
        holder = "patient" if resource_type == "AllergyIntolerance" else "subject"
        return [
            r
            for r in self.resources
            if r["resourceType"] == resource_type
            and (
                r.get(holder, {}).get("reference") == patient
                or (resource_type == "Patient" and f"Patient/{r['id']}" == patient)
            )
        ]

    def transactions(self, size: int = 20) -> list[dict[str, Any]]:
        """Transaction Bundles that PUT every resource at its id (Medplum caps their size)."""
        return [
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "resource": r,
                        "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                    }
                    for r in self.resources[start : start + size]
                ],
            }
            for start in range(0, len(self.resources), size)
        ]


def _patient_history(patient: str, tag: str, today_encounter: str) -> list[dict[str, Any]]:
    rid = patient.split("/")[1]
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": rid,
            "name": [{"family": f"Synthetic-{tag}", "given": ["Test"]}],
            "identifier": [{"system": "urn:example:mrn", "value": f"MRN-{tag}"}],
            "birthDate": "1961-04-02",
            "gender": "female",
            "address": [{"city": "Exampleton"}],
        }
    ]
    for quarter in range(QUARTERS + 1):
        at = TODAY - timedelta(days=91 * quarter)
        encounter = today_encounter if quarter == 0 else f"Encounter/{tag}-enc-{quarter}"
        out.append(
            {
                "resourceType": "Encounter",
                "id": encounter.split("/")[1],
                "status": "in-progress" if quarter == 0 else "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": _ref(patient),
                "period": {"start": _iso(at), "end": _iso(at + timedelta(minutes=40))},
                "serviceProvider": _ref("Organization/org-1"),
            }
        )
        out.extend(
            [
                _observation(
                    f"{tag}-a1c-{quarter}",
                    patient,
                    encounter,
                    at - timedelta(days=2),
                    "laboratory",
                    "4548-4",
                    6.5 + quarter / 10,
                ),
                _observation(
                    f"{tag}-bp-{quarter}",
                    patient,
                    encounter,
                    at,
                    "vital-signs",
                    "8480-6",
                    128 + quarter,
                ),
                _observation(
                    f"{tag}-smoke-{quarter}", patient, encounter, at, "social-history", "72166-2", 1
                ),
            ]
        )
        if quarter > 0:
            text = f"Synthetic progress note of visit {quarter}".encode()
            out.append(
                {
                    "resourceType": "DocumentReference",
                    "id": f"{tag}-note-{quarter}",
                    "status": "current",
                    "docStatus": "final",
                    "type": {"coding": [{"system": LOINC, "code": "11506-3"}]},
                    "subject": _ref(patient),
                    "date": _iso(at + timedelta(hours=1)),
                    "author": [_ref("Practitioner/prac-other")],
                    "content": [
                        {
                            "attachment": {
                                "contentType": "text/plain",
                                "data": base64.b64encode(text).decode(),
                            }
                        }
                    ],
                    "context": {"encounter": [_ref(encounter)]},
                }
            )
    for index, years in enumerate((4.5, 2.0, 0.5)):
        out.append(
            {
                "resourceType": "Condition",
                "id": f"{tag}-cond-{index}",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": ("44054006", "38341003", "195662009")[index],
                        }
                    ]
                },
                "subject": _ref(patient),
                "recordedDate": _iso(TODAY - timedelta(days=int(365 * years))),
                "note": [{"text": "synthetic condition remark"}],
            }
        )
    for index, days in enumerate((900, 150, 20)):
        out.append(
            {
                "resourceType": "MedicationRequest",
                "id": f"{tag}-med-{index}",
                "status": "active" if days < 200 else "stopped",
                "intent": "order",
                "medicationReference": _ref(f"Medication/{tag}-drug-{index}"),
                "subject": _ref(patient),
                "authoredOn": _iso(TODAY - timedelta(days=days)),
                "requester": _ref("Practitioner/prac-other"),
            }
        )
        out.append(
            {
                "resourceType": "Medication",
                "id": f"{tag}-drug-{index}",
                "code": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": ("860975", "314076", "197361")[index],
                        }
                    ]
                },
            }
        )
    out.append(
        {
            "resourceType": "AllergyIntolerance",
            "id": f"{tag}-allergy-0",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}]},
            "patient": _ref(patient),
            "recordedDate": _iso(TODAY - timedelta(days=3000)),
            "criticality": "high",
            "reaction": [
                {
                    "manifestation": [
                        {"coding": [{"system": "http://snomed.info/sct", "code": "271807003"}]}
                    ],
                    "note": [{"text": "synthetic free-text reaction remark"}],
                }
            ],
        }
    )
    out.extend(_after_the_visit(patient, tag, today_encounter))
    return out


def _after_the_visit(patient: str, tag: str, today_encounter: str) -> list[dict[str, Any]]:
    """What the chart holds dated after today's visit: a later result, a future visit."""
    return [
        _observation(
            f"{tag}-bp-after",
            patient,
            today_encounter,
            TODAY + timedelta(days=3),
            "vital-signs",
            "8480-6",
            131.0,
        ),
        {
            "resourceType": "Encounter",
            "id": f"{tag}-enc-planned",
            "status": "planned",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": _ref(patient),
            "period": {"start": _iso(TODAY + timedelta(days=400))},
        },
        {
            "resourceType": "MedicationRequest",
            "id": f"{tag}-med-later",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "synthetic later order"},
            "subject": _ref(patient),
            "authoredOn": _iso(TODAY + timedelta(days=10)),
        },
    ]


def build_chart() -> Chart:
    """The whole synthetic chart: the test patient and one other patient."""
    return Chart(
        _patient_history(PATIENT, "main", ENCOUNTER)
        + _patient_history(OTHER_PATIENT, "other", OTHER_ENCOUNTER)
        + [{"resourceType": "Practitioner", "id": "prac-other", "name": [{"family": "Synthetic"}]}]
    )
