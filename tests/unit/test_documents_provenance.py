"""The DocumentReference and Provenance chartgate writes: shape, codes and determinism."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from builders import CLINICIAN, ENCOUNTER, PATIENT, SOAP_NOTE, submission
from chartgate.domain import fhir_codes as fc
from chartgate.domain.documents import (
    NoteWrite,
    attachment_text,
    build_document_reference,
    identifier_query,
)
from chartgate.domain.drafts import hash_content
from chartgate.domain.hashing import canonical_json
from chartgate.domain.provenance import ProvenanceFacts, build_provenance, provenance_tag_query
from chartgate.domain.submission import DraftSubmission, Note, VersionContent

APPROVED_AT = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
WRITEBACK_ID = "6f1c2a9e-0000-4000-8000-000000000001"
POLICY_HASH = "sha256:" + "cd" * 32
UNICODE_NOTE = SOAP_NOTE.replace("37.1 C", "37.1 °C") + "Synthetic patient says “très bien”.\n"


def _submission() -> DraftSubmission:
    return DraftSubmission.model_validate(submission())


def note_write(text: str = SOAP_NOTE, **overrides: object) -> NoteWrite:
    """The write of the synthetic progress note, preliminary, by the synthetic clinician."""
    note = Note(type="11506-3", title="Progress note", content_type="text/markdown", text=text)
    fields: dict[str, object] = {
        "writeback_id": WRITEBACK_ID,
        "patient": PATIENT,
        "encounter": ENCOUNTER,
        "author": CLINICIAN,
        "content": VersionContent(note=note),
        "doc_status": "preliminary",
        "date": APPROVED_AT,
    }
    fields.update(overrides)
    return NoteWrite(**fields)  # type: ignore[arg-type]


def facts(**overrides: object) -> ProvenanceFacts:
    """What the Provenance of the synthetic note asserts."""
    content = note_write().content
    fields: dict[str, object] = {
        "writeback_id": WRITEBACK_ID,
        "target": "DocumentReference/doc-42/_history/1",
        "activity": "CREATE",
        "recorded": APPROVED_AT,
        "clinician": CLINICIAN,
        "origin": _submission().origin,
        "draft_id": "draft-1",
        "version": 2,
        "content_hash": hash_content(content),
        "policy_hash": POLICY_HASH,
        "gateway_version": "0.1.0",
    }
    fields.update(overrides)
    return ProvenanceFacts(**fields)  # type: ignore[arg-type]


def codes(concept: dict) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}


# -- DocumentReference ---------------------------------------------------------------------


def test_the_document_is_a_us_core_clinical_note_of_the_loinc_type() -> None:
    """Type is the note's LOINC code with its display; category is clinical-note."""
    doc = build_document_reference(note_write())
    assert doc["resourceType"] == "DocumentReference"
    assert doc["type"]["coding"] == [
        {"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}
    ]
    assert doc["type"]["text"] == "Progress note"
    assert doc["category"] == [
        {
            "coding": [
                {
                    "system": (
                        "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
                    ),
                    "code": "clinical-note",
                    "display": "Clinical Note",
                }
            ]
        }
    ]


def test_the_document_names_patient_encounter_and_author() -> None:
    """Subject, context.encounter and author are the draft's references, as written."""
    doc = build_document_reference(note_write())
    assert doc["subject"] == {"reference": PATIENT}
    assert doc["context"]["encounter"] == [{"reference": ENCOUNTER}]
    assert doc["author"] == [{"reference": CLINICIAN}]
    assert doc["date"] == "2026-11-24T10:30:00Z"
    assert doc["status"] == "current"


def test_a_preliminary_note_has_no_authenticator() -> None:
    """Until finalize, the note is preliminary and nobody is named as authenticator."""
    doc = build_document_reference(note_write())
    assert doc["docStatus"] == "preliminary"
    assert "authenticator" not in doc


def test_a_final_note_is_authenticated_by_its_author() -> None:
    """Finalizing sets docStatus final and the approving clinician as authenticator."""
    doc = build_document_reference(note_write(doc_status="final"))
    assert doc["docStatus"] == "final"
    assert doc["authenticator"] == {"reference": CLINICIAN}


def test_the_document_carries_the_writeback_business_identifier() -> None:
    """The identifier urn:chartgate:writeback|<id> is the key of the conditional create."""
    doc = build_document_reference(note_write())
    assert doc["identifier"] == [{"system": "urn:chartgate:writeback", "value": WRITEBACK_ID}]
    assert identifier_query(WRITEBACK_ID) == f"identifier=urn:chartgate:writeback|{WRITEBACK_ID}"


@pytest.mark.parametrize("text", [SOAP_NOTE, UNICODE_NOTE], ids=["ascii", "unicode"])
def test_the_attachment_round_trips_the_note_text(text: str) -> None:
    """The base64 attachment decodes back to exactly the approved note text."""
    doc = build_document_reference(note_write(text))
    assert attachment_text(doc) == text
    assert base64.b64decode(doc["content"][0]["attachment"]["data"]).decode("utf-8") == text


def test_the_attachment_size_counts_bytes_not_characters() -> None:
    """Attachment.size is the UTF-8 byte length, which differs from len(text) for accents."""
    attachment = build_document_reference(note_write(UNICODE_NOTE))["content"][0]["attachment"]
    assert attachment["size"] == len(UNICODE_NOTE.encode("utf-8"))
    assert attachment["size"] > len(UNICODE_NOTE)


def test_the_attachment_hash_is_base64_sha1_of_the_data() -> None:
    """Attachment.hash is the base64 SHA-1 of the bytes, as FHIR R4 defines it."""
    attachment = build_document_reference(note_write(UNICODE_NOTE))["content"][0]["attachment"]
    data = base64.b64decode(attachment["data"])
    expected = base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()
    assert attachment["hash"] == expected


def test_the_attachment_says_its_media_type_and_charset() -> None:
    """The content type is the note's own, with charset utf-8, and a title."""
    attachment = build_document_reference(note_write())["content"][0]["attachment"]
    assert attachment["contentType"] == "text/markdown; charset=utf-8"
    assert attachment["title"] == "Progress note"


def test_a_vendor_that_takes_only_plain_text_gets_text_plain() -> None:
    """The content-type override (e.g. Epic) replaces the note's own media type."""
    attachment = build_document_reference(note_write(content_type="text/plain"))["content"][0][
        "attachment"
    ]
    assert attachment["contentType"] == "text/plain; charset=utf-8"


def test_the_encounter_period_is_added_when_known() -> None:
    """context.period.start is the encounter start, when the write knows it."""
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    doc = build_document_reference(note_write(encounter_start=start))
    assert doc["context"]["period"] == {"start": "2026-11-24T09:00:00Z"}
    assert "period" not in build_document_reference(note_write())["context"]


def test_the_document_carries_only_the_aiast_label() -> None:
    """meta.security carries the one AI Transparency label left after reconciliation: AIAST."""
    doc = build_document_reference(note_write())
    assert doc["meta"]["security"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "AIAST",
            "display": "Artificial Intelligence asserted",
        }
    ]


