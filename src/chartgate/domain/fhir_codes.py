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
CONSENT_SYSTEM: Final = "urn:chartgate:consent-sha256"
"""Identifier system of the consent record a note relied on (its digest, issue 17)."""
POLICY_URI_PREFIX: Final = "urn:chartgate:policy:"

# http://hl7.org/fhir/R4/valueset-provenance-agent-type.html
PARTICIPANT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
US_CORE_PARTICIPANT_TYPE: Final = (
    "http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type"
)
# http://terminology.hl7.org/CodeSystem/v3-DataOperation
DATA_OPERATION: Final = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"

# HL7 AI Transparency on FHIR (hl7.fhir.uv.aitransparency, STU1 reconciled, 1.0.0-current):
# https://build.fhir.org/ig/HL7/aitransparency-ig/. The ballot's experimental provenance codes
# were removed in reconciliation (FHIR-54801, FHIR-57918, FHIR-54141): only AIAST remains.
V3_OBSERVATION_VALUE: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
AI_ASSERTED: Final = "AIAST"
AI_ASSERTED_DISPLAY: Final = "Artificial Intelligence asserted"
AIT_BASE: Final = "http://hl7.org/fhir/uv/aitransparency"
AI_PROVENANCE_PROFILE: Final = f"{AIT_BASE}/StructureDefinition/AI-Provenance"
AI_DEVICE_PROFILE: Final = f"{AIT_BASE}/StructureDefinition/AI-Device"
AI_DEVICE_TYPE: Final = f"{AIT_BASE}/CodeSystem/AIdeviceTypeCS"
"""Device type for AI; also the fixed ``agent.role`` of the AI-Provenance AIagent slice."""
ARTIFICIAL_INTELLIGENCE: Final = "Artificial-Intelligence"
LARGE_LANGUAGE_MODELS: Final = "Large-Language-Models"
AI_KIND_EXTENSION: Final = f"{AIT_BASE}/StructureDefinition/aitransparency.AIKind"
MODEL_CARD_EXTENSION: Final = f"{AIT_BASE}/StructureDefinition/aitransparency.modelCardDescription"
AI_INPUTS: Final = f"{AIT_BASE}/CodeSystem/AIinputsCS"
CURRENT_AI_CODE_SYSTEMS: Final = frozenset({AI_DEVICE_TYPE, AI_INPUTS})
"""The IG's code systems that survived reconciliation; its experimental provenance code system
and the ``AI…`` reporting codes of v3-ObservationValue other than AIAST were removed."""


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
    """``meta.security`` of an AI-drafted note and its Provenance: the one label ``AIAST``.

    A security label, not a tag ("refrain from using Tag, use Label", FHIR-54707). "Clinician
    approved" is carried by the Provenance's verifier agent and the note's docStatus, not by
    a label.
    """
    return [coding(V3_OBSERVATION_VALUE, AI_ASSERTED, AI_ASSERTED_DISPLAY)]
