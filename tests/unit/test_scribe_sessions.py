"""Scribe sessions over fakes: closing one early, and reading with the clinician's own token.

The use case (``service/scribe_context.py``) over ``FakeStore`` and ``FakeEhr``; the EHR
starts with the sandbox's synthetic chart (``enc-001`` began 2026-11-24 09:30 and is in
progress) plus one medication order of the visit. ``FakeDirectory.credentials`` records which
credentials each context read used.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from builders import CLINICIAN, ENCOUNTER, PATIENT, TENANT
from chartgate.domain.access import EncounterGrant, TenantAccess
from chartgate.domain.errors import Forbidden, NotFound, StateConflict
from chartgate.domain.minimum_necessary import ContextRequest
from chartgate.domain.principal import Principal, Role
from chartgate.policy import load_default_policy
from chartgate.service.access import Access
from chartgate.service.context import Context
from chartgate.service.scribe_context import ContextService, SessionRequest
from chartgate.service.validation import DraftValidator
from fakes import FakeClock, FakeDirectory, FakeEhr, FakeIds, FakeStore

EHR_BASE = "https://ehr.example/fhir/R4"
NOW = datetime(2026, 11, 24, 9, 45, tzinfo=UTC)
LAUNCH_TOKEN = "launch-token"
SCRIBE = Principal(tenant=TENANT, subject="scribe-1", role=Role.SCRIBE, client_id="scribe-app")
ORDER = {
    "resourceType": "MedicationRequest",
    "id": "order-today",
    "status": "active",
    "intent": "order",
    "medicationCodeableConcept": {"text": "synthetic"},
    "subject": {"reference": PATIENT},
    "authoredOn": "2026-11-24T09:35:00Z",
}


class Desk:
    """The context use case over one fake store, EHR and clock."""

    def __init__(self, *, grants: tuple[EncounterGrant, ...] = ()) -> None:
        self.store, self.clock = FakeStore(), FakeClock(NOW)
        self.ehr = FakeEhr()
        self.ehr.create_with_id(ORDER, request_id="seed")
        self.directory = FakeDirectory(self.ehr)
        policy = load_default_policy()
        access = Access(
            clock=self.clock,
            tenants={TENANT: TenantAccess(grants=grants, ehr_base=EHR_BASE)},
        )
        self.context = ContextService(
            Context(
                uow=self.store.unit,
                clock=self.clock,
                ids=FakeIds(),
                policy=policy,
                ehr=self.directory,
                access=access,
                validator=DraftValidator(policy),
            )
        )

    def clinician(self, **changes: object) -> Principal:
        """A clinician launched from the EHR on the encounter, token for chartgate and EHR."""
        base = Principal(
            tenant=TENANT,
            subject="dr-1",
            role=Role.CLINICIAN,
            fhir_user=CLINICIAN,
            amr=("pwd", "otp"),
            launch_patient=PATIENT,
            launch_encounter=ENCOUNTER,
            expires_at=NOW + timedelta(minutes=30),
            audiences=("chartgate", EHR_BASE + "/"),
            issuer="https://idp.example",
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def open(self, principal: Principal | None = None, token: str | None = LAUNCH_TOKEN) -> str:
        """Open a soap-v3 session for the scribe app; its id."""
        session = self.context.open_session(
            principal or self.clinician(),
            SessionRequest(
                patient=PATIENT, encounter=ENCOUNTER, template="soap-v3", scribe_client="scribe-app"
            ),
            request_id="req-open",
            token=token,
        )
        return session.id

    def read(self, session_id: str) -> list[str]:
        """The scribe's MedicationRequest search; the ids it got."""
        bundle = self.context.read(
            SCRIBE,
            session_id,
            ContextRequest(resource_type="MedicationRequest"),
            request_id="req-read",
        )
        return [entry["resource"]["id"] for entry in bundle["entry"]]

    def context_scopes(self) -> str:
        """The backend token's scopes for soap-v3 (its profile's types)."""
        return load_default_policy().policy.read_profiles["soap-v3"].smart_scopes()

    def events(self, kind: str) -> list[dict[str, object]]:
        """The data of every ledger event of ``kind``."""
        return [dict(r.data) for r in self.store.tables.audit if r.type.value == kind]