def test_the_document_is_deterministic() -> None:
    """The same approved write builds byte-identical canonical JSON every time."""
    one = build_document_reference(note_write(UNICODE_NOTE))
    two = build_document_reference(note_write(UNICODE_NOTE))
    assert canonical_json(one) == canonical_json(two)


def test_documents_do_not_share_mutable_parts() -> None:
    """Changing one built document (as finalize does with meta) leaves the next one intact."""
    one = build_document_reference(note_write())
    one["meta"]["versionId"] = "7"
    one["meta"]["security"].clear()
    two = build_document_reference(note_write())
    assert "versionId" not in two["meta"]
    assert len(two["meta"]["security"]) == 1


# -- Provenance ----------------------------------------------------------------------------


def agent(provenance: dict, code: str, who: str | None = None) -> dict:
    """The one agent of the given participant type (and reference, when given)."""
    found = [
        a
        for a in provenance["agent"]
        if a["type"]["coding"][0]["code"] == code and who in (None, a["who"]["reference"])
    ]
    assert len(found) == 1, code
    return found[0]


def entity(provenance: dict, system: str) -> dict:
    """The one entity identified in the given system."""
    found = [e for e in provenance["entity"] if e["what"]["identifier"]["system"] == system]
    assert len(found) == 1, system
    return found[0]


