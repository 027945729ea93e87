"""Minimum necessary against the Medplum test EHR (issue 17), on SQLite and PostgreSQL.

A synthetic chart of five years (``tests/synthetic_chart.py``) is loaded into Medplum; a
clinician opens a scribe session for today's encounter and the scribe reads through
``GET /v1/context``. Each read profile returns exactly what it allows, cut to its elements and
tagged SUBSETTED; every attempt outside it is refused with an OperationOutcome and recorded in
the ledger (BALP PatientQuery / PatientRead, outcome 4). Synthetic data only.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from builders import ENCOUNTER, PATIENT
from chartgate.adapters.storage import tables as t
from chartgate.domain.policy.checks import covers
from chartgate.ledger.export import to_audit_event
from stack import Stack
from synthetic_chart import OTHER_ENCOUNTER, OTHER_PATIENT, TODAY, Chart, build_chart

SCRIBE_CLIENT = "scribe-test-client"
DATE_ELEMENT = {
    "Encounter": lambda r: r["period"]["start"],
    "Condition": lambda r: r["recordedDate"],
    "Observation": lambda r: r["effectiveDateTime"],
    "MedicationRequest": lambda r: r["authoredOn"],
    "AllergyIntolerance": lambda r: r["recordedDate"],
    "DocumentReference": lambda r: r["date"],
}


@pytest.fixture
def chart(medplum_stack: Stack) -> Chart:
    """The synthetic chart, loaded into the stack's Medplum EHR."""
    loaded = build_chart()
    with httpx.Client(base_url=medplum_stack.ehr_base, timeout=30) as ehr:
        for bundle in loaded.transactions():
            answer = ehr.post("", json=bundle, headers={"Content-Type": "application/fhir+json"})
            assert answer.status_code == 200, answer.text
    return loaded


def open_session(stack: Stack, template: str = "soap-v3", **body: Any) -> str:
    """The clinician (launched on today's encounter) opens a scribe session; its id."""
    answer = stack.api.post(
        "/v1/scribe-sessions",
        json={
            "patient": PATIENT,
            "encounter": ENCOUNTER,
            "template": template,
            "scribe_client": SCRIBE_CLIENT,
            **body,
        },
        headers=stack.as_clinician(),
    )
    assert answer.status_code == 201, answer.text
    session_id: str = answer.json()["id"]
    return session_id


def context(stack: Stack, session: str, **params: Any) -> httpx.Response:
    """The scribe's ``GET /v1/context``."""
    return stack.api.get(
        "/v1/context", params={"session": session, **params}, headers=stack.as_scribe()
    )


def expected_ids(chart: Chart, resource_type: str, window_days: int | None, **kw: Any) -> list[str]:
    """What a profile rule allows of the chart, newest first, capped (computed, not listed)."""
    rows = chart.of(resource_type)
    if resource_type in DATE_ELEMENT:  # nothing dated after the visit ended
        ceiling = TODAY + timedelta(minutes=40)
        rows = [
            r for r in rows if datetime.fromisoformat(DATE_ELEMENT[resource_type](r)) <= ceiling
        ]
    if window_days is not None:
        floor = TODAY - timedelta(days=window_days)
        rows = [r for r in rows if datetime.fromisoformat(DATE_ELEMENT[resource_type](r)) >= floor]
    if kw.get("categories"):
        rows = [r for r in rows if r["category"][0]["coding"][0]["code"] in kw["categories"]]
    if resource_type in DATE_ELEMENT:
        rows.sort(key=DATE_ELEMENT[resource_type], reverse=True)
    return [r["id"] for r in rows][: kw.get("max_count", 20)]


def ids(answer: httpx.Response) -> list[str]:
    """Ids of a context Bundle, in order."""
    assert answer.status_code == 200, answer.text
    return [entry["resource"]["id"] for entry in answer.json()["entry"]]


def refusals(stack: Stack, session: str) -> list[dict[str, Any]]:
    """The session's ``context.refused`` ledger events."""
    chain = stack.app.audit_chain(stack.tenant, session)
    return [event for event in chain if event["type"] == "context.refused"]


