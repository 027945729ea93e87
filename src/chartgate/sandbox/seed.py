"""The sandbox EHR's synthetic chart: two patients, their encounters, a clinic, a room, a clinician.

Put back on every start (only where missing) and on every reset. Synthetic data only: no real
person, ever. ``tests/fakes.py`` serves the same resources, so the fake, the sandbox and the
Medplum test EHR (seeded by ``tests/medplum_ehr.py``) show one chart.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SANDBOX_MRN_SYSTEM", "SEED_RESOURCES"]

JsonObject = dict[str, Any]

SANDBOX_MRN_SYSTEM = "urn:chartgate:sandbox:mrn"
_MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
"""Typed as a medical record number, so a tenant that names no ``mrn_system`` finds it."""

SEED_RESOURCES: tuple[JsonObject, ...] = (
    {
        "resourceType": "Organization",
        "id": "org-001",
        "name": "Sandbox Family Clinic (synthetic)",
    },
    {
        "resourceType": "Location",
        "id": "loc-001",
        "status": "active",
        "name": "Exam room 3, Sandbox Family Clinic (synthetic)",
        "managingOrganization": {"reference": "Organization/org-001"},
    },
    {
        "resourceType": "Practitioner",
        "id": "prac-001",
        "identifier": [{"system": "urn:chartgate:sandbox:practitioner", "value": "prac-001"}],
        "name": [{"family": "Synthetic", "given": ["Dana"], "prefix": ["Dr."]}],
    },
    {
        "resourceType": "Patient",
        "id": "pat-001",
        "identifier": [{"type": _MR, "system": SANDBOX_MRN_SYSTEM, "value": "SYN-0001"}],
        "name": [{"family": "Synthetic", "given": ["Alex"]}],
        "gender": "female",
        "birthDate": "1970-01-01",
        "managingOrganization": {"reference": "Organization/org-001"},
    },
    {
        "resourceType": "Patient",
        "id": "pat-002",
        "identifier": [{"type": _MR, "system": SANDBOX_MRN_SYSTEM, "value": "SYN-0002"}],
        "name": [{"family": "Synthetic", "given": ["Sam"]}],
        "gender": "male",
        "birthDate": "1985-05-05",
        "managingOrganization": {"reference": "Organization/org-001"},
    },
    {
        "resourceType": "Encounter",
        "id": "enc-001",
        "status": "in-progress",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "subject": {"reference": "Patient/pat-001"},
        "participant": [{"individual": {"reference": "Practitioner/prac-001"}}],
        "period": {"start": "2026-11-24T09:30:00Z"},
        # No display: chartgate reads the Location's name for the banner.
        "location": [{"location": {"reference": "Location/loc-001"}, "status": "active"}],
        "serviceProvider": {"reference": "Organization/org-001"},
    },
    {
        "resourceType": "Encounter",
        "id": "enc-002",
        "status": "in-progress",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "subject": {"reference": "Patient/pat-002"},
        "participant": [{"individual": {"reference": "Practitioner/prac-001"}}],
        "period": {"start": "2026-11-24T10:30:00Z"},
        "location": [
            {
                "location": {"reference": "Location/loc-001", "display": "Exam room 3 (synthetic)"},
                "status": "completed",
            }
        ],
        "serviceProvider": {"reference": "Organization/org-001"},
    },
)
"""Synthetic chart content put back on every start and reset (only where missing on start)."""
