"""The outcome table, row by row, and the rules every row must keep (pure, milliseconds)."""

from __future__ import annotations

import itertools

import pytest

from chartgate.domain.outcomes import (
    OUTCOMES,
    Answer,
    Chart,
    Decision,
    Step,
    classify,
    decide,
)
from chartgate.domain.vendor_errors import VendorErrorClass

S, A, C, D = Step, Answer, Chart, Decision
U = C.UNREAD
READ = A.CHART_READ
CREATES = (S.CREATE_DOCUMENT, S.CREATE_DOCUMENT_UNGUARDED)
PROVENANCES = (S.CREATE_PROVENANCE, S.CREATE_PROVENANCE_UNGUARDED)
WRITES = (*CREATES, S.UPDATE_DOCUMENT, *PROVENANCES)


def _spec() -> dict[tuple[Step, Answer, Chart], tuple[Decision, str]]:
    """The table written out a second time, as a reviewer would state it, with the reason."""
    rows: dict[tuple[Step, Answer, Chart], tuple[Decision, str]] = {}
    for step in WRITES:
        rows[step, A.SUCCESS, U] = (D.PROCEED, "the EHR took it")
        rows[step, A.RATE_LIMITED, U] = (D.RETRY, "429 is refused before acting")
        rows[step, A.NOT_SENT, U] = (D.RETRY, "the request never left")
        rows[step, A.NO_ANSWER, U] = (D.RECONCILE, "it may have landed")
        rows[step, A.SERVER_ERROR, U] = (D.RECONCILE, "a 5xx may come after the commit")
        rows[step, A.VERSION_CONFLICT, U] = (D.RECONCILE, "it may be our own earlier write")
        rows[step, READ, C.MINE] = (D.PROCEED, "the chart holds our mark")
        rows[step, READ, C.UNREADABLE] = (D.RECONCILE, "a failed read proves nothing")
        rows[step, A.VENDOR_DUPLICATE, U] = (D.RECONCILE, "the EHR says it exists: read")
        rows[step, A.VENDOR_RETRY, U] = (D.RETRY, "the vendor's code says: later")
        rows[step, A.VENDOR_CONFIGURATION, U] = (D.NEEDS_PERSON, "the setup is wrong")
        rows[step, A.NOT_ALLOWED, U] = (D.NEEDS_PERSON, "the profile forbids it: setup")
    for step in CREATES:
        rows[step, A.REFUSED, U] = (D.REJECT, "the note was refused: nothing landed")
        rows[step, A.GONE, U] = (D.REJECT, "the type is not served: nothing landed")
        rows[step, READ, C.DUPLICATED] = (D.NEEDS_PERSON, "two notes carry our identifier")
    for step in PROVENANCES:
        rows[step, A.REFUSED, U] = (D.PARTIAL, "the note is in the chart already")
        rows[step, A.GONE, U] = (D.PARTIAL, "the note is in the chart already")
        rows[step, READ, C.DUPLICATED] = (D.NEEDS_PERSON, "two Provenances carry our tag")
    rows[S.CREATE_DOCUMENT, READ, C.ABSENT] = (D.SEND, "the EHR refuses a second copy")
    rows[S.CREATE_PROVENANCE, READ, C.ABSENT] = (D.SEND, "the EHR refuses a second copy")
    rows[S.CREATE_DOCUMENT_UNGUARDED, READ, C.ABSENT] = (D.NEEDS_PERSON, "it may still land")
    rows[S.CREATE_PROVENANCE_UNGUARDED, READ, C.ABSENT] = (D.NEEDS_PERSON, "it may still land")
    rows[S.UPDATE_DOCUMENT, A.GONE, U] = (D.CONFLICT, "our note was deleted by someone")
    rows[S.UPDATE_DOCUMENT, A.REFUSED, U] = (D.REJECT, "the change was refused")
    rows[S.UPDATE_DOCUMENT, READ, C.ABSENT] = (D.SEND, "If-Match guards the resend")
    rows[S.UPDATE_DOCUMENT, READ, C.CHANGED] = (D.CONFLICT, "someone else's version")
    for answer in (
        A.VERSION_CONFLICT,
        A.RATE_LIMITED,
        A.REFUSED,
        A.SERVER_ERROR,
        A.NO_ANSWER,
        A.NOT_SENT,
        A.VENDOR_DUPLICATE,
        A.VENDOR_RETRY,
    ):
        rows[S.BASELINE_READ, answer, U] = (D.RETRY, "a read writes nothing")
    rows[S.BASELINE_READ, A.VENDOR_CONFIGURATION, U] = (D.NEEDS_PERSON, "the setup is wrong")
    rows[S.BASELINE_READ, A.NOT_ALLOWED, U] = (D.NEEDS_PERSON, "the profile forbids the read")
    rows[S.BASELINE_READ, A.GONE, U] = (D.CONFLICT, "the baseline was deleted")
    rows[S.BASELINE_READ, A.SUCCESS, C.UNCHANGED] = (D.PROCEED, "the chart is as reviewed")
    rows[S.BASELINE_READ, A.SUCCESS, C.CHANGED] = (D.CONFLICT, "the chart changed")
    return rows


