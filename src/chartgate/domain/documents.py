"""The DocumentReference chartgate writes for an approved note.

US Core DocumentReference / Clinical Notes shape: status, docStatus, LOINC type, category
``clinical-note``, subject, date, author, context.encounter, and one attachment with the
note as base64 text. The business identifier ``urn:chartgate:writeback|<uuid>`` makes the
write findable (and, where the EHR supports it, conditional).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chartgate.domain import fhir_codes as fc
from chartgate.domain.note_content import decode_note, encode_note, wire_content_type
from chartgate.domain.submission import VersionContent


@dataclass(frozen=True, slots=True)
class NoteWrite:
    """Everything needed to build one note's DocumentReference, all decided at approval."""

    writeback_id: str
    patient: str
    encounter: str
    author: str
    content: VersionContent
    doc_status: str  # preliminary | final | amended
    date: datetime
    encounter_start: datetime | None = None
    content_type: str | None = None  # the EHR's type when it differs (vendor profile)
    replaces: str | None = None  # "DocumentReference/<id>" an amendment replaces
    routes_for_signing: bool = False
    """The EHR routes a new document to ``authenticator`` for signature (vendor profile
    ``authenticator = routes-for-signing``, athenaPractice): the author is sent as
    authenticator on every write, not only once final."""
    footer: str = ""
    """Appended to the note text: the attestation footer where the EHR takes no Provenance
    (``service/provenance_travel.note_footer``), decided at approval so it is hashed with it."""


def note_type_of(payload: dict[str, Any]) -> str | None:
    """The LOINC code of a DocumentReference payload; None for any other resource."""
    if payload.get("resourceType", "DocumentReference") != "DocumentReference":
        return None
    codings = (payload.get("type") or {}).get("coding") or []
    code = codings[0].get("code") if codings else None
    return code if isinstance(code, str) else None


def identifier_query(writeback_id: str) -> str:
    """The search (and ``If-None-Exist``) that finds this write-back's document."""
    return f"identifier={fc.WRITEBACK_SYSTEM}|{writeback_id}"


def build_document_reference(write: NoteWrite) -> dict[str, Any]:
    """Build the DocumentReference JSON for one approved note (deterministic)."""
    note = write.content.note
    # Lossless conversion to what the EHR takes (domain/note_content.py): plain text and
    # Markdown as UTF-8, RTF for athenaPractice; attachment_text() inverts it exactly.
    media_type = write.content_type or note.content_type
    data = encode_note(note.text + write.footer, media_type)
    content_type = wire_content_type(media_type)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "meta": {"security": fc.ai_security_labels()},
        "identifier": [{"system": fc.WRITEBACK_SYSTEM, "value": write.writeback_id}],
        "status": "current",
        "docStatus": write.doc_status,
        "type": {
            "coding": [fc.coding(fc.LOINC, note.type, fc.NOTE_TYPES.get(note.type))],
            "text": note.title,
        },
        "category": [fc.concept(fc.US_CORE_DOCREF_CATEGORY, fc.CLINICAL_NOTE, "Clinical Note")],
        "subject": {"reference": write.patient},
        "date": _instant(write.date),
        "author": [{"reference": write.author}],
        "description": note.title,
        "content": [
            {
                "attachment": {
                    "contentType": content_type,
                    "data": base64.b64encode(data).decode("ascii"),
                    "size": len(data),
                    # FHIR R4 defines Attachment.hash as base64 SHA-1 of the data.
                    "hash": base64.b64encode(
                        hashlib.sha1(data, usedforsecurity=False).digest()
                    ).decode("ascii"),
                    "title": note.title,
                }
            }
        ],
        "context": {"encounter": [{"reference": write.encounter}]},
    }
    if write.encounter_start is not None:
        resource["context"]["period"] = {"start": _instant(write.encounter_start)}
    if write.doc_status == "final" or write.routes_for_signing:
        resource["authenticator"] = {"reference": write.author}
    if write.replaces is not None:
        # http://hl7.org/fhir/R4/documentreference-definitions.html#DocumentReference.relatesTo
        resource["relatesTo"] = [{"code": "replaces", "target": {"reference": write.replaces}}]
    return resource


def replaced_document(document: dict[str, Any]) -> str | None:
    """The ``DocumentReference/<id>`` this document replaces (``relatesTo = replaces``), if any."""
    for relation in document.get("relatesTo", []):
        if relation.get("code") == "replaces":
            reference = relation.get("target", {}).get("reference")
            return str(reference) if reference else None
    return None


def retraction_of(document: dict[str, Any], *, document_id: str, version_id: str) -> dict[str, Any]:
    """The committed document marked ``entered-in-error``, to PUT with If-Match.

    The content is left exactly as approved: retraction changes status, never the note.
    """
    retracted = {**document, "id": document_id, "status": "entered-in-error"}
    retracted["docStatus"] = "entered-in-error"
    retracted["meta"] = {**document.get("meta", {}), "versionId": version_id}
    return retracted


def attachment_text(document: dict[str, Any]) -> str:
    """Decode the note text back out of a DocumentReference we built (any note encoding)."""
    attachment = document["content"][0]["attachment"]
    return decode_note(base64.b64decode(attachment["data"]), attachment["contentType"])


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