def test_the_provenance_targets_the_version_specific_document() -> None:
    """The target is the document version it describes; activity is the data operation."""
    provenance = build_provenance(facts())
    assert provenance["resourceType"] == "Provenance"
    assert provenance["target"] == [{"reference": "DocumentReference/doc-42/_history/1"}]
    assert codes(provenance["activity"]) == {(fc.DATA_OPERATION, "CREATE")}
    assert provenance["recorded"] == "2026-11-24T10:30:00Z"


AIT = "http://hl7.org/fhir/uv/aitransparency"
AI_DEVICE_TYPE_CS = f"{AIT}/CodeSystem/AIdeviceTypeCS"


def test_the_clinician_is_verifier_and_author() -> None:
    """The approving clinician is the verifier ("verified by a human") and the note's author."""
    provenance = build_provenance(facts())
    for code in ("author", "verifier"):
        found = agent(provenance, code, CLINICIAN)
        assert found["who"] == {"reference": CLINICIAN}
        assert codes(found["type"]) == {(fc.PARTICIPANT_TYPE, code)}


def test_the_provenance_claims_the_ai_provenance_profile() -> None:
    """meta.profile names the IG's AI-Provenance profile."""
    provenance = build_provenance(facts())
    assert provenance["meta"]["profile"] == [f"{AIT}/StructureDefinition/AI-Provenance"]


