"""The worklist names each line's patient and visit from the EHR (``web/worklist_view.py``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from chartgate.domain.errors import EhrError
from chartgate.domain.patient_context import ContextProblem, PatientContext
from chartgate.service.worklists import DraftItem, Page
from chartgate.web.worklist_view import MAX_NAMED, name_lines, section

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def item(n: int, *, patient: str = "Patient/p1", encounter: str | None = None) -> DraftItem:
    """A worklist line's draft on ``encounter`` (one per ``n`` by default)."""
    return DraftItem(
        id=f"d{n}",
        state="in_review",
        patient=patient,
        encounter=encounter or f"Encounter/e{n}",
        created_at=AT,
        updated_at=AT,
    )


def context(patient: str, encounter: str) -> PatientContext:
    """What the EHR shows for one synthetic patient and visit."""
    return PatientContext(
        patient=patient,
        encounter=encounter,
        name="Alex Synthetic",
        birth_date="1970-01-01",
        mrn="SYN-0001",
        encounter_status="in-progress",
        encounter_start="2026-12-01T08:30:00Z",
        encounter_end=None,
    )


def test_each_distinct_encounter_is_read_once_and_named() -> None:
    """Two drafts of one visit cost one read; each line gets the banner's facts."""
    reads: list[tuple[str, str]] = []
    lock = threading.Lock()

    def read(patient: str, encounter: str) -> PatientContext:
        with lock:
            reads.append((patient, encounter))
        return context(patient, encounter)

    listed = section(Page([item(1), item(2, encounter="Encounter/e1"), item(3)], None))
    names = name_lines([listed], read)
    assert sorted(reads) == [("Patient/p1", "Encounter/e1"), ("Patient/p1", "Encounter/e3")]
    facts = names[("Patient/p1", "Encounter/e1")].facts
    assert facts is not None
    assert facts["name"] == "Alex Synthetic"
    assert facts["mrn"] == "SYN-0001"
    assert facts["encounter_date"] == "2026-12-01"


def test_a_failed_read_leaves_the_line_unnamed_and_a_refusal_says_why() -> None:
    """An EHR error never fails the page; a wrong-patient encounter is named as such."""

    def read(patient: str, encounter: str) -> PatientContext | ContextProblem:
        if encounter == "Encounter/e1":
            raise EhrError("Encounter read answered 503")
        if encounter == "Encounter/e2":
            return ContextProblem.OTHER_PATIENT
        return context(patient, encounter)

    names = name_lines([section(Page([item(1), item(2), item(3)], None))], read)
    unread = names[("Patient/p1", "Encounter/e1")]
    assert unread.facts is None
    assert unread.problem is None
    assert names[("Patient/p1", "Encounter/e2")].problem == ContextProblem.OTHER_PATIENT.value
    assert names[("Patient/p1", "Encounter/e3")].facts is not None


def test_no_more_than_max_named_encounters_are_read_per_page() -> None:
    """A long worklist costs at most ``MAX_NAMED`` reads; the rest keep their references."""
    count = 0
    lock = threading.Lock()

    def read(patient: str, encounter: str) -> PatientContext:
        nonlocal count
        with lock:
            count += 1
        return context(patient, encounter)

    many = [item(n) for n in range(MAX_NAMED + 7)]
    names = name_lines([section(Page(many, None))], read)
    assert count == MAX_NAMED
    assert len(names) == MAX_NAMED


def test_an_empty_worklist_reads_nothing() -> None:
    """No lines, no EHR request."""

    def read(patient: str, encounter: str) -> PatientContext:
        raise AssertionError((patient, encounter))

    assert name_lines([section(Page([], None))], read) == {}
