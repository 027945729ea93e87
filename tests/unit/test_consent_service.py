"""Recording consent evidence and previewing it (service/consent.py ``ConsentService``), on fakes.

Who may record it (a clinician in the encounter, a scribe in its live session), what is refused
before anything is stored, what the ledger keeps (a digest and pseudonyms, never a reference),
and the preview the reviewer page shows before approval.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from test_use_cases import Desk, desk

from builders import CLINICIAN, ENCOUNTER, PATIENT, TENANT
from chartgate.domain.consent import Consenter, ConsentMethod, RecordingScope
from chartgate.domain.errors import Forbidden, InputError, NotFound
from chartgate.domain.principal import Principal, Role
from chartgate.service.consent import ConsentService, ConsentSubmission
from chartgate.service.context import Context


class Pseudonyms:
    """A stand-in keyed pseudonym that visibly is not the reference."""

    def reference(self, tenant: str, reference: str) -> str:
        return f"hmac-sha256:{tenant}:{reference[::-1]}"


def _service(d: Desk, *, pseudonyms: bool = True) -> ConsentService:
    ctx: Context = d.drafting._ctx
    return ConsentService(replace(ctx, pseudonyms=Pseudonyms() if pseudonyms else None))


def _stated(d: Desk, **changes: object) -> ConsentSubmission:
    base = ConsentSubmission(
        patient=PATIENT,
        encounter=ENCOUNTER,
        consenter=Consenter.PATIENT,
        method=ConsentMethod.VERBAL,
        consented_at=d.clock.now() - timedelta(minutes=5),
        jurisdiction="US-CA",
        scope=(RecordingScope.AUDIO_RECORDING, RecordingScope.AI_DOCUMENTATION),
        captured_by=CLINICIAN,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_clinician_records_consent_and_the_ledger_keeps_its_digest_not_the_patient() -> None:
    """The record is stored; the event carries digest, method and pseudonyms only."""
    d = desk()
    record = _service(d).record(d.clinician(), _stated(d), request_id="req-9")
    assert d.store.tables.consents == [record]
    assert record.recorded_by == "clinician:dr-1"
    [event] = d.store.tables.audit
    assert (event.type.value, event.correlation_id, event.request_id) == (
        "consent.recorded",
        record.id,
        "req-9",
    )
    assert event.data["digest"] == record.digest
    assert event.data["method"] == "verbal"
    assert event.patient == Pseudonyms().reference(TENANT, PATIENT)
    assert PATIENT not in str(event.as_dict())
    assert ENCOUNTER not in str(event.as_dict())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"consented_at": "future"}, "consented_at"),
        ({"scope": ()}, "scope"),
    ],
    ids=["in-the-future", "empty-scope"],
)
def test_evidence_that_cannot_be_true_is_refused_and_nothing_is_stored(
    changes: dict[str, object], field: str
) -> None:
    """Consent given after now, or for nothing, is an input error naming the field."""
    d = desk()
    if changes.get("consented_at") == "future":
        changes = {"consented_at": d.clock.now() + timedelta(minutes=1)}
    with pytest.raises(InputError) as refused:
        _service(d).record(d.clinician(), _stated(d, **changes), request_id=None)
    assert refused.value.expression == field
    assert d.store.tables.consents == []
    assert d.store.tables.audit == []


def test_a_clinician_outside_the_encounter_cannot_record_its_consent() -> None:
    """Another encounter than the launch's (and no grant): not found, nothing stored."""
    d = desk()
    with pytest.raises(NotFound, match="encounter not found"):
        _service(d).record(
            d.clinician(), _stated(d, encounter="Encounter/enc-999"), request_id=None
        )
    assert d.store.tables.consents == []


def test_a_scribe_must_name_its_live_session() -> None:
    """A scribe without a session id is refused before any session is looked up."""
    d = desk()
    with pytest.raises(InputError, match="live session") as refused:
        _service(d).record(d.scribe(), _stated(d), request_id=None)
    assert refused.value.expression == "session"


def test_an_auditor_may_not_record_consent() -> None:
    """Only clinicians and scribes state consent."""
    d = desk()
    auditor = Principal(tenant=TENANT, subject="a-1", role=Role.AUDITOR)
    with pytest.raises(Forbidden, match="needs role clinician"):
        _service(d).record(auditor, _stated(d), request_id=None)
    assert d.store.tables.consents == []


def test_without_ledger_keys_the_event_names_no_patient_at_all() -> None:
    """No pseudonym key configured: the event's patient and encounter are empty, not clear."""
    d = desk()
    _service(d, pseudonyms=False).record(d.clinician(), _stated(d), request_id=None)
    [event] = d.store.tables.audit
    assert event.patient is None
    assert event.data["encounter"] is None


def test_the_preview_shows_the_system_text_once_consent_is_on_record() -> None:
    """Before: what the policy says without consent; after: chartgate's own consent sentence."""
    d = desk()
    draft_id = d.submit()
    with d.store.unit() as uow:
        draft = uow.drafts.get(TENANT, draft_id)
    service = _service(d)
    before = service.preview(draft)
    service.record(d.clinician(), _stated(d), request_id=None)
    after = service.preview(draft)
    assert after.refusal is None
    assert after.appended_text
    assert after.appended_text != before.appended_text