def test_the_soap_profile_returns_exactly_what_it_allows(
    medplum_stack: Stack, chart: Chart
) -> None:
    """Each type of soap-v3 comes back with its window, categories, elements and tag only."""
    stack = medplum_stack
    session = open_session(stack)
    profile = stack.app.policy.policy.read_profiles["soap-v3"]
    for rule in profile.resources:
        answer = context(stack, session, type=rule.type)
        want = (
            ["pat-001"]
            if rule.type == "Patient"
            else expected_ids(
                chart,
                rule.type,
                rule.window_days,
                categories=rule.categories,
                max_count=rule.max_count,
            )
        )
        assert ids(answer) == want, rule.type
        for entry in answer.json()["entry"]:
            resource = entry["resource"]
            extra = [
                key
                for key in resource
                if key not in {"resourceType", "meta"}
                and not any(covers(element, key) for element in rule.elements)
            ]
            assert extra == [], rule.type
            assert {"code": "SUBSETTED"}.items() <= resource["meta"]["tag"][-1].items()
    # Soap-v3 asked concretely: two recent results, no social history, no names, no remark.
    assert ids(context(stack, session, type="Observation")) == ["main-bp-0", "main-a1c-0"]
    patient = context(stack, session, type="Patient").json()["entry"][0]["resource"]
    assert "name" not in patient
    assert "identifier" not in patient
    allergy = context(stack, session, type="AllergyIntolerance").json()["entry"][0]["resource"]
    assert "note" not in allergy["reaction"][0]
    assert allergy["reaction"][0]["manifestation"]
    # Narrower than the profile is fine: one row, fewer elements, one category.
    narrow = context(stack, session, type="Observation", _count=1, _elements="id,code")
    assert ids(narrow) == ["main-bp-0"]
    assert set(narrow.json()["entry"][0]["resource"]) == {"resourceType", "id", "code", "meta"}
    labs = context(stack, session, type="Observation", category="laboratory")
    assert ids(labs) == ["main-a1c-0"]
    # A read by reference inside the profile is a PatientRead.
    assert ids(context(stack, session, reference="MedicationRequest/main-med-2")) == ["main-med-2"]
    chain = stack.app.audit_chain(stack.tenant, session)
    kinds = [event["type"] for event in chain]
    assert kinds[0] == "context.session_opened"
    assert kinds.count("context.query") == len(profile.resources) + 5
    assert kinds.count("context.read") == 1
    assert all(e["data"]["purpose_of_use"] == "TREAT" for e in chain[1:])
    read = next(e for e in chain if e["type"] == "context.read")
    assert read["patient"].startswith("hmac-sha256:")


def test_another_profile_allows_its_own_reads_only(medplum_stack: Stack, chart: Chart) -> None:
    """hp-v1 reads the whole problem list but no observations at all."""
    stack = medplum_stack
    session = open_session(stack, template="hp-v1")
    assert ids(context(stack, session, type="Condition")) == expected_ids(chart, "Condition", None)
    assert len(ids(context(stack, session, type="Condition"))) == 3
    refused = context(stack, session, type="Observation")
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"


OUTSIDE = [
    ("other patient", {"type": "Condition", "patient": OTHER_PATIENT}),
    ("other patient by reference", {"reference": "Observation/other-a1c-0"}),
    ("other patient's Patient", {"reference": f"{OTHER_PATIENT}"}),
    ("other encounter", {"type": "Observation", "encounter": OTHER_ENCOUNTER}),
    ("another type", {"type": "Practitioner"}),
    ("another type (Medication)", {"type": "Medication"}),
    ("another category", {"type": "Observation", "category": "social-history"}),
    ("a longer window", {"type": "Observation", "since": "2025-01-01T00:00:00Z"}),
    ("old row by reference", {"reference": "Observation/main-a1c-4"}),
    ("a result after the visit by reference", {"reference": "Observation/main-bp-after"}),
    ("a future visit by reference", {"reference": "Encounter/main-enc-planned"}),
    ("past the encounter's end", {"type": "Observation", "until": "2026-11-23T00:00:00Z"}),
    ("more elements", {"type": "Observation", "_elements": "id,code,note"}),
    ("more rows", {"type": "Observation", "_count": 51}),
    ("a reference chase", {"reference": "Medication/main-drug-0"}),
    ("a reference chase (author)", {"reference": "Practitioner/prac-other"}),
    ("an include", {"type": "MedicationRequest", "_include": "MedicationRequest:medication"}),
    ("a revinclude", {"type": "Patient", "_revinclude": "Provenance:target"}),
]


