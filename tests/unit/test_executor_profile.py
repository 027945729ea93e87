"""The executor obeys the tenant's vendor profile (issue 13 items 1 and 4, at unit speed).

Provenance travels as the profile says (``none``: kept in chartgate's ledger, never sent);
the vendor's own error codes decide retry / configuration / reject / duplicate; a request
the profile forbids ends as needs-a-person, never retried.
"""

from __future__ import annotations

from types import MappingProxyType

from chartgate.domain.vendor_errors import VendorErrorClass, VendorErrorTable
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import CreateGuard, WritebackState
from unit.test_executor import World, world

EPIC_LIKE = VendorErrorTable(
    codes=MappingProxyType(
        {
            "59141": VendorErrorClass.DUPLICATE,
            "59108": VendorErrorClass.REJECT,
            "X-BUSY": VendorErrorClass.RETRY,
        }
    ),
    empty_forbidden=VendorErrorClass.CONFIGURATION,
)


def profiled(guard: CreateGuard = CreateGuard.CONDITIONAL, **facts: object) -> World:
    w = world(guard)
    w.directory.overrides.update(facts)
    return w


def events(w: World) -> list[str]:
    return w.store.events()


# -- provenance_mode ---------------------------------------------------------------------------


def test_no_provenance_is_sent_where_the_profile_says_none() -> None:
    """``provenance_mode = none``: one note, no Provenance request, committed."""
    w = profiled(provenance_mode=ProvenanceMode.NONE)
    w.run()
    assert w.writeback().state is WritebackState.COMMITTED
    assert len(w.documents()) == 1
    assert w.provenances() == []
    assert ("POST", "Provenance") not in w.ehr.requests


def test_a_provenance_not_sent_is_kept_in_the_ledger() -> None:
    """The Provenance the EHR cannot take is recorded, whole, in chartgate's ledger."""
    w = profiled(provenance_mode=ProvenanceMode.NONE)
    w.run()
    [kept] = [r for r in w.store.tables.audit if r.type.value == "writeback.provenance_kept"]
    provenance = kept.data["provenance"]
    assert provenance["resourceType"] == "Provenance"
    [doc] = w.documents()
    assert provenance["target"] == [{"reference": f"DocumentReference/{doc['id']}/_history/1"}]


# -- the vendor's error codes ------------------------------------------------------------------


def test_a_vendor_duplicate_code_reads_the_chart_instead_of_rejecting() -> None:
    """Epic 59141 on the create: never "rejected" (the note may be there); the chart decides."""
    w = profiled(errors=EPIC_LIKE)
    w.ehr.fail_next("status", status=422, vendor_code="59141", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.COMMITTED
    assert len(w.documents()) == 1
    assert "writeback.rejected" not in events(w)
    assert "writeback.reconciled" in events(w)


def test_a_vendor_duplicate_code_on_an_unguarded_create_waits_for_a_person() -> None:
    """Where nothing guards a resend, a duplicate code that the chart cannot show parks it."""
    w = profiled(CreateGuard.NONE, errors=EPIC_LIKE)
    w.ehr.fail_next("status", status=422, vendor_code="59141", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.NEEDS_PERSON
    assert w.documents() == []


def test_a_vendor_configuration_error_needs_a_person_and_is_not_retried() -> None:
    """Epic's empty 403 (API not registered): needs a person, one request, no retries."""
    w = profiled(errors=EPIC_LIKE)
    w.ehr.fail_next("status", status=403, empty=True, resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.NEEDS_PERSON
    assert w.ehr.requests.count(("POST", "DocumentReference")) == 1
    assert "writeback.rejected" not in events(w)


def test_a_vendor_transient_code_retries_and_then_writes() -> None:
    """A vendor code classed "retry" on a 4xx: back to the queue, then one note."""
    w = profiled(errors=EPIC_LIKE)
    w.ehr.fail_next("status", status=400, vendor_code="X-BUSY", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.COMMITTED
    assert len(w.documents()) == 1
    assert "writeback.retry_scheduled" in events(w)


def test_a_vendor_reject_code_rejects() -> None:
    """Epic 59108 (required element missing): refused for good, nothing in the chart."""
    w = profiled(errors=EPIC_LIKE)
    w.ehr.fail_next("status", status=422, vendor_code="59108", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.REJECTED


# -- EhrNotAllowed -----------------------------------------------------------------------------


def test_a_request_the_profile_forbids_needs_a_person_and_is_not_retried() -> None:
    """``EhrNotAllowed`` (nothing sent, a configuration problem) is never retried."""
    w = world()
    w.ehr.fail_next("not_allowed", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.NEEDS_PERSON
    assert w.ehr.requests.count(("POST", "DocumentReference")) == 1
    assert w.documents() == []


def test_a_forbidden_provenance_leaves_the_note_and_needs_a_person() -> None:
    """The note is in; a Provenance the profile forbids parks the follow-up for a person."""
    w = world()
    w.ehr.fail_next("not_allowed", resource_type="Provenance")
    w.run()
    wb = w.writeback()
    assert wb.state is WritebackState.NEEDS_PERSON
    assert wb.document_landed
    assert w.ehr.requests.count(("POST", "Provenance")) == 1


def test_a_reconciliation_search_the_profile_forbids_needs_a_person_not_endless_retries() -> None:
    """After a lost answer, a search the EHR cannot answer (athenaPractice) parks it at once."""
    w = world(CreateGuard.NONE)
    w.ehr.fail_next("drop", method="POST", resource_type="DocumentReference")
    for _ in range(20):
        w.ehr.fail_next("not_allowed", method="GET", resource_type="DocumentReference")
    w.run()
    assert w.writeback().state is WritebackState.NEEDS_PERSON
    assert w.writeback().attempts <= 2
    assert "configuration" in str(w.writeback().last_reason)