def test_the_scribe_ends_its_session_and_reads_nothing_more() -> None:
    """Closed early: recorded in the ledger, every later read refused, a second close 409."""
    desk = Desk()
    session = desk.open()
    assert desk.read(session) == ["order-today"]
    closed = desk.context.close_session(SCRIBE, session, request_id="req-close")
    assert closed.closed_at == NOW
    assert closed.closed_by == "scribe:scribe-1"
    [event] = desk.events("context.session_closed")
    assert event["session"] == session
    assert event["closed_early_by"] == "scribe"
    with pytest.raises(Forbidden, match="no live scribe session"):
        desk.read(session)
    assert [e["rule"] for e in desk.events("context.refused")] == []  # refused before a plan
    with pytest.raises(StateConflict, match="already ended"):
        desk.context.close_session(SCRIBE, session, request_id="req-close-2")
    stored = desk.store.tables.scribe_sessions[TENANT, session]
    assert stored.delegated_token is None  # the clinician's token is forgotten at once


def test_a_clinician_of_the_encounter_ends_it_others_cannot() -> None:
    """The clinician bound to the encounter may close it; another scribe or clinician: 404."""
    desk = Desk()
    session = desk.open()
    other_scribe = replace(SCRIBE, subject="s2", client_id="other-app")
    with pytest.raises(NotFound):
        desk.context.close_session(other_scribe, session, request_id=None)
    elsewhere = desk.clinician(launch_encounter="Encounter/enc-002")
    with pytest.raises(NotFound):
        desk.context.close_session(elsewhere, session, request_id=None)
    with pytest.raises(NotFound):
        desk.context.close_session(desk.clinician(), "no-such-session", request_id=None)
    desk.context.close_session(desk.clinician(), session, request_id=None)
    assert [s.closed_by for s in desk.store.tables.scribe_sessions.values()] == ["clinician:dr-1"]


def test_an_expired_session_cannot_be_closed_again() -> None:
    """After expiry there is nothing left to end."""
    desk = Desk()
    session = desk.open()
    desk.clock.advance(3 * 3600)
    with pytest.raises(StateConflict):
        desk.context.close_session(SCRIBE, session, request_id=None)


def test_reads_use_the_clinicians_launch_token_while_it_lasts() -> None:
    """Opened from the EHR launch with a token for the EHR: delegated until it expires."""
    desk = Desk()
    session = desk.open()
    assert desk.read(session) == ["order-today"]
    desk.clock.advance(31 * 60)  # the launch token (30 min) has expired; the session has not
    assert desk.read(session) == ["order-today"]
    backend = desk.context_scopes()
    assert desk.directory.credentials == ["delegated launch-token", f"backend {backend}"]
    [opened] = desk.events("context.session_opened")
    assert opened["credentials"] == "delegated"
    assert opened["delegated_until"] == (NOW + timedelta(minutes=30)).isoformat()
    assert [e["credentials"] for e in desk.events("context.query")] == ["delegated", "backend"]
    assert "launch-token" not in repr(desk.store.tables.audit)


@pytest.mark.parametrize(
    ("changes", "token", "why"),
    [
        ({"audiences": ("chartgate",)}, "t", "the token was not issued for the EHR"),
        ({"expires_at": NOW - timedelta(seconds=1)}, "t", "the token has expired"),
        (
            {"launch_encounter": None, "launch_patient": None},
            "t",
            "not opened from an EHR launch on this encounter",
        ),
        ({}, None, "no bearer token"),
    ],
)
def test_otherwise_reads_use_the_backend_credentials(
    changes: dict[str, object], token: str | None, why: str
) -> None:
    """A token for chartgate only, an expired one, a care-team grant, no token: backend."""
    grant = EncounterGrant(
        fhir_user=CLINICIAN, encounters=frozenset({ENCOUNTER}), issuer="https://idp.example"
    )
    desk = Desk(grants=(grant,))
    session = desk.open(desk.clinician(**changes), token=token)
    desk.read(session)
    assert desk.directory.credentials[0].startswith("backend ")
    [opened] = desk.events("context.session_opened")
    assert (opened["credentials"], opened["delegation"]) == ("backend", why)
