"""What chartgate would send, checked: the outbound form of a proposal and the note's rules.

``outbound_resource`` fills the elements chartgate owns (subject, encounter, status, ...) so
a structured proposal can be validated as it would be sent; ``check_note_document`` holds
the US Core DocumentReference / Clinical Notes rules on the note chartgate built. The
rules over a draft version itself are in ``domain/validation.py``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from chartgate.domain import codes
from chartgate.domain import fhir_codes as fc
from chartgate.domain.bindings import check_bindings
from chartgate.domain.findings import Finding, Stage
from chartgate.domain.policy import (
    DOCUMENT_REFERENCE,
)

# --- what would be sent ---------------------------------------------------------------------

_OWNED: Final[dict[str, dict[str, str]]] = {
    # Elements chartgate fills from the draft: the scribe may not set most of them (policy
    # protected_fields), yet FHIR requires some, so the outbound form carries ours.
    "Condition": {"subject": "patient", "encounter": "encounter"},
    "Observation": {"subject": "patient", "encounter": "encounter", "status": "preliminary"},
    "MedicationRequest": {
        "subject": "patient",
        "encounter": "encounter",
        "status": "draft",
        "intent": "proposal",
    },
    "AllergyIntolerance": {"patient": "patient", "encounter": "encounter"},
    "Composition": {
        "subject": "patient",
        "encounter": "encounter",
        "status": "preliminary",
        "author": "author",
        "date": "date",
    },
    "Immunization": {"patient": "patient", "encounter": "encounter", "status": "completed"},
    "Procedure": {"subject": "patient", "encounter": "encounter"},
    "ServiceRequest": {"subject": "patient", "encounter": "encounter"},
}


def outbound_resource(
    resource: Mapping[str, Any], *, patient: str, encounter: str, author: str, at: datetime
) -> dict[str, Any]:
    """A structured proposal as chartgate would send it: owned elements filled when absent."""
    values: dict[str, Any] = {
        "patient": {"reference": patient},
        "encounter": {"reference": encounter},
        "author": [{"reference": author}],
        "date": at.isoformat().replace("+00:00", "Z"),
    }
    out = dict(resource)
    for element, source in _OWNED.get(str(resource.get("resourceType")), {}).items():
        if element not in out:
            out[element] = values.get(source, source)
    return out


# --- US Core DocumentReference (the note) ---------------------------------------------------


def check_note_document(
    document: Mapping[str, Any], *, doc_status: str | None, max_bytes: int
) -> list[Finding]:
    """US Core DocumentReference / Clinical Notes rules on the note chartgate built.

    https://hl7.org/fhir/us/core/StructureDefinition-us-core-documentreference.html and
    FHIR-FACTS.md "DocumentReference for notes". These check our own output: a failure
    here is chartgate's bug or a vendor override gone wrong, and it blocks the write.
    """
    out: list[Finding] = [
        Finding.error("binding.invalid-code", v.location, v.message)
        for v in check_bindings(document, location=DOCUMENT_REFERENCE)
    ]
    where = DOCUMENT_REFERENCE

    def need(ok: object, code: str, element: str, message: str) -> None:
        if not ok:
            out.append(Finding.error(code, f"{where}.{element}", message))

    need(document.get("status"), "uscore.status", "status", "status is required")
    if doc_status is not None:
        need(
            document.get("docStatus") == doc_status,
            "uscore.doc-status",
            "docStatus",
            f"docStatus must be {doc_status} at this step",
        )
    need(
        any(
            c.get("system") == fc.US_CORE_DOCREF_CATEGORY and c.get("code") == fc.CLINICAL_NOTE
            for concept in _list(document.get("category"))
            for c in _list(_map(concept).get("coding"))
        ),
        "uscore.category",
        "category",
        "category must include us-core-documentreference-category|clinical-note",
    )
    loinc = [
        c
        for c in _list(_map(document.get("type")).get("coding"))
        if _map(c).get("system") == fc.LOINC
    ]
    need(loinc, "uscore.type", "type", "type needs a LOINC coding")
    for index, coding in enumerate(loinc):
        problem = codes.loinc_problem(str(_map(coding).get("code", "")))
        need(not problem, "code.invalid-loinc", f"type.coding[{index}].code", f"LOINC {problem}")
    subject = str(_map(document.get("subject")).get("reference", ""))
    need(subject.startswith("Patient/"), "uscore.subject", "subject", "subject must be a Patient")
    need(document.get("date"), "uscore.date", "date", "date is required")
    need(_list(document.get("author")), "uscore.author", "author", "author is required")
    encounters = _list(_map(document.get("context")).get("encounter"))
    need(encounters, "uscore.encounter", "context.encounter", "context.encounter is required")
    contents = _list(document.get("content"))
    need(contents, "uscore.attachment", "content", "content is required")
    for index, content in enumerate(contents):
        out.extend(_attachment_findings(_map(_map(content).get("attachment")), index, max_bytes))
    return out


def _attachment_findings(attachment: Mapping[str, Any], index: int, limit: int) -> list[Finding]:
    where = f"{DOCUMENT_REFERENCE}.content[{index}].attachment"
    out: list[Finding] = []
    if not attachment.get("contentType"):
        out.append(
            Finding.error("uscore.content-type", f"{where}.contentType", "contentType is required")
        )
    data = attachment.get("data")
    if not isinstance(data, str) or not data:
        if not attachment.get("url"):
            out.append(
                Finding.error("uscore.attachment-data", where, "attachment needs data or url")
            )
        return out
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return [
            *out,
            Finding.error("uscore.attachment-data", f"{where}.data", "data is not base64"),
        ]
    if attachment.get("size") != len(raw):
        out.append(
            Finding.error(
                "uscore.attachment-size", f"{where}.size", "size must be the decoded data's length"
            )
        )
    if len(raw) > limit:
        out.append(
            Finding.error(
                "uscore.attachment-too-large",
                f"{where}.data",
                f"the attachment is {len(raw)} bytes, over the policy limit of {limit}",
                stage=Stage.SUBMIT,
            )
        )
    return out


def _list(value: Any) -> list[Any]:  # noqa: ANN401 - JSON
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:  # noqa: ANN401 - JSON
    return value if isinstance(value, Mapping) else {}
