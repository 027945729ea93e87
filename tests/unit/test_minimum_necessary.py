"""Minimum necessary in the domain: read plans, refusals and the cut of an EHR answer."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chartgate.domain.errors import Forbidden, PolicyDenied
from chartgate.domain.minimum_necessary import (
    CLOCK_SKEW,
    ContextRequest,
    check_size,
    plan_read,
    shape,
)
from chartgate.domain.policy.reading import ReadProfile, ReadRule
from chartgate.domain.scribe_session import ScribeSession
from chartgate.policy import load_default_policy

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = START + timedelta(minutes=40)  # the visit is in progress
SESSION = ScribeSession(
    id="s-1",
    tenant="clinic-a",
    patient="Patient/p1",
    encounter="Encounter/e1",
    template="soap-v3",
    scribe_client="scribe",
    opened_by="clinician:c",
    opened_at=START,
    expires_at=START + timedelta(hours=2),
    anchor_at=START,
)


@pytest.fixture(scope="module")
def soap() -> ReadProfile:
    """The shipped soap-v3 read profile."""
    return load_default_policy().policy.read_profiles["soap-v3"]


def observation(**changes: object) -> dict[str, object]:
    """A laboratory Observation of the session's patient, two days before the visit."""
    resource: dict[str, object] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"text": "HbA1c"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-18T09:00:00Z",
        "valueQuantity": {"value": 7.1},
        "note": [{"text": "remark"}],
        "performer": [{"reference": "Practitioner/x"}],
    }
    resource.update(changes)
    return resource


def test_a_search_is_narrowed_to_the_profile(soap: ReadProfile) -> None:
    """Patient, categories, window, sort and count all reach the EHR query."""
    plan = plan_read(soap, SESSION, ContextRequest(resource_type="Observation"), now=NOW)
    params = plan.search_params()
    assert params["patient"] == "Patient/p1"
    assert params["category"] == "laboratory,vital-signs"
    assert params["date"] == ("ge2026-10-21", "le2026-11-20")
    assert params["_sort"] == "-date"
    assert params["_count"] == "50"
    assert "note" not in params["_elements"].split(",")


@pytest.mark.parametrize(
    ("request_", "expression"),
    [
        (ContextRequest(resource_type="Observation", patient="Patient/p2"), "patient"),
        (ContextRequest(resource_type="Observation", encounter="Encounter/e2"), "encounter"),
        (ContextRequest(resource_type="Practitioner"), "type"),
        (ContextRequest(reference="Medication/m1"), "type"),
        (ContextRequest(resource_type="Observation", category="social-history"), "category"),
        (ContextRequest(resource_type="Observation", elements=("id", "note")), "_elements"),
        (ContextRequest(resource_type="Observation", count=51), "_count"),
        (
            ContextRequest(resource_type="Observation", since=START - timedelta(days=31)),
            "since",
        ),
        (ContextRequest(resource_type="Observation", unknown=("_include",)), "query"),
        (ContextRequest(), "type"),
        (ContextRequest(resource_type="Patient", reference="Patient/p1"), "type"),
    ],
)
def test_a_request_outside_the_profile_is_refused(
    soap: ReadProfile, request_: ContextRequest, expression: str
) -> None:
    """Another patient, encounter, type, category, element, row count, window or parameter."""
    with pytest.raises(PolicyDenied) as refused:
        plan_read(soap, SESSION, request_, now=NOW)
    assert refused.value.expression == expression


def test_the_answer_is_cut_tagged_and_checked(soap: ReadProfile) -> None:
    """Only allowed elements survive, with SUBSETTED; foreign, old or off-category rows drop."""
    plan = plan_read(soap, SESSION, ContextRequest(resource_type="Observation"), now=NOW)
    kept = shape(observation(), plan)
    assert kept is not None
    assert set(kept) == {
        "resourceType", "id", "status", "category", "code", "effectiveDateTime",
        "valueQuantity", "meta",
    }  # fmt: skip
    assert kept["meta"]["tag"][-1]["code"] == "SUBSETTED"
    assert shape(observation(subject={"reference": "Patient/p2"}), plan) is None
    assert shape(observation(effectiveDateTime="2025-01-01T00:00:00Z"), plan) is None
    assert shape(observation(effectiveDateTime=None), plan) is None
    social = [{"coding": [{"code": "social-history"}]}]
    assert shape(observation(category=social), plan) is None
    assert shape(observation(resourceType="Condition"), plan) is None


def test_redacted_fields_are_removed_inside_allowed_elements(soap: ReadProfile) -> None:
    """An allergy's reaction is read, its free-text note is not."""
    plan = plan_read(soap, SESSION, ContextRequest(resource_type="AllergyIntolerance"), now=NOW)
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "patient": {"reference": "Patient/p1"},
        "reaction": [{"manifestation": [{"text": "hives"}], "note": [{"text": "remark"}]}],
    }
    kept = shape(allergy, plan)
    assert kept is not None
    assert kept["reaction"] == [{"manifestation": [{"text": "hives"}]}]
    assert "patient" not in kept


