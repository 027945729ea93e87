"""The outcome table: what one step of a write-back means, given what came back and the chart.

Every decision the write-back worker takes about the EHR is a row here, keyed by
``(what was sent, what came back or failed, what the chart shows now)``. The table is pure:
it returns a value and raises nothing, so a parametrised unit test covers every row in
milliseconds (``tests/unit/test_outcomes.py``), and the worker around it does only IO.

The family of bugs this table exists to end: *the worker must always be able to recognise
its own write*. So an answer that does not prove what happened (a timeout, a dropped
connection, a 5xx, and also a 409/412 to an update, which may be our own earlier write
answering back) never decides on its own: it says ``RECONCILE``, the worker reads the chart,
and the chart read, with our mark on what we wrote, decides. A create that nothing at the
EHR guards (no conditional create, no client-assigned id) is never re-sent on a search that
came back empty: a slow request may still land, so it waits for a person (``NEEDS_PERSON``).

FHIR R4 HTTP semantics: http://hl7.org/fhir/R4/http.html (conditional create, If-Match,
If-None-Match on a client-assigned id).
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from chartgate.domain.vendor_errors import VendorErrorClass

if TYPE_CHECKING:
    from collections.abc import Mapping


class Step(StrEnum):
    """What was sent (or read): one request of a write-back."""

    BASELINE_READ = "baseline_read"
    """GET of a resource the draft was generated against."""
    CREATE_DOCUMENT = "create_document"
    """A create the EHR itself guards: conditional create, or PUT of a client id + If-None-Match."""
    CREATE_DOCUMENT_UNGUARDED = "create_document_unguarded"
    """A plain POST: nothing at the EHR stops a second copy (Epic)."""
    UPDATE_DOCUMENT = "update_document"
    """PUT with If-Match: finalize and retract."""
    CREATE_PROVENANCE = "create_provenance"
    """A guarded create of the Provenance."""
    CREATE_PROVENANCE_UNGUARDED = "create_provenance_unguarded"
    """A plain POST of the Provenance."""

    @property
    def writes_document(self) -> bool:
        """True for the step that puts the note itself into the chart."""
        return self in _DOCUMENT_STEPS


_DOCUMENT_STEPS = frozenset(
    {Step.CREATE_DOCUMENT, Step.CREATE_DOCUMENT_UNGUARDED, Step.UPDATE_DOCUMENT}
)


class Answer(StrEnum):
    """What came back, or how the request failed (the executor classifies the HTTP answer)."""

    SUCCESS = "2xx"
    VERSION_CONFLICT = "409/412"
    GONE = "404/410"
    RATE_LIMITED = "429"
    REFUSED = "other 4xx"
    SERVER_ERROR = "5xx"
    NO_ANSWER = "timeout or dropped after sending"
    NOT_SENT = "not sent (connection refused)"
    NOT_ALLOWED = "not sent: the vendor profile forbids it"
    """chartgate refused the request itself (``EhrNotAllowed``): a configuration problem."""
    VENDOR_CONFIGURATION = "vendor code: configuration error"
    """The EHR's own code says the setup is wrong (e.g. Epic's empty 403: API not registered)."""
    VENDOR_DUPLICATE = "vendor code: duplicate"
    """The EHR's own code says the record exists already: read the chart at once."""
    VENDOR_RETRY = "vendor code: transient"
    """The EHR's own code says it refused for now: nothing landed, send again later."""
    CHART_READ = "chart read back"
    """Not an answer to the step itself: the worker read the chart to see what happened."""


class Chart(StrEnum):
    """What the chart shows now, as far as this row knows."""

    UNREAD = "not read"
    MINE = "mine"
    """The resource carrying this write-back's mark is there (exactly one of it)."""
    ABSENT = "absent"
    """Read succeeded: nothing carries our mark (an update: the version we matched is current)."""
    CHANGED = "changed"
    """Someone else's version is current (or the resource is gone)."""
    UNCHANGED = "unchanged"
    """A baseline read: the version the draft was generated against is still current."""
    DUPLICATED = "duplicated"
    """More than one resource carries our mark: the chart already holds a duplicate."""
    UNREADABLE = "read failed"
    """The chart read itself failed: it proves nothing either way."""


