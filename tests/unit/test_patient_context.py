"""The right patient and encounter, read from the EHR and judged (issue 13 item 6)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from builders import draft_in
from chartgate.domain.errors import ChartContextRefused, EhrError
from chartgate.domain.patient_context import ContextProblem, PatientContext, judge_context
from chartgate.domain.vendor_profile import VendorProfile
from chartgate.sandbox.seed import SANDBOX_MRN_SYSTEM
from chartgate.service.patient_context import (
    check_context,
    read_patient_context,
    with_location_name,
)
from fakes import FakeDirectory, FakeEhr

DOCUMENTABLE = frozenset({"in-progress", "finished"})
ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "enc-001",
    "status": "in-progress",
    "subject": {"reference": "Patient/pat-001"},
    "period": {"start": "2026-11-24T09:30:00Z"},
}
PATIENT = {
    "resourceType": "Patient",
    "id": "pat-001",
    "identifier": [
        {"system": "urn:other", "value": "X-9"},
        {"system": SANDBOX_MRN_SYSTEM, "value": "SYN-0001"},
    ],
    "name": [{"use": "official", "family": "Synthetic", "given": ["Alex"]}],
    "birthDate": "1970-01-01",
}


def judge(**overrides: Any) -> PatientContext | ContextProblem:
    facts: dict[str, Any] = {
        "patient_ref": "Patient/pat-001",
        "encounter_ref": "Encounter/enc-001",
        "patient": PATIENT,
        "encounter": ENCOUNTER,
        "documentable": DOCUMENTABLE,
        "mrn_system": SANDBOX_MRN_SYSTEM,
    }
    facts.update(overrides)
    return judge_context(**facts)


def test_the_right_patient_and_encounter_give_the_banner_facts() -> None:
    """A documentable encounter of the draft's patient yields name, birth date, MRN and date."""
    judged = judge()
    assert isinstance(judged, PatientContext)
    assert judged.banner() == {
        "name": "Alex Synthetic",
        "birth_date": "1970-01-01",
        "mrn": "SYN-0001",
        "encounter_date": "2026-11-24",
        "encounter_status": "in-progress",
        "location": None,
    }


def test_a_missing_encounter_is_refused() -> None:
    """An encounter the EHR does not have refuses the note."""
    assert judge(encounter=None) is ContextProblem.ENCOUNTER_MISSING


def test_another_patients_encounter_is_refused() -> None:
    """An encounter whose subject is another patient refuses the note (wrong chart)."""
    other = {**ENCOUNTER, "subject": {"reference": "Patient/pat-002"}}
    assert judge(encounter=other) is ContextProblem.OTHER_PATIENT


def test_an_absolute_subject_reference_to_the_same_patient_is_accepted() -> None:
    """The EHR may answer with an absolute reference; it names the same patient."""
    absolute = {**ENCOUNTER, "subject": {"reference": "https://ehr.example/fhir/Patient/pat-001"}}
    assert isinstance(judge(encounter=absolute), PatientContext)


def test_an_encounter_without_subject_is_refused() -> None:
    """No subject cannot prove the patient: refused as another patient's."""
    bare = {k: v for k, v in ENCOUNTER.items() if k != "subject"}
    assert judge(encounter=bare) is ContextProblem.OTHER_PATIENT


@pytest.mark.parametrize("status", ["planned", "cancelled", "entered-in-error", "unknown"])
def test_an_encounter_status_the_profile_does_not_document_is_refused(status: str) -> None:
    """Only the profile's documentable statuses take a note."""
    judged = judge(encounter={**ENCOUNTER, "status": status})
    assert judged is ContextProblem.STATUS_NOT_DOCUMENTABLE


def test_a_missing_patient_is_refused() -> None:
    """The encounter's patient must exist too."""
    assert judge(patient=None) is ContextProblem.PATIENT_MISSING


def test_without_a_tenant_mrn_system_the_identifier_typed_mr_is_the_mrn() -> None:
    """Where the tenant names no MRN system, the v2-0203 ``MR`` identifier is shown."""
    typed = {
        **PATIENT,
        "identifier": [
            {"system": "urn:ssn", "value": "000"},
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "value": "MR-7",
            },
        ],
    }
    judged = judge(patient=typed, mrn_system=None)
    assert isinstance(judged, PatientContext)
    assert judged.mrn == "MR-7"


def _directory(ehr: FakeEhr, **profile: Any) -> FakeDirectory:
    class Directory(FakeDirectory):
        def profile(self, tenant: str) -> VendorProfile:
            return replace(super().profile(tenant), **profile)

    return Directory(ehr)