def test_the_patient_read_is_the_sessions_patient_only(soap: ReadProfile) -> None:
    """The Patient search is by id; another Patient is never returned."""
    plan = plan_read(soap, SESSION, ContextRequest(resource_type="Patient"), now=NOW)
    assert plan.search_params()["_id"] == "p1"
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "X"}], "gender": "f"}
    assert set(shape(patient, plan) or {}) == {"resourceType", "id", "gender", "meta"}
    assert shape({**patient, "id": "p2"}, plan) is None


def test_a_redaction_must_lie_under_an_allowed_element() -> None:
    """A policy cannot redact what it does not read, nor a whole element."""
    with pytest.raises(ValidationError, match="not under an allowed element"):
        ReadRule(type="Condition", elements=("id", "code"), window_days=None, redact=("note",))
    with pytest.raises(ValidationError, match="whole element"):
        ReadRule(type="Condition", elements=("id", "code"), window_days=None, redact=("code",))


def test_an_expired_or_foreign_session_cannot_be_used() -> None:
    """Only the named scribe client, only before expiry."""
    SESSION.ensure_usable("scribe", START + timedelta(minutes=5))
    for client, at in (("other", START), ("scribe", START + timedelta(hours=2))):
        with pytest.raises(Forbidden, match="no live scribe session"):
            SESSION.ensure_usable(client, at)


def test_an_answer_over_the_byte_cap_is_refused(soap: ReadProfile) -> None:
    """The profile's max_response_bytes bounds one answer; under it, nothing happens."""
    small = soap.model_copy(update={"max_response_bytes": 1024})
    bundle = {"resourceType": "Bundle", "entry": [{"resource": observation()}] * 10}
    check_size(bundle, soap)
    with pytest.raises(PolicyDenied, match="1024-byte cap"):
        check_size(bundle, small)


def test_nothing_dated_after_the_encounter_or_in_the_future_is_read(soap: ReadProfile) -> None:
    """The window is bounded above: the encounter's end, or now while it is in progress."""
    plan = plan_read(soap, SESSION, ContextRequest(resource_type="Observation"), now=NOW)
    assert plan.until == NOW + CLOCK_SKEW
    assert shape(observation(effectiveDateTime="2026-11-20T09:30:00Z"), plan) is not None
    assert shape(observation(effectiveDateTime="2026-11-21T09:00:00Z"), plan) is None  # future
    ended = dataclasses.replace(SESSION, encounter_end=START + timedelta(minutes=30))
    later = NOW + timedelta(days=30)  # the note is written a month after the visit
    plan = plan_read(soap, ended, ContextRequest(resource_type="Observation"), now=later)
    assert plan.until == START + timedelta(minutes=30)
    assert shape(observation(effectiveDateTime="2026-11-20T09:20:00Z"), plan) is not None
    assert shape(observation(effectiveDateTime="2026-12-01T08:00:00Z"), plan) is None  # after
    # A profile may allow results that come back days after the visit; never the future.
    rule = soap.rule("Observation")
    assert rule is not None
    grace = soap.model_copy(
        update={"resources": (rule.model_copy(update={"days_after_encounter": 3}),)}
    )
    plan = plan_read(grace, ended, ContextRequest(resource_type="Observation"), now=later)
    assert shape(observation(effectiveDateTime="2026-11-22T08:00:00Z"), plan) is not None
    assert shape(observation(effectiveDateTime="2026-11-24T08:00:00Z"), plan) is None


def test_asking_past_the_upper_bound_is_refused(soap: ReadProfile) -> None:
    """``until`` beyond the encounter (or now) is refused; before it, it narrows the read."""
    future = ContextRequest(resource_type="Observation", until=NOW + timedelta(days=1))
    with pytest.raises(PolicyDenied) as refused:
        plan_read(soap, SESSION, future, now=NOW)
    assert refused.value.expression == "until"
    earlier = ContextRequest(resource_type="Observation", until=START - timedelta(days=1))
    plan = plan_read(soap, SESSION, earlier, now=NOW)
    assert shape(observation(), plan) is not None  # 2026-11-18: inside
    assert shape(observation(effectiveDateTime="2026-11-19T10:00:00Z"), plan) is None


def test_without_a_lower_bound_the_ehr_is_asked_for_the_upper_one() -> None:
    """A type with no window (the problem list) still never reads past the bound."""
    profile = load_default_policy().policy.read_profiles["hp-v1"]
    plan = plan_read(profile, SESSION, ContextRequest(resource_type="Condition"), now=NOW)
    assert plan.since is None
    assert plan.search_params()["recorded-date"] == "le2026-11-20"
    future = {
        "resourceType": "Condition",
        "id": "c9",
        "subject": {"reference": "Patient/p1"},
        "recordedDate": "2027-01-01",
    }
    assert shape(future, plan) is None