class Decision(StrEnum):
    """What the worker does next."""

    PROCEED = "proceed"
    """This step is done (it is in the chart): go on to the next one; after the last, commit."""
    SEND = "send"
    """The chart proves this step has not landed and a resend is safe: send it now."""
    RETRY = "retry later"
    """Nothing landed: back to the queue with backoff."""
    RECONCILE = "reconcile"
    """It may have landed: read the chart before anything is sent again."""
    CONFLICT = "conflict"
    """The chart changed under the draft: a clinician must rebase (never an overwrite)."""
    REJECT = "reject"
    """The EHR refused the note itself: nothing is in the chart."""
    PARTIAL = "partial"
    """The note is in the chart, but a follow-up (the Provenance) was refused."""
    NEEDS_PERSON = "needs a person"
    """The worker cannot prove what happened: park it, show the evidence, a person decides."""


S, A, C, D = Step, Answer, Chart, Decision

_CREATES = (S.CREATE_DOCUMENT, S.CREATE_DOCUMENT_UNGUARDED)
_PROVENANCES = (S.CREATE_PROVENANCE, S.CREATE_PROVENANCE_UNGUARDED)


def _answer_rows() -> dict[tuple[Step, Answer, Chart], Decision]:
    rows: dict[tuple[Step, Answer, Chart], Decision] = {}
    u = C.UNREAD
    for step in (*_CREATES, S.UPDATE_DOCUMENT, *_PROVENANCES):
        # Cannot have landed: try again later.
        rows[step, A.RATE_LIMITED, u] = D.RETRY
        rows[step, A.NOT_SENT, u] = D.RETRY
        # May have landed: never decide before reading the chart.
        rows[step, A.NO_ANSWER, u] = D.RECONCILE
        rows[step, A.SERVER_ERROR, u] = D.RECONCILE
        rows[step, A.SUCCESS, u] = D.PROCEED
        # A 409/412 to a guarded create means "it exists already" (If-None-Match: *, or
        # several matches of If-None-Exist); to an update it may be our own earlier write:
        # in both cases the chart, not the status, says whose it is.
        rows[step, A.VERSION_CONFLICT, u] = D.RECONCILE
        # The vendor's own code (``domain/vendor_errors.py``) is more precise than the status.
        rows[step, A.VENDOR_DUPLICATE, u] = D.RECONCILE
        rows[step, A.VENDOR_RETRY, u] = D.RETRY
        # A configuration error is never transient: no resend helps until a person fixes it.
        rows[step, A.VENDOR_CONFIGURATION, u] = D.NEEDS_PERSON
        rows[step, A.NOT_ALLOWED, u] = D.NEEDS_PERSON
    for step in _CREATES:
        rows[step, A.REFUSED, u] = D.REJECT
        rows[step, A.GONE, u] = D.REJECT
    # The document we update is gone: never ours (retraction is a PUT, not a DELETE).
    rows[S.UPDATE_DOCUMENT, A.GONE, u] = D.CONFLICT
    rows[S.UPDATE_DOCUMENT, A.REFUSED, u] = D.REJECT
    for step in _PROVENANCES:
        # The note is already in the chart: a refused follow-up is never "nothing landed".
        rows[step, A.REFUSED, u] = D.PARTIAL
        rows[step, A.GONE, u] = D.PARTIAL
    # A baseline read writes nothing: any failure is "try again later".
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
        rows[S.BASELINE_READ, answer, u] = D.RETRY
    rows[S.BASELINE_READ, A.VENDOR_CONFIGURATION, u] = D.NEEDS_PERSON
    rows[S.BASELINE_READ, A.NOT_ALLOWED, u] = D.NEEDS_PERSON
    rows[S.BASELINE_READ, A.GONE, u] = D.CONFLICT
    rows[S.BASELINE_READ, A.SUCCESS, C.UNCHANGED] = D.PROCEED
    rows[S.BASELINE_READ, A.SUCCESS, C.CHANGED] = D.CONFLICT
    return rows