SPEC = _spec()


@pytest.mark.parametrize(("case", "expected"), sorted(SPEC.items()), ids=str)
def test_each_row_decides_as_specified(
    case: tuple[Step, Answer, Chart], expected: tuple[Decision, str]
) -> None:
    """Every case of the spec gets the decision the spec gives, for the reason it gives."""
    assert decide(*case) is expected[0], expected[1]


def test_the_table_has_no_row_the_spec_does_not_state() -> None:
    """A new row must be written into the spec too: the two tables hold the same cases."""
    assert set(OUTCOMES) == set(SPEC)


def test_an_unlisted_case_needs_a_person_and_raises_nothing() -> None:
    """Every combination returns a value; one the table does not know is never guessed."""
    for case in itertools.product(Step, Answer, Chart):
        decision = decide(*case)
        assert isinstance(decision, Decision)
        if case not in OUTCOMES:
            assert decision is Decision.NEEDS_PERSON


def test_an_unguarded_create_is_never_sent_again_on_a_read() -> None:
    """A timer or an empty search cannot prove a create will never land: no SEND row for it."""
    for (step, _, _), decision in OUTCOMES.items():
        if step in (S.CREATE_DOCUMENT_UNGUARDED, S.CREATE_PROVENANCE_UNGUARDED):
            assert decision is not Decision.SEND


def test_an_answer_that_proves_nothing_never_ends_as_not_landed() -> None:
    """No answer, a 5xx or a failed read never leads to reject, conflict or a resend."""
    for (step, answer, chart), decision in OUTCOMES.items():
        unproven = answer in (A.NO_ANSWER, A.SERVER_ERROR) or chart is C.UNREADABLE
        if unproven and step is not S.BASELINE_READ:
            assert decision is Decision.RECONCILE, (step, answer, chart)


def test_a_refused_follow_up_never_unlands_the_note() -> None:
    """Once the note is in the chart (the Provenance step), no row says reject or conflict."""
    for (step, _, _), decision in OUTCOMES.items():
        if step in PROVENANCES:
            assert decision not in (Decision.REJECT, Decision.CONFLICT)


def test_a_version_conflict_on_a_write_is_read_before_it_is_called_a_conflict() -> None:
    """409/412 to any write is reconciled against the chart first (it may be ours)."""
    for step in WRITES:
        assert decide(step, A.VERSION_CONFLICT) is Decision.RECONCILE


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, A.SUCCESS),
        (201, A.SUCCESS),
        (304, A.VERSION_CONFLICT),
        (409, A.VERSION_CONFLICT),
        (412, A.VERSION_CONFLICT),
        (404, A.GONE),
        (410, A.GONE),
        (429, A.RATE_LIMITED),
        (400, A.REFUSED),
        (403, A.REFUSED),
        (422, A.REFUSED),
        (500, A.SERVER_ERROR),
        (503, A.SERVER_ERROR),
    ],
)
def test_http_statuses_fall_into_their_answer_class(status: int, answer: Answer) -> None:
    """The executor's only status arithmetic: each status maps to one class."""
    assert classify(status) is answer


@pytest.mark.parametrize(
    ("status", "vendor", "answer"),
    [
        (422, VendorErrorClass.DUPLICATE, A.VENDOR_DUPLICATE),
        (403, VendorErrorClass.CONFIGURATION, A.VENDOR_CONFIGURATION),
        (422, VendorErrorClass.REJECT, A.REFUSED),
        (400, VendorErrorClass.RETRY, A.VENDOR_RETRY),
        (503, VendorErrorClass.RETRY, A.SERVER_ERROR),
        (500, VendorErrorClass.REJECT, A.SERVER_ERROR),
        (201, VendorErrorClass.DUPLICATE, A.SUCCESS),
    ],
)
def test_a_vendor_code_refines_a_refusal_but_never_a_5xx(
    status: int, vendor: VendorErrorClass, answer: Answer
) -> None:
    """The vendor's code decides between retry/configuration/reject/duplicate on a refusal."""
    assert classify(status, vendor) is answer