def test_every_attempt_outside_the_profile_is_refused_and_audited(
    medplum_stack: Stack, chart: Chart
) -> None:
    """Other patient, encounter, type, category, window, elements, rows, chases: all 403."""
    del chart
    stack = medplum_stack
    session = open_session(stack)
    for what, params in OUTSIDE:
        answer = context(stack, session, **params)
        assert answer.status_code == 403, (what, answer.text)
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome", what
        assert outcome["issue"][0]["code"] == "business-rule", what
        assert "other-" not in answer.text, what  # no data of what was refused
    events = refusals(stack, session)
    assert len(events) == len(OUTSIDE)
    assert all(e["data"]["purpose_of_use"] == "TREAT" for e in events)
    exported = [
        to_audit_event({"seq": i, "leaf_hash": "00", "event": e}, origin="test")
        for i, e in enumerate(events)
    ]
    assert {e["outcome"] for e in exported} == {"4"}
    profiles = {e["meta"]["profile"][0].rsplit(".", 1)[1] for e in exported}
    assert profiles == {"PatientQuery", "PatientRead"}


def test_context_needs_a_live_session_of_this_scribe(medplum_stack: Stack, chart: Chart) -> None:
    """No session, a foreign client, an expired session: refused; a scribe cannot open one."""
    del chart
    stack = medplum_stack
    no_session = stack.api.get("/v1/context", params={"type": "Patient"}, headers=stack.as_scribe())
    assert no_session.status_code == 422
    session = open_session(stack)
    unknown = context(stack, "0" * 36, type="Patient")
    assert unknown.status_code == 403
    other_client = stack.api.get(
        "/v1/context",
        params={"session": session, "type": "Patient"},
        headers=stack.as_scribe(subject="other-scribe", extra_claims={"client_id": "other-scribe"}),
    )
    assert other_client.status_code == 403
    with stack.app.engine.begin() as conn:
        conn.execute(
            update(t.scribe_sessions)
            .where(t.scribe_sessions.c.id == session)
            .values(expires_at=TODAY - timedelta(days=1))
        )
    assert context(stack, session, type="Patient").status_code == 403
    by_scribe = stack.api.post(
        "/v1/scribe-sessions",
        json={
            "patient": PATIENT,
            "encounter": ENCOUNTER,
            "template": "soap-v3",
            "scribe_client": SCRIBE_CLIENT,
        },
        headers=stack.as_scribe(),
    )
    assert by_scribe.status_code == 403
    elsewhere = stack.api.post(
        "/v1/scribe-sessions",
        json={
            "patient": OTHER_PATIENT,
            "encounter": OTHER_ENCOUNTER,
            "template": "soap-v3",
            "scribe_client": SCRIBE_CLIENT,
        },
        headers=stack.as_clinician(),
    )
    assert elsewhere.status_code == 404  # outside the launch context: like an unknown id
    mismatched = stack.api.post(
        "/v1/scribe-sessions",
        json={
            "patient": PATIENT,
            "encounter": ENCOUNTER,
            "template": "no-such-template",
            "scribe_client": SCRIBE_CLIENT,
        },
        headers=stack.as_clinician(),
    )
    assert mismatched.status_code == 403


def test_a_launch_token_reads_and_closing_ends_the_session(
    medplum_stack: Stack, chart: Chart
) -> None:
    """The clinician's EHR-launch token reads (stored encrypted); the scribe ends the session."""
    del chart
    stack = medplum_stack
    token = stack.clinician_token(extra_claims={"aud": ["chartgate", stack.ehr_base]})
    answer = stack.api.post(
        "/v1/scribe-sessions",
        json={
            "patient": PATIENT,
            "encounter": ENCOUNTER,
            "template": "soap-v3",
            "scribe_client": SCRIBE_CLIENT,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    session = answer.json()["id"]
    with stack.app.engine.connect() as conn:
        row = (
            conn.execute(select(t.scribe_sessions).where(t.scribe_sessions.c.id == session))
            .mappings()
            .one()
        )
    assert row["delegated_blob"] is not None
    assert token.encode() not in bytes(row["delegated_blob"])  # ciphertext, not the token
    assert ids(context(stack, session, type="Observation")) == ["main-bp-0", "main-a1c-0"]
    closed = stack.api.post(f"/v1/scribe-sessions/{session}/close", headers=stack.as_scribe())
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_by"] == "scribe:scribe-test-client"
    assert context(stack, session, type="Observation").status_code == 403
    again = stack.api.post(f"/v1/scribe-sessions/{session}/close", headers=stack.as_clinician())
    assert again.status_code == 409, again.text
    with stack.app.engine.connect() as conn:
        row = (
            conn.execute(select(t.scribe_sessions).where(t.scribe_sessions.c.id == session))
            .mappings()
            .one()
        )
    assert row["delegated_blob"] is None  # the token is forgotten at close
    chain = stack.app.audit_chain(stack.tenant, session)
    assert [e["data"].get("credentials") for e in chain if e["type"] == "context.query"] == [
        "delegated"
    ]
    assert chain[-1]["type"] == "context.session_closed"
    assert token not in json.dumps(chain)
