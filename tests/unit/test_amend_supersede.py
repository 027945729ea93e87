"""An amendment marks the note it replaces ``superseded``, best effort (service/ehr_channel.py).

Over the desk's fakes (tests/unit/test_use_cases.py): the new note lands and names the old one
in ``relatesTo``; the old one is then marked superseded with If-Match on its current version. A
refusal of that mark is recorded, never fatal, and the old note's content is never edited.
"""

from __future__ import annotations

from test_use_cases import META, Desk, desk, edit

from builders import TENANT
from chartgate.domain.writeback import WritebackState


def _amend(d: Desk) -> tuple[str, str]:
    """A committed note and its committed amendment: (old document id, amendment write-back)."""
    draft_id, first = d.committed()
    with d.store.unit() as uow:
        old = uow.writebacks.get(TENANT, first).document_id
        version = uow.drafts.get(TENANT, draft_id).current.number
    _, record = d.approvals.amend(
        d.clinician(), first, expected_version=version, edit=edit("\nAddendum."), meta=META
    )
    d.run_worker()
    with d.store.unit() as uow:
        assert uow.writebacks.get(TENANT, record.id).state is WritebackState.COMMITTED
    assert old is not None
    return old, record.id


def _status(d: Desk, document_id: str) -> str:
    return str(d.ehr.read("DocumentReference", document_id, request_id="t").resource["status"])


def test_the_replaced_note_is_marked_superseded_and_keeps_its_content() -> None:
    """After the amendment lands the old note is ``superseded``; its text is unchanged."""
    d = desk()
    draft_id, first = d.committed()
    with d.store.unit() as uow:
        old = uow.writebacks.get(TENANT, first).document_id
        version = uow.drafts.get(TENANT, draft_id).current.number
    before = d.ehr.read("DocumentReference", str(old), request_id="t").resource
    d.approvals.amend(
        d.clinician(), first, expected_version=version, edit=edit("\nAddendum."), meta=META
    )
    d.run_worker()
    after = d.ehr.read("DocumentReference", str(old), request_id="t").resource
    assert after["status"] == "superseded"
    assert after["content"] == before["content"]
    assert "writeback.supersede_refused" not in d.events()


def test_a_refused_supersede_is_recorded_and_the_amendment_stands() -> None:
    """The EHR answers 409 to marking the old note: an event names the status; nothing fails."""
    d = desk()
    d.ehr.fail_next("status", status=409, method="PUT", resource_type="DocumentReference")
    old, _ = _amend(d)
    assert _status(d, old) == "current"
    refused = [r for r in d.store.tables.audit if r.type.value == "writeback.supersede_refused"]
    assert [r.data["status"] for r in refused] == [409]


def test_an_old_note_that_is_no_longer_current_is_left_alone() -> None:
    """Someone already changed the old note's status: chartgate sends no PUT to it."""
    d = desk()
    draft_id, first = d.committed()
    with d.store.unit() as uow:
        old = str(uow.writebacks.get(TENANT, first).document_id)
        version = uow.drafts.get(TENANT, draft_id).current.number
    current = d.ehr.read("DocumentReference", old, request_id="t")
    changed = {**current.resource, "status": "entered-in-error"}
    d.ehr.update(changed, if_match=str(current.version_id), request_id="t")
    d.approvals.amend(
        d.clinician(), first, expected_version=version, edit=edit("\nAddendum."), meta=META
    )
    puts_before = d.ehr.requests.count(("PUT", "DocumentReference"))
    d.run_worker()
    assert d.ehr.requests.count(("PUT", "DocumentReference")) == puts_before
    assert _status(d, old) == "entered-in-error"
    assert "writeback.supersede_refused" not in d.events()
