"""Encounter binding, SMART write scopes and step-up: the authorization rules of issue 4."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chartgate.domain.access import EncounterGrant, binding_basis, launch_covers
from chartgate.domain.errors import Forbidden, NotFound
from chartgate.domain.principal import Principal, Role
from chartgate.service import authz

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PATIENT = "Patient/pat-001"
ENCOUNTER = "Encounter/enc-001"
ISSUER = "https://idp.clinic-a.example"
BASE = "https://ehr/R4"


def clinician(**overrides) -> Principal:
    fields = {
        "tenant": "clinic-a",
        "subject": "dr-a",
        "role": Role.CLINICIAN,
        "fhir_user": "Practitioner/prac-001",
        "amr": ("pwd", "otp"),
        "auth_time": NOW,
        "issuer": ISSUER,
    }
    fields.update(overrides)
    return Principal(**fields)


def test_a_clinician_without_launch_context_or_grant_is_refused():
    """No launch context and no grant means no access, whatever the role scope says."""
    with pytest.raises(NotFound):
        authz.require_encounter(clinician(), ENCOUNTER, patient=PATIENT, now=NOW)


@pytest.mark.parametrize(
    "launch", ["enc-001", "Encounter/enc-001", "https://ehr/R4/Encounter/enc-001"]
)
def test_the_launch_encounter_covers_its_draft(launch):
    """The launch encounter, in any of its spellings, covers the draft of that encounter."""
    principal = clinician(launch_encounter=launch, launch_patient="pat-001")
    basis = authz.require_encounter(principal, ENCOUNTER, patient=PATIENT, now=NOW, base=BASE)
    assert basis == "launch"


def test_another_launch_encounter_is_refused():
    """A launch context on another encounter does not cover the draft."""
    with pytest.raises(NotFound):
        authz.require_encounter(
            clinician(launch_encounter="enc-002"), ENCOUNTER, patient=PATIENT, now=NOW
        )


def test_a_launch_patient_that_differs_from_the_drafts_is_refused():
    """Encounter and patient of the launch must both match when both are present."""
    principal = clinician(launch_encounter="enc-001", launch_patient="pat-999")
    assert not launch_covers(principal, patient=PATIENT, encounter=ENCOUNTER)


def test_a_patient_only_launch_does_not_cover_an_encounter():
    """An approval is bound to an encounter: a patient-level launch is not enough."""
    principal = clinician(launch_patient="pat-001")
    assert (
        binding_basis(principal, patient=PATIENT, encounter=ENCOUNTER, grants=(), now=NOW) is None
    )


def test_a_care_team_grant_covers_its_encounters_and_patients():
    """A grant to this practitioner for the encounter, or for the patient, covers the draft."""
    by_encounter = EncounterGrant(
        "Practitioner/prac-001", encounters=frozenset({"enc-001"}), issuer=ISSUER
    )
    by_patient = EncounterGrant(
        "Practitioner/prac-001", patients=frozenset({"Patient/pat-001"}), issuer=ISSUER
    )
    for grant in (by_encounter, by_patient):
        basis = authz.require_encounter(
            clinician(), ENCOUNTER, patient=PATIENT, grants=(grant,), now=NOW
        )
        assert basis == "grant"


@pytest.mark.parametrize(
    "grant",
    [
        EncounterGrant("Practitioner/prac-002", encounters=frozenset({"enc-001"}), issuer=ISSUER),
        EncounterGrant("Practitioner/prac-001", encounters=frozenset({"enc-002"}), issuer=ISSUER),
        EncounterGrant("Practitioner/prac-001", patients=frozenset({"pat-002"}), issuer=ISSUER),
        EncounterGrant(
            "Practitioner/prac-001",
            encounters=frozenset({"enc-001"}),
            subject="someone-else",
            issuer=ISSUER,
        ),
        EncounterGrant(
            "Practitioner/prac-001",
            encounters=frozenset({"enc-001"}),
            expires_at=NOW,
            issuer=ISSUER,
        ),
        EncounterGrant(
            "Practitioner/prac-001", encounters=frozenset({"enc-001"}), issuer="https://idp.other"
        ),
        EncounterGrant("Practitioner/prac-001", encounters=frozenset({"enc-001"})),
    ],
    ids=[
        "other-practitioner",
        "other-encounter",
        "other-patient",
        "other-login",
        "expired",
        "other-issuer",
        "no-issuer",
    ],
)
def test_a_grant_that_does_not_name_this_draft_is_refused(grant):
    """Grants bind practitioner, optional login, encounter or patient, and expiry."""
    with pytest.raises(NotFound):
        authz.require_encounter(clinician(), ENCOUNTER, patient=PATIENT, grants=(grant,), now=NOW)


def test_grants_are_ignored_without_a_clock():
    """A caller that gives no time cannot rely on grants (they can expire)."""
    grant = EncounterGrant(
        "Practitioner/prac-001", encounters=frozenset({"enc-001"}), issuer=ISSUER
    )
    with pytest.raises(NotFound):
        authz.require_encounter(clinician(), ENCOUNTER, grants=(grant,))


def test_smart_scopes_that_speak_about_notes_narrow_the_write():
    """A token whose DocumentReference scopes allow only reads may not approve a write."""
    authz.require_note_permission(clinician(), "c")  # no note scopes: not narrowed
    authz.require_note_permission(clinician(note_permissions=frozenset("cu")), "c")
    with pytest.raises(Forbidden):
        authz.require_note_permission(clinician(note_permissions=frozenset("rs")), "c")


def test_step_up_demands_recent_auth_at_the_configured_level():
    """Old auth_time or the wrong acr is a StepUpRequired carrying max_age and acr_values."""
    fresh = clinician(acr="urn:acr:mfa")
    authz.require_recent_auth(fresh, now=NOW, acr="urn:acr:mfa")
    with pytest.raises(authz.StepUpRequired) as caught:
        authz.require_recent_auth(
            clinician(acr="urn:acr:mfa", auth_time=NOW - timedelta(minutes=6)),
            now=NOW,
            acr="urn:acr:mfa",
        )
    assert caught.value.max_age == 300
    assert caught.value.acr_values == "urn:acr:mfa"
    with pytest.raises(authz.StepUpRequired):
        authz.require_recent_auth(clinician(acr="urn:acr:pwd"), now=NOW, acr="urn:acr:mfa")
