"""The JSON chartgate emits passes an independent validator: Medplum's ``$validate``.

Our own validation runs over ``fhir.resources`` R4B models (ADR 0009); here the same
DocumentReference and Provenance, built by ``domain.documents`` and ``domain.provenance``,
go to the Medplum test EHR's ``POST /fhir/R4/{type}/$validate``, which checks them against
the base R4 StructureDefinitions. Synthetic data only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from builders import CLINICIAN, ENCOUNTER, PATIENT, submission
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.domain.documents import NoteWrite, build_document_reference
from chartgate.domain.note_document import check_note_document
from chartgate.domain.submission import DraftSubmission
from chartgate.service.validation import provenance_for

pytestmark = pytest.mark.medplum

AT = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
FHIR_JSON = "application/fhir+json"


@pytest.fixture
def fhir(medplum_fresh_base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=medplum_fresh_base_url,
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        timeout=10,
    ) as client:
        yield client


def medplum_errors(fhir: httpx.Client, resource: dict[str, Any]) -> list[dict[str, Any]]:
    """Medplum's error issues for ``resource`` (empty when it validates)."""
    response = fhir.post(f"{resource['resourceType']}/$validate", json=resource)
    assert response.status_code in {200, 400}, response.text
    return [i for i in response.json()["issue"] if i["severity"] in {"error", "fatal"}]


def note_document(doc_status: str = "preliminary", **write: Any) -> dict[str, Any]:
    content = DraftSubmission.model_validate(submission()).content()
    return build_document_reference(
        NoteWrite(
            writeback_id="3f1c2a9e-0000-4000-8000-000000000001",
            patient=PATIENT,
            encounter=ENCOUNTER,
            author=CLINICIAN,
            content=content,
            doc_status=doc_status,
            date=AT,
            encounter_start=AT,
            **write,
        )
    )


def provenance() -> dict[str, Any]:
    origin = DraftSubmission.model_validate(submission()).origin
    return provenance_for(
        origin=origin,
        draft_id="draft-1",
        version=2,
        content_hash="sha256:" + "a" * 64,
        clinician=CLINICIAN,
        at=AT,
        policy_hash="sha256:" + "b" * 64,
    )


@pytest.mark.parametrize("doc_status", ["preliminary", "final"])
def test_our_note_document_validates_in_medplum_and_in_our_models(
    fhir: httpx.Client, doc_status: str
) -> None:
    """The DocumentReference for approve and for finalize passes both validators."""
    document = note_document(doc_status)
    assert medplum_errors(fhir, document) == []
    assert R4BSchema().check(document, location="DocumentReference") == []
    assert check_note_document(document, doc_status=doc_status, max_bytes=1 << 20) == []


def test_an_epic_text_plain_note_validates_in_medplum(fhir: httpx.Client) -> None:
    """The vendor override of the content type still yields a valid document."""
    assert medplum_errors(fhir, note_document(content_type="text/plain")) == []


def test_our_provenance_validates_in_medplum_and_in_our_models(fhir: httpx.Client) -> None:
    """The Provenance (contained AI Device, agents, entities) passes both validators."""
    resource = provenance()
    assert medplum_errors(fhir, resource) == []
    assert R4BSchema().check(resource, location="Provenance") == []


def test_both_validators_refuse_a_structurally_broken_document(fhir: httpx.Client) -> None:
    """An unknown element and a missing required one are errors for Medplum and for us."""
    document = note_document()
    document["contentz"] = document.pop("content")
    assert medplum_errors(fhir, document)
    codes = {f.code for f in R4BSchema().check(document, location="DocumentReference")}
    assert codes == {"fhir.unknown-element", "fhir.missing-element"}


def test_a_bogus_doc_status_passes_medplum_but_not_our_binding_check(fhir: httpx.Client) -> None:
    """Why we check required bindings ourselves: no model validator rejects docStatus 'bogus'."""
    document = copy.deepcopy(note_document())
    document["docStatus"] = "bogus"
    document["status"] = "bogus"
    assert medplum_errors(fhir, document) == []  # the independent validator accepts it
    assert R4BSchema().check(document, location="DocumentReference") == []  # so do the models
    findings = check_note_document(document, doc_status="preliminary", max_bytes=1 << 20)
    assert {(f.code, f.location) for f in findings} == {
        ("binding.invalid-code", "DocumentReference.status"),
        ("binding.invalid-code", "DocumentReference.docStatus"),
        ("uscore.doc-status", "DocumentReference.docStatus"),
    }
