"""The transaction-bundle and x-provenance-header modes over fakes (issue 13).

``transaction-bundle``: the note, its Provenance and every clinician-approved structured
resource with its own Provenance go in one transaction Bundle, atomically; a lost answer is
read back, a refused Bundle leaves nothing. ``x-provenance-header``: the Provenance rides on
the write; the chart is read for it and, where the server made none (a conditional create that
matched, or a server that ignores the header, as Medplum 4.5 does), it is created separately.
Exactly once in every case.
"""

from __future__ import annotations

from typing import Any

import pytest

from builders import ENCOUNTER, PATIENT
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import CreateGuard, WritebackKind, WritebackState
from chartgate.service.writeback import CRASH_POINTS
from structured_desk import LEASE, META, Desk, WorkerDied, desk, die_at
from structured_items import CONDITION, structured_submission

GUARDS = [CreateGuard.CONDITIONAL, CreateGuard.CLIENT_ID, CreateGuard.NONE]
TYPES = ("DocumentReference", "Condition", "AllergyIntolerance", "Observation", "MedicationRequest")


def transaction_desk(guard: CreateGuard = CreateGuard.CONDITIONAL) -> Desk:
    return desk(guard, provenance_mode=ProvenanceMode.TRANSACTION)


def header_desk(guard: CreateGuard = CreateGuard.CONDITIONAL) -> Desk:
    return desk(guard, provenance_mode=ProvenanceMode.HEADER)


def _one_of_each(d: Desk, types: tuple[str, ...] = TYPES) -> None:
    for kind in types:
        assert len(d.ehr.all(kind)) == 1, kind
    assert len(d.ehr.all("Provenance")) == len(types)


def _writes(d: Desk) -> list[tuple[str, str]]:
    return [(m, k) for m, k in d.ehr.requests if m in ("POST", "PUT")]


# -- transaction Bundle -------------------------------------------------------------------


@pytest.mark.parametrize("guard", GUARDS)
def test_the_note_and_its_structured_resources_land_in_one_transaction(
    guard: CreateGuard,
) -> None:
    """The note and its structured resources land in one transaction."""
    d = transaction_desk(guard)
    draft_id = d.submit()
    d.approve(draft_id)
    d.run()
    assert _writes(d) == [("POST", "Bundle")]  # one atomic write, nothing else
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    _one_of_each(d)
    for part in d.parts(draft_id):
        (resource,) = d.ehr.all(part.target_type)
        assert part.document_id == resource["id"]
        (mine,) = [p for p in d.ehr.all("Provenance") if p["meta"]["tag"][0]["code"] == part.id]
        assert mine["target"] == [{"reference": f"{part.target_type}/{resource['id']}"}]
    (note,) = d.ehr.all("DocumentReference")
    assert note["subject"] == {"reference": PATIENT}
    assert note["context"]["encounter"] == [{"reference": ENCOUNTER}]


@pytest.mark.parametrize("guard", GUARDS)
def test_a_lost_answer_to_the_transaction_is_read_back_never_resent_twice(
    guard: CreateGuard,
) -> None:
    """A lost answer to the transaction is read back never resent twice."""
    d = transaction_desk(guard)
    draft_id = d.submit()
    note = d.approve(draft_id)
    d.ehr.fail_next("drop", method="POST", resource_type="Bundle")
    d.clock.advance(1)
    d.executor().run_once()
    assert d.records(draft_id)[0].state is WritebackState.AMBIGUOUS
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}, [
        (r.target_type, r.state, r.last_reason) for r in d.records(draft_id)
    ]
    _one_of_each(d)
    assert _writes(d) == [("POST", "Bundle")]
    assert note.id == d.records(draft_id)[0].id


def test_a_refused_transaction_leaves_nothing_and_no_structured_resource_is_sent() -> None:
    """A refused transaction leaves nothing and no structured resource is sent."""
    d = transaction_desk()
    draft_id = d.submit()
    d.approve(draft_id)
    d.ehr.fail_next("status", method="POST", resource_type="Bundle", status=422)
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.REJECTED}
    for kind in (*TYPES, "Provenance"):
        assert d.ehr.all(kind) == [], kind
    assert _writes(d) == [("POST", "Bundle")]


def test_an_invalid_structured_entry_refuses_the_whole_transaction() -> None:
    """Atomic means atomic: one refused entry and the note is not written either."""
    d = transaction_desk(CreateGuard.CLIENT_ID)
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    part = d.parts(draft_id)[0]
    d.ehr.resources[("Condition", f"cgr-{part.id}")] = d.ehr.resources.pop(
        ("Patient", PATIENT.split("/")[1])
    )  # something else already holds the Condition's client id: its entry is refused
    d.run()
    assert d.records(draft_id)[0].state is not WritebackState.COMMITTED
    assert d.ehr.all("DocumentReference") == []


CRASHES = [(point, nth) for point in CRASH_POINTS for nth in (1, 2)]