def _chart_rows() -> dict[tuple[Step, Answer, Chart], Decision]:
    rows: dict[tuple[Step, Answer, Chart], Decision] = {}
    read = A.CHART_READ
    for step in (*_CREATES, S.UPDATE_DOCUMENT, *_PROVENANCES):
        rows[step, read, C.MINE] = D.PROCEED
        rows[step, read, C.UNREADABLE] = D.RECONCILE  # a failed read is never "not landed"
    for step in (*_CREATES, *_PROVENANCES):
        rows[step, read, C.DUPLICATED] = D.NEEDS_PERSON
    # Absent, and the EHR guards a resend (a second copy cannot be created): send it.
    rows[S.CREATE_DOCUMENT, read, C.ABSENT] = D.SEND
    rows[S.CREATE_PROVENANCE, read, C.ABSENT] = D.SEND
    # Absent, but nothing guards a resend: the first request may still land. A timer cannot
    # prove it never will, so a person decides (resend, or point at the document).
    rows[S.CREATE_DOCUMENT_UNGUARDED, read, C.ABSENT] = D.NEEDS_PERSON
    rows[S.CREATE_PROVENANCE_UNGUARDED, read, C.ABSENT] = D.NEEDS_PERSON
    # An update guarded by If-Match: the version we matched is still current, so our PUT did
    # not land, and a resend cannot overwrite anyone (it would get 412 if something changed).
    rows[S.UPDATE_DOCUMENT, read, C.ABSENT] = D.SEND
    rows[S.UPDATE_DOCUMENT, read, C.CHANGED] = D.CONFLICT
    return rows


OUTCOMES: Mapping[tuple[Step, Answer, Chart], Decision] = MappingProxyType(
    {**_answer_rows(), **_chart_rows()}
)
"""(what was sent, what came back, what the chart shows) -> decision. Every case, once."""


def decide(step: Step, answer: Answer, chart: Chart = Chart.UNREAD) -> Decision:
    """Look the case up; a case the table does not list needs a person (never a guess)."""
    return OUTCOMES.get((step, answer, chart), Decision.NEEDS_PERSON)


_VENDOR_ANSWERS: Mapping[VendorErrorClass, tuple[Answer, bool]] = MappingProxyType(
    {
        # (answer, only below 500): a 5xx may come after the commit, so "nothing landed"
        # readings (reject, retry) never override it; duplicate and configuration may.
        VendorErrorClass.DUPLICATE: (Answer.VENDOR_DUPLICATE, False),
        VendorErrorClass.CONFIGURATION: (Answer.VENDOR_CONFIGURATION, False),
        VendorErrorClass.REJECT: (Answer.REFUSED, True),
        VendorErrorClass.RETRY: (Answer.VENDOR_RETRY, True),
    }
)


_BY_STATUS: Mapping[int, Answer] = MappingProxyType(
    {
        304: Answer.VERSION_CONFLICT,
        409: Answer.VERSION_CONFLICT,
        412: Answer.VERSION_CONFLICT,
        404: Answer.GONE,
        410: Answer.GONE,
        429: Answer.RATE_LIMITED,  # too many requests: refused before acting
    }
)


def classify(status: int, vendor: VendorErrorClass | None = None) -> Answer:
    """The answer class of an HTTP status (the executor's only status arithmetic).

    ``vendor``: what the vendor's own error code says (``classify_vendor_error``); it refines
    a refusal, but never makes a 5xx (which may come after the commit) "nothing landed".
    """
    if 200 <= status < 300:  # noqa: PLR2004 - HTTP class bounds
        return Answer.SUCCESS
    refined = _VENDOR_ANSWERS.get(vendor) if vendor is not None else None
    if refined is not None and (status < 500 or not refined[1]):  # noqa: PLR2004 - 5xx
        return refined[0]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:  # noqa: PLR2004 - server errors: the write may have landed
        return Answer.SERVER_ERROR
    return Answer.REFUSED
