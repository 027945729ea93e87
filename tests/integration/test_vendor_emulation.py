"""Every vendor profile, end to end at the gateway: what chartgate sends is what the EHR takes.

For each product profile, the sandbox imitates that EHR and the shared gateway talks to it with
the product profile: the note is built in the profile's content type and docStatus, created
with the profile's create guard, found (or not) by identifier, given its Provenance the
profile's way (or refused before sending), amended as the profile says and retracted with
If-Match. What landed is read back from the emulated chart.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from builders import CLINICIAN, ENCOUNTER, PATIENT, SOAP_NOTE, submission
from chartgate.adapters.ehr.fhir_rest import FhirRestGateway
from chartgate.adapters.ehr.http import build_client
from chartgate.adapters.ehr.vendors import VENDORS, get_vendor
from chartgate.domain.documents import (
    NoteWrite,
    attachment_text,
    build_document_reference,
    retraction_of,
)
from chartgate.domain.errors import EhrNotAllowed
from chartgate.domain.provenance import ProvenanceFacts, build_provenance
from chartgate.domain.submission import DraftSubmission, Note, VersionContent
from chartgate.domain.vendor_profile import AmendmentMode, ProvenanceMode, VendorProfile
from chartgate.domain.writeback import CreateGuard, client_id
from chartgate.sandbox.server import SandboxServer
from fakes import open_gate

AT = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


@pytest.fixture(params=sorted(VENDORS))
def emulated(
    request: pytest.FixtureRequest, tmp_path
) -> Iterator[tuple[VendorProfile, FhirRestGateway]]:
    """The sandbox imitating one profile, and a gateway using the product profile of that name."""
    profile = get_vendor(request.param)
    with (
        SandboxServer(tmp_path / "ehr.sqlite3", vendor=profile.name) as sandbox,
        build_client(gate=open_gate(), timeout_seconds=10) as client,
    ):
        yield profile, FhirRestGateway(sandbox.fhir_base, client=client, vendor=profile)


def _note(profile: VendorProfile, writeback_id: str, *, replaces: str | None = None) -> dict:
    note = Note(type="11506-3", title="Progress note", content_type="text/markdown", text=SOAP_NOTE)
    return build_document_reference(
        NoteWrite(
            writeback_id=writeback_id,
            patient=PATIENT,
            encounter=ENCOUNTER,
            author=CLINICIAN,
            content=VersionContent(note=note),
            doc_status="preliminary" if profile.accepts_preliminary else "final",
            date=AT,
            content_type=profile.note_media_type(note.content_type),
            replaces=replaces,
            routes_for_signing=profile.authenticator.value == "routes-for-signing",
        )
    )


def _create(gateway: FhirRestGateway, profile: VendorProfile, resource: dict, wid: str):
    if profile.idempotent_create is CreateGuard.CLIENT_ID:
        body = {**resource, "id": client_id(wid, resource["resourceType"])}
        return gateway.create_with_id(body, request_id=wid)
    condition = f"identifier=urn:chartgate:writeback|{wid}"
    return gateway.create(resource, if_none_exist=condition, request_id=wid)


def test_each_profile_writes_amends_and_retracts_what_its_ehr_takes(emulated) -> None:
    """Create, read back, find, Provenance, amend and retract, each as the profile says."""
    profile, gateway = emulated
    wid = str(uuid.uuid4())
    created = _create(gateway, profile, _note(profile, wid), wid)
    assert created.status == 201, created.outcome
    landed = gateway.read("DocumentReference", str(created.resource_id), request_id=wid)
    assert attachment_text(landed.resource or {}) == SOAP_NOTE  # converted, never changed
    assert landed.resource["content"][0]["attachment"]["contentType"].startswith(
        profile.note_media_type("text/markdown")
    )

    query = {"identifier": f"urn:chartgate:writeback|{wid}"}
    if profile.identifier_search:
        assert len(gateway.search("DocumentReference", query, request_id=wid)) == 1
    else:
        with pytest.raises(EhrNotAllowed):
            gateway.search("DocumentReference", query, request_id=wid)

    target = f"DocumentReference/{created.resource_id}/_history/{created.version_id}"
    provenance = build_provenance(
        ProvenanceFacts(
            writeback_id=wid,
            target=target,
            activity="CREATE",
            recorded=AT,
            clinician=CLINICIAN,
            origin=DraftSubmission.model_validate(submission()).origin,
            draft_id="draft-1",
            version=1,
            content_hash="sha256:" + "ab" * 32,
            policy_hash="sha256:" + "cd" * 32,
            gateway_version="0.1.0",
        )
    )
    if profile.provenance_mode is ProvenanceMode.NONE:
        with pytest.raises(EhrNotAllowed):
            gateway.create(provenance, if_none_exist=None, request_id=wid)
    else:
        assert gateway.create(provenance, if_none_exist=None, request_id=wid).status == 201

    if profile.amendment_mode is AmendmentMode.REPLACES:
        amended_id = str(uuid.uuid4())
        document = f"DocumentReference/{created.resource_id}"
        amendment = _create(
            gateway, profile, _note(profile, amended_id, replaces=document), amended_id
        )
        assert amendment.status == 201, amendment.outcome
        assert (
            amendment.resource is None or amendment.resource["relatesTo"][0]["code"] == "replaces"
        )

    retracted = gateway.update(
        retraction_of(
            landed.resource or {},
            document_id=str(created.resource_id),
            version_id=str(landed.version_id),
        ),
        if_match=str(landed.version_id),
        request_id=wid,
    )
    assert retracted.status == 200, retracted.outcome
    after = gateway.read("DocumentReference", str(created.resource_id), request_id=wid)
    assert after.resource["status"] == "entered-in-error"