@pytest.mark.parametrize("guard", [CreateGuard.CONDITIONAL, CreateGuard.CLIENT_ID])
@pytest.mark.parametrize(("point", "nth"), CRASHES, ids=[f"{p}-{n}" for p, n in CRASHES])
def test_a_worker_killed_around_the_transaction_never_duplicates(
    guard: CreateGuard, point: str, nth: int
) -> None:
    """A worker killed around the transaction never duplicates."""
    d = transaction_desk(guard)
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    try:
        for _ in range(4):
            d.clock.advance(1)
            d.executor("w1", crash=die_at(point, nth)).run_once()
    except WorkerDied:
        d.clock.advance(LEASE.total_seconds() + 1)
    d.run(d.executor("w2"))
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    _one_of_each(d, ("DocumentReference", "Condition"))


def test_finalize_and_retract_travel_with_their_provenance_in_a_transaction() -> None:
    """Finalize and retract travel with their provenance in a transaction."""
    d = transaction_desk()
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    d.run()
    d.approvals.finalize(d.clinician(), draft_id, META)
    d.run()
    note = d.records(draft_id)[0]
    d.approvals.retract(d.clinician(), note.id, reason="clinical-error", meta=META)
    d.run()
    kinds = [r.kind for r in d.records(draft_id)]
    assert kinds == [
        WritebackKind.APPROVE,
        WritebackKind.STRUCTURED,
        WritebackKind.FINALIZE,
        WritebackKind.RETRACT,
        WritebackKind.STRUCTURED_RETRACT,
    ]
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    (doc,) = d.ehr.all("DocumentReference")
    assert doc["status"] == "entered-in-error"
    assert len(d.ehr.resources[("DocumentReference", doc["id"])].versions) == 3
    # approve (note + Condition), finalize, retract, the Condition's retraction
    assert _writes(d) == [("POST", "Bundle")] * 4
    assert len(d.ehr.all("Provenance")) == 5
    (condition,) = d.ehr.all("Condition")
    assert condition["verificationStatus"]["coding"][0]["code"] == "entered-in-error"


# -- X-Provenance --------------------------------------------------------------------------


@pytest.mark.parametrize("guard", GUARDS)
def test_the_provenance_rides_in_the_header_and_is_found_not_sent_again(
    guard: CreateGuard,
) -> None:
    """The provenance rides in the header and is found not sent again."""
    d = header_desk(guard)
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    _one_of_each(d, ("DocumentReference", "Condition"))
    assert ("POST", "Provenance") not in d.ehr.requests
    assert ("PUT", "Provenance") not in d.ehr.requests
    for record in d.records(draft_id):
        (mine,) = [p for p in d.ehr.all("Provenance") if _tag(p) == record.id]
        assert record.provenance_id == mine["id"]
        assert mine["target"] == [
            {
                "reference": f"{record.target_type}/{record.document_id}"
                f"/_history/{record.document_version}"
            }
        ]


def test_a_server_that_ignores_the_header_gets_the_provenance_created_separately() -> None:
    """A server that ignores the header gets the provenance created separately."""
    d = header_desk()
    d.ehr.honours_provenance_header = False  # Medplum 4.5: no X-Provenance support
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    _one_of_each(d, ("DocumentReference", "Condition"))
    assert d.ehr.requests.count(("POST", "Provenance")) == 2


def test_a_matched_conditional_create_makes_no_header_provenance_and_one_is_created() -> None:
    """Firely's behaviour: a resend whose create matched gets no Provenance from the header."""
    d = header_desk()
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    d.ehr.honours_provenance_header = False  # the first write's header is lost with it
    d.ehr.fail_next("drop", method="POST", resource_type="DocumentReference")
    d.clock.advance(1)
    d.executor().run_once()
    d.ehr.honours_provenance_header = True
    d.run()
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    _one_of_each(d, ("DocumentReference", "Condition"))


def test_a_finalize_carries_its_provenance_in_the_header() -> None:
    """A finalize carries its provenance in the header."""
    d = header_desk()
    draft_id = d.submit()
    d.approve(draft_id)
    d.run()
    d.approvals.finalize(d.clinician(), draft_id, META)
    d.run()
    finalize = d.records(draft_id)[-1]
    assert finalize.state is WritebackState.COMMITTED
    (mine,) = [p for p in d.ehr.all("Provenance") if _tag(p) == finalize.id]
    assert mine["target"][0]["reference"].endswith(f"/_history/{finalize.document_version}")
    assert mine["activity"]["coding"][0]["code"] == "UPDATE"


def _tag(resource: dict[str, Any]) -> str:
    return next(str(t["code"]) for t in resource["meta"]["tag"] if t["system"] == WRITEBACK_SYSTEM)


@pytest.mark.parametrize("guard", GUARDS)
def test_what_does_not_fit_the_ehrs_transaction_limit_follows_in_its_own_bundle(
    guard: CreateGuard,
) -> None:
    """Medplum takes 8 entries: the note and three ride together, the fourth after them."""
    d = desk(guard, provenance_mode=ProvenanceMode.TRANSACTION, max_transaction_entries=8)
    draft_id = d.submit()
    d.approve(draft_id)
    d.run()
    assert _writes(d) == [("POST", "Bundle"), ("POST", "Bundle")]
    assert {r.state for r in d.records(draft_id)} == {WritebackState.COMMITTED}
    _one_of_each(d)
    last = d.parts(draft_id)[-1]
    assert last.target_type == "MedicationRequest"  # the last in write order