def test_the_reason_is_aiast() -> None:
    """Reason (slice AIReason) is v3-ObservationValue#AIAST, nothing else."""
    provenance = build_provenance(facts())
    assert [codes(r) for r in provenance["reason"]] == [
        {("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "AIAST")}
    ]


def test_the_ai_agent_is_an_author_with_the_fixed_ai_role() -> None:
    """AIagent: who is the contained AI-Device, type author (how it was used), role fixed."""
    provenance = build_provenance(facts())
    ai = agent(provenance, "author", "#ai-model")
    assert codes(ai["type"]) == {(fc.PARTICIPANT_TYPE, "author")}
    assert len(ai["type"]["coding"]) == 1
    assert [codes(r) for r in ai["role"]] == [{(AI_DEVICE_TYPE_CS, "Artificial-Intelligence")}]
    assert ai["who"]["display"] == "example-scribe-llm 2026.10.1"
    assert not any(a["type"]["coding"][0]["code"] == "assembler" for a in provenance["agent"])


def test_the_ai_model_is_a_contained_ai_device() -> None:
    """AI-Device: type Artificial-Intelligence, AIKind Large-Language-Models, name, version."""
    provenance = build_provenance(facts())
    device = next(r for r in provenance["contained"] if r["id"] == "ai-model")
    assert device["resourceType"] == "Device"
    assert device["meta"]["profile"] == [f"{AIT}/StructureDefinition/AI-Device"]
    assert codes(device["type"]) == {(AI_DEVICE_TYPE_CS, "Artificial-Intelligence")}
    assert device["extension"] == [
        {
            "url": f"{AIT}/StructureDefinition/aitransparency.AIKind",
            "valueCodeableConcept": {
                "coding": [{"system": AI_DEVICE_TYPE_CS, "code": "Large-Language-Models"}]
            },
        }
    ]
    assert "note" not in device  # the IG no longer uses Device.note
    assert device["deviceName"][0]["name"] == "example-scribe-llm"
    assert device["version"] == [{"value": "2026.10.1"}]
    assert device["identifier"] == [
        {"system": "urn:chartgate:model", "value": "example-scribe-llm|2026.10.1"}
    ]


def test_a_known_model_card_is_referenced_from_device_and_entity() -> None:
    """With a model card, the AI-Device links it and a modelCard entity (derivation) names it."""
    card = "DocumentReference/model-card-1"
    provenance = build_provenance(facts(model_card=card))
    device = next(r for r in provenance["contained"] if r["id"] == "ai-model")
    assert {
        "url": f"{AIT}/StructureDefinition/aitransparency.modelCardDescription",
        "valueReference": {"reference": card},
    } in device["extension"]
    assert {"role": "derivation", "what": {"reference": card}} in provenance["entity"]
    without = build_provenance(facts())
    assert all(e["what"].get("reference") != card for e in without["entity"])


def test_chartgate_is_the_transmitter() -> None:
    """The gateway is a contained Device in the US Core transmitter role, with its version."""
    provenance = build_provenance(facts())
    transmitter = agent(provenance, "transmitter")
    assert codes(transmitter["type"]) == {(fc.US_CORE_PARTICIPANT_TYPE, "transmitter")}
    assert transmitter["who"]["reference"] == "#gateway"
    gateway = next(r for r in provenance["contained"] if r["id"] == "gateway")
    assert gateway["version"] == [{"value": "0.1.0"}]


def test_every_contained_reference_resolves() -> None:
    """Each ``#id`` an agent points at is a contained resource (FHIR dom-3)."""
    provenance = build_provenance(facts())
    contained = {f"#{r['id']}" for r in provenance["contained"]}
    local = {a["who"]["reference"] for a in provenance["agent"]} - {CLINICIAN}
    assert local == contained


def test_the_entities_name_draft_version_transcript_and_prompt_template() -> None:
    """Entities: the approved draft version, the transcript hash and the prompt template."""
    provenance = build_provenance(facts())
    version = entity(provenance, "urn:chartgate:draft-version")
    assert version["role"] == "derivation"
    assert version["what"]["identifier"]["value"] == "draft-1/v2"
    assert hash_content(note_write().content) in version["what"]["display"]
    transcript = entity(provenance, "urn:chartgate:transcript-sha256")
    assert transcript["role"] == "source"
    assert transcript["what"]["identifier"]["value"] == _submission().origin.transcript_sha256
    template = entity(provenance, "urn:chartgate:prompt-template")
    assert template["role"] == "derivation"  # slice inputPrompt
    assert template["what"]["type"] == "DocumentReference"
    assert template["what"]["identifier"]["value"] == "soap-v3"
    assert set(template["what"]) == {"type", "identifier", "display"}  # never the prompt


def test_the_provenance_records_the_policy_hash() -> None:
    """The policy element holds the write-back matrix's content hash as a URI."""
    provenance = build_provenance(facts())
    assert provenance["policy"] == [f"urn:chartgate:policy:{POLICY_HASH}"]


def test_the_provenance_is_tagged_with_the_writeback_and_labelled_ai() -> None:
    """meta.tag finds it by write-back id (unchanged); meta.security carries AIAST only."""
    provenance = build_provenance(facts())
    assert provenance["meta"]["tag"] == [
        {"system": "urn:chartgate:writeback", "code": WRITEBACK_ID}
    ]
    assert [(c["system"], c["code"]) for c in provenance["meta"]["security"]] == [
        ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "AIAST")
    ]
    assert provenance_tag_query(WRITEBACK_ID) == f"_tag=urn:chartgate:writeback|{WRITEBACK_ID}"


def test_the_provenance_is_deterministic() -> None:
    """The same facts build byte-identical canonical JSON every time."""
    assert canonical_json(build_provenance(facts())) == canonical_json(build_provenance(facts()))


def test_an_update_is_recorded_as_an_update() -> None:
    """A finalize write's Provenance says UPDATE."""
    provenance = build_provenance(facts(activity="UPDATE"))
    assert codes(provenance["activity"]) == {(fc.DATA_OPERATION, "UPDATE")}


def test_neither_resource_carries_the_transcript_itself() -> None:
    """Only the transcript's hash leaves chartgate; the note text is only in the attachment."""
    provenance = build_provenance(facts())
    assert "Subjective" not in canonical_json(provenance).decode()
    doc = build_document_reference(note_write())
    assert (
        "Subjective"
        not in canonical_json({k: v for k, v in doc.items() if k != "content"}).decode()
    )


def test_a_note_routed_for_signing_names_its_authenticator_from_the_start() -> None:
    """Where the EHR routes new notes to a signer (athenaPractice), authenticator is always set."""
    routed = build_document_reference(note_write(routes_for_signing=True))
    assert routed["docStatus"] == "preliminary"
    assert routed["authenticator"] == {"reference": CLINICIAN}
    assert "authenticator" not in build_document_reference(note_write())
