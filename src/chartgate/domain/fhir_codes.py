"""FHIR, LOINC and provenance vocabulary as named constants, each with its source.

The one vocabulary module: built in one place so that every resource chartgate emits, and every
FHIR request it makes, spells codes, systems and media types the same way.
"""

from __future__ import annotations

from typing import Any, Final

FHIR_JSON: Final = "application/fhir+json"
"""The FHIR JSON media type (https://hl7.org/fhir/R4/http.html#mime-type)."""

LOINC: Final = "http://loinc.org"

NOTE_TYPES: Final[dict[str, str]] = {
    # US Core Clinical Notes page (https://hl7.org/fhir/us/core/clinical-notes.html)
    "11506-3": "Progress note",
    "34117-2": "History and physical note",
    "11488-4": "Consult note",
    "18842-5": "Discharge summary",
    "28570-0": "Procedure note",
    "34111-5": "Emergency department note",
    "11504-8": "Surgical operation note",
    "18748-4": "Diagnostic imaging study",
    "11502-2": "Laboratory report",
    "11526-1": "Pathology study",
    "57133-1": "Referral note",
    "34746-8": "Nurse note",
}

US_CORE_DOCREF_CATEGORY: Final = (
    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
)
CLINICAL_NOTE: Final = "clinical-note"

WRITEBACK_SYSTEM: Final = "urn:chartgate:writeback"
"""Our own identifier system: ``identifier = urn:chartgate:writeback|<uuid>``."""
DRAFT_VERSION_SYSTEM: Final = "urn:chartgate:draft-version"
TRANSCRIPT_SYSTEM: Final = "urn:chartgate:transcript-sha256"
PROMPT_TEMPLATE_SYSTEM: Final = "urn:chartgate:prompt-template"
MODEL_SYSTEM: Final = "urn:chartgate:model"
POLICY_URI_PREFIX: Final = "urn:chartgate:policy:"

# http://hl7.org/fhir/R4/valueset-provenance-agent-type.html
PARTICIPANT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
US_CORE_PARTICIPANT_TYPE: Final = (
    "http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type"
)
# http://terminology.hl7.org/CodeSystem/v3-DataOperation
DATA_OPERATION: Final = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"

# HL7 AI Transparency IG (ballot): labels for AI-generated content.
V3_OBSERVATION_VALUE: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
AI_ASSISTED: Final = "AIAST"
AI_ADDED_PROVENANCE: Final = "http://hl7.org/fhir/uv/aitransparency/CodeSystem/AddedProvenanceCS"
CLINICIAN_ASSERTED_AI_REPORTED: Final = "CLINAST_AIRPT"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """One Coding."""
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A CodeableConcept with one Coding."""
    return {"coding": [coding(system, code, display)]}


def ai_security_labels() -> list[dict[str, Any]]:
    """``meta.security`` for a clinician-approved, AI-drafted note (AI Transparency IG)."""
    return [
        coding(V3_OBSERVATION_VALUE, AI_ASSISTED, "AI assisted"),
        coding(
            AI_ADDED_PROVENANCE,
            CLINICIAN_ASSERTED_AI_REPORTED,
            "Clinician asserted, AI reported",
        ),
    ]