def test_the_read_uses_elements_where_the_profile_supports_it() -> None:
    """A minimum-necessary read: only status/period/subject/location of the Encounter."""
    ehr = FakeEhr()
    seen: list[dict[str, str]] = []
    search = ehr.search

    def spy(resource_type: str, params: Any, *, request_id: str) -> list[dict[str, Any]]:
        seen.append(dict(params))
        return search(resource_type, params, request_id=request_id)

    ehr.search = spy  # type: ignore[method-assign]
    judged = read_patient_context(_directory(ehr), draft_in(), request_id="r-1")
    assert isinstance(judged, PatientContext)
    assert seen[0] == {"_id": "enc-001", "_elements": "status,period,subject,location"}
    assert seen[1] == {"_id": "pat-001", "_elements": "identifier,name,birthDate"}


def test_the_read_falls_back_to_a_plain_read_without_elements_support() -> None:
    """An EHR without ``_elements`` (Epic profile) is read resource by resource."""
    ehr = FakeEhr()
    judged = read_patient_context(
        _directory(ehr, elements_search=False), draft_in(), request_id="r-1"
    )
    assert isinstance(judged, PatientContext)
    assert ehr.requests == [("GET", "Encounter"), ("GET", "Patient")]


def test_a_deleted_encounter_refuses_with_a_409_error() -> None:
    """``check_context`` turns a problem into ``ChartContextRefused`` naming no PHI."""
    ehr = FakeEhr()
    del ehr.resources["Encounter", "enc-001"]
    with pytest.raises(ChartContextRefused, match="does not exist"):
        check_context(_directory(ehr, elements_search=False), draft_in(), request_id="r-1")


def test_a_failed_read_is_an_ehr_error_never_a_refusal() -> None:
    """A 500 on the read proves nothing: an ``EhrError`` (retry), not "missing"."""
    ehr = FakeEhr()
    ehr.fail_next("status", status=500)
    with pytest.raises(EhrError) as raised:
        check_context(_directory(ehr, elements_search=False), draft_in(), request_id="r-1")
    assert not isinstance(raised.value, ChartContextRefused)


def test_the_encounters_active_location_is_named_from_its_display() -> None:
    """The banner's location: the active one of the Encounter's locations, by its display."""
    moved = {
        **ENCOUNTER,
        "location": [
            {
                "location": {"reference": "Location/l-1", "display": "Waiting room"},
                "status": "completed",
            },
            {
                "location": {"reference": "Location/l-2", "display": "Exam room 3"},
                "status": "active",
            },
            {"location": {"reference": "Location/l-3", "display": "Ward 9"}, "status": "planned"},
        ],
    }
    judged = judge(encounter=moved)
    assert isinstance(judged, PatientContext)
    assert judged.banner()["location"] == "Exam room 3"
    assert judged.location_ref == "Location/l-2"


def test_a_planned_location_is_not_where_the_encounter_is() -> None:
    """Only a planned location: the banner names none."""
    planned = {
        **ENCOUNTER,
        "location": [{"location": {"display": "Ward 9"}, "status": "planned"}],
    }
    judged = judge(encounter=planned)
    assert isinstance(judged, PatientContext)
    assert judged.location is None


def test_a_location_without_display_is_read_by_name_only() -> None:
    """No display on the seeded encounter's location: its name alone is read for the banner.

    Location/loc-001 is read with ``_elements=name`` (minimum necessary).
    """
    ehr = FakeEhr()
    seen: list[tuple[str, dict[str, str]]] = []
    search = ehr.search

    def spy(resource_type: str, params: Any, *, request_id: str) -> list[dict[str, Any]]:
        seen.append((resource_type, dict(params)))
        return search(resource_type, params, request_id=request_id)

    ehr.search = spy  # type: ignore[method-assign]
    directory = _directory(ehr)
    judged = read_patient_context(directory, draft_in(), request_id="r-1")
    assert isinstance(judged, PatientContext)
    assert judged.location is None
    assert judged.location_ref == "Location/loc-001"
    named = with_location_name(directory, "clinic-a", judged, request_id="r-1")
    assert named.location == "Exam room 3, Sandbox Family Clinic (synthetic)"
    assert seen[-1] == ("Location", {"_id": "loc-001", "_elements": "name"})


def test_a_failed_location_read_leaves_the_banner_without_a_location() -> None:
    """The location is for display: a failed read never fails the page or the approval."""
    ehr = FakeEhr()
    directory = _directory(ehr, elements_search=False)
    judged = read_patient_context(directory, draft_in(), request_id="r-1")
    assert isinstance(judged, PatientContext)
    ehr.fail_next("status", status=500)
    named = with_location_name(directory, "clinic-a", judged, request_id="r-1")
    assert named.location is None
    assert named.name == "Alex Synthetic"
