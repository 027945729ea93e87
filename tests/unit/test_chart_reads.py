"""The chart reads behind the outcome table (service/chart_reads.py), over a scripted EHR.

A failed read must never read as "absent" (that once turned our own finalize into a conflict);
an id holding something that is not ours is a duplicate; a baseline that moved stops the write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from builders import submission
from chartgate.domain import fhir_codes as fc
from chartgate.domain.drafts import Draft
from chartgate.domain.errors import (
    EhrAmbiguous,
    EhrError,
    EhrNotAllowed,
    EhrUnreachable,
    StateConflict,
)
from chartgate.domain.outcomes import Chart, Decision, Step
from chartgate.domain.submission import DraftSubmission
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import CreateGuard, Writeback, WritebackKind, WritebackState
from chartgate.service.chart_evidence import follow_up_in_chart, landed_document
from chartgate.service.chart_reads import check_baseline, read_chart
from chartgate.service.ehr_channel import Stop
from chartgate.service.ports import EhrAnswer

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class ScriptedEhr:
    """Answers each read with the next scripted answer (or raises it); records what was read."""

    def __init__(self, *answers: EhrAnswer | Exception, found: list[dict] | None = None) -> None:
        self.answers = list(answers)
        self.found = found or []
        self.reads: list[tuple[str, str]] = []

    def read(self, resource_type: str, resource_id: str, *, request_id: str) -> EhrAnswer:
        del request_id
        self.reads.append((resource_type, resource_id))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def search(self, resource_type: str, params: dict, *, request_id: str) -> list[dict]:
        del resource_type, params, request_id
        return self.found


def _record(kind: WritebackKind = WritebackKind.APPROVE, **fields: object) -> Writeback:
    payload: dict[str, object] = {"resourceType": "DocumentReference"}
    if not kind.creates_document:
        payload["meta"] = {"versionId": "3"}
    return Writeback(
        tenant="clinic-a",
        id="wb-1",
        draft_id="draft-1",
        approval_id="a-1",
        kind=kind,
        state=WritebackState.SENDING,
        may_have_landed=True,
        payload=payload,
        payload_hash="sha256:x",
        correlation_id="corr-1",
        attempts=1,
        next_attempt_at=AT,
        **fields,  # type: ignore[arg-type]
    )


def _ours(resource_id: str = "doc-9") -> dict[str, object]:
    return {
        "resourceType": "DocumentReference",
        "id": resource_id,
        "meta": {"tag": [{"system": fc.WRITEBACK_SYSTEM, "code": "wb-1"}]},
    }


def test_a_read_that_failed_is_unreadable_with_the_ehrs_retry_after() -> None:
    """No answer to the chart read proves nothing: UNREADABLE, never ABSENT."""
    ehr = ScriptedEhr(EhrAmbiguous("timed out", retry_after=30.0))
    chart, retry = read_chart(Step.CREATE_DOCUMENT, ehr, _record(), CreateGuard.CLIENT_ID)
    assert (chart, retry) == (Chart.UNREADABLE, 30.0)


def test_a_chart_read_the_profile_forbids_stops_for_a_person() -> None:
    """A read refused before sending (configuration) ends the attempt for a person to look."""
    ehr = ScriptedEhr(EhrNotAllowed("search is not allowed"))
    with pytest.raises(Stop) as stopped:
        read_chart(Step.CREATE_DOCUMENT, ehr, _record(), CreateGuard.CLIENT_ID)
    assert stopped.value.ended.decision is Decision.NEEDS_PERSON
    assert stopped.value.ended.reason.startswith("configuration: chart read for create_document")


@pytest.mark.parametrize(
    ("answer", "chart"),
    [
        (EhrAnswer(404), Chart.ABSENT),
        (EhrAnswer(410), Chart.ABSENT),
        (EhrAnswer(500), Chart.UNREADABLE),
        (EhrAnswer(200, resource=None), Chart.UNREADABLE),
        (
            EhrAnswer(200, resource={"resourceType": "DocumentReference", "id": "x"}),
            Chart.DUPLICATED,
        ),
    ],
    ids=["gone-404", "gone-410", "server-error", "empty-body", "someone-elses"],
)
def test_what_a_client_id_read_shows(answer: EhrAnswer, chart: Chart) -> None:
    """Our client id: gone is absent, a failure unreadable, a resource not ours a duplicate."""
    ehr = ScriptedEhr(answer)
    assert read_chart(Step.CREATE_DOCUMENT, ehr, _record(), CreateGuard.CLIENT_ID)[0] is chart
    assert ehr.reads == [("DocumentReference", "cgd-wb-1")]


def test_our_resource_at_our_client_id_is_mine_and_remembered() -> None:
    """The Provenance at its client id, carrying our mark: MINE, and its id is kept."""
    record = _record()
    ehr = ScriptedEhr(EhrAnswer(200, resource=_ours("prov-1"), version_id="1"))
    assert read_chart(Step.CREATE_PROVENANCE, ehr, record, CreateGuard.CLIENT_ID)[0] is Chart.MINE
    assert ehr.reads == [("Provenance", "cgp-wb-1")]
    assert record.provenance_id == "prov-1"
    assert record.document_id is None


def test_two_resources_carrying_our_identifier_are_a_duplicate() -> None:
    """An identifier search (no create guard) that finds two: DUPLICATED, nothing remembered."""
    record = _record()
    ehr = ScriptedEhr(found=[_ours("doc-1"), _ours("doc-2")])
    assert read_chart(Step.CREATE_DOCUMENT_UNGUARDED, ehr, record, CreateGuard.NONE)[0] is (
        Chart.DUPLICATED
    )
    assert record.document_id is None


@pytest.mark.parametrize(
    ("answer", "chart"),
    [
        (EhrAnswer(404), Chart.CHANGED),
        (EhrAnswer(503), Chart.UNREADABLE),
        (EhrAnswer(200, resource=_ours(), version_id="4"), Chart.MINE),
        (EhrAnswer(200, resource={"id": "doc-9"}, version_id="3"), Chart.ABSENT),
        (EhrAnswer(200, resource={"id": "doc-9"}, version_id="5"), Chart.CHANGED),
    ],
    ids=["gone", "server-error", "ours", "still-matched", "someone-elses-version"],
)
def test_what_an_update_read_shows(answer: EhrAnswer, chart: Chart) -> None:
    """Finalize: our mark is MINE, the matched version ABSENT, another version CHANGED."""
    record = _record(WritebackKind.FINALIZE, document_id="doc-9")
    assert (
        read_chart(Step.UPDATE_DOCUMENT, ScriptedEhr(answer), record, CreateGuard.CLIENT_ID)[0]
        is chart
    )
    if chart is Chart.MINE:
        assert record.document_version == "4"


def _draft(baseline: dict[str, str]) -> Draft:
    parsed = DraftSubmission.model_validate(submission())
    return Draft.submit(
        draft_id="draft-1",
        tenant="clinic-a",
        patient=parsed.patient,
        encounter=parsed.encounter,
        origin=parsed.origin,
        content=parsed.content(),
        baseline=baseline,
        correlation_id="corr-1",
        author="scribe:s",
        at=AT,
    )


def test_an_unchanged_baseline_lets_the_write_go_on() -> None:
    """Every resource the draft was generated against is read; all at their version: no Stop."""
    ehr = ScriptedEhr(EhrAnswer(200, version_id="7"), EhrAnswer(200, version_id="2"))
    check_baseline(ehr, _draft({"Condition/c1": "7", "Observation/o1": "2"}), _record())
    assert ehr.reads == [("Condition", "c1"), ("Observation", "o1")]


def test_a_baseline_resource_edited_since_the_draft_is_a_conflict_naming_the_versions() -> None:
    """Someone changed the Condition after the scribe read it: the write stops as a conflict."""
    ehr = ScriptedEhr(EhrAnswer(200, version_id="8"))
    with pytest.raises(Stop) as stopped:
        check_baseline(ehr, _draft({"Condition/c1": "7"}), _record())
    assert stopped.value.ended.decision is Decision.CONFLICT
    assert (
        stopped.value.ended.reason
        == "Condition changed since the draft's baseline (version 7 -> 8)"
    )


@pytest.mark.parametrize(
    ("failure", "decision", "reason"),
    [
        (EhrAmbiguous("timed out"), Decision.RETRY, "baseline read: no answer"),
        (EhrUnreachable("refused"), Decision.RETRY, "baseline read: not sent"),
        (EhrNotAllowed("forbidden read"), Decision.NEEDS_PERSON, "configuration: baseline read"),
    ],
    ids=["no-answer", "not-sent", "not-allowed"],
)
def test_a_baseline_read_that_failed_never_sends_the_note(
    failure: Exception, decision: Decision, reason: str
) -> None:
    """No answer or not sent: try later; refused by configuration: a person looks."""
    with pytest.raises(Stop) as stopped:
        check_baseline(ScriptedEhr(failure), _draft({"Condition/c1": "7"}), _record())
    assert stopped.value.ended.decision is decision
    assert stopped.value.ended.reason.startswith(reason)


def test_a_baseline_read_the_ehr_answered_with_an_error_does_not_proceed() -> None:
    """A 503 on the baseline read is not "unchanged": the write waits, naming the status."""
    with pytest.raises(Stop) as stopped:
        check_baseline(
            ScriptedEhr(EhrAnswer(503, retry_after=12.0)), _draft({"Condition/c1": "7"}), _record()
        )
    ended = stopped.value.ended
    assert ended.decision is not Decision.PROCEED
    assert (ended.status, ended.reason, ended.retry_after) == (
        503,
        "baseline read answered 503",
        12.0,
    )


# -- what a person's resolution rests on (service/chart_evidence.py) ------------------------------


class Directory:
    """One tenant's scripted EHR, with its provenance mode and create guard."""

    def __init__(
        self,
        ehr: ScriptedEhr,
        *,
        mode: ProvenanceMode = ProvenanceMode.SEPARATE,
        guard: CreateGuard = CreateGuard.CLIENT_ID,
    ) -> None:
        self.ehr, self.mode, self.guard = ehr, mode, guard

    def gateway(self, tenant: str) -> ScriptedEhr:
        del tenant
        return self.ehr

    def profile(self, tenant: str) -> SimpleNamespace:
        del tenant
        return SimpleNamespace(provenance_mode=self.mode)

    def create_guard(self, tenant: str) -> CreateGuard:
        del tenant
        return self.guard


def test_a_landed_document_must_carry_our_mark_or_identifier_on_its_current_version() -> None:
    """A note we created is recognised by its identifier too; its version is returned."""
    by_identifier = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": fc.WRITEBACK_SYSTEM, "value": "wb-1"}],
    }
    directory = Directory(ScriptedEhr(EhrAnswer(200, resource=by_identifier, version_id="2")))
    assert landed_document(directory, _record(), "DocumentReference/doc-9") == ("doc-9", "2")
    assert directory.ehr.reads == [("DocumentReference", "doc-9")]


@pytest.mark.parametrize(
    ("document", "answer"),
    [
        ("Condition/c1", None),
        ("DocumentReference/", None),
        (None, None),
        ("DocumentReference/doc-9", EhrAnswer(404)),
        ("DocumentReference/doc-9", EhrAnswer(200, resource={"id": "doc-9"}, version_id="2")),
        ("DocumentReference/doc-9", EhrAnswer(200, resource=_ours(), version_id=None)),
    ],
    ids=["other-type", "no-id", "nothing-named", "not-in-chart", "not-ours", "no-version"],
)
def test_a_document_that_is_not_this_write_backs_is_refused(
    document: str | None, answer: EhrAnswer | None
) -> None:
    """A person's "it landed" is checked: wrong type, absent, unmarked or unversioned: 409."""
    directory = Directory(ScriptedEhr(*([answer] if answer else [])))
    with pytest.raises(StateConflict) as refused:
        landed_document(directory, _record(), document)
    assert refused.value.expression == "document"


def test_a_follow_up_finds_its_provenance_and_sends_nothing() -> None:
    """Our Provenance is in the chart: PROCEED with its id (complete, nothing sent again)."""
    ours = {**_ours("prov-7"), "resourceType": "Provenance"}
    directory = Directory(ScriptedEhr(EhrAnswer(200, resource=ours, version_id="1")))
    assert follow_up_in_chart(directory, _record()) == (Decision.PROCEED, "prov-7")


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        (Directory(ScriptedEhr(EhrAnswer(404))), (Decision.SEND, None)),
        (
            Directory(ScriptedEhr(), guard=CreateGuard.NONE),  # an empty search
            (Decision.SEND, None),
        ),
        (Directory(ScriptedEhr(), mode=ProvenanceMode.NONE), (Decision.SEND, None)),
    ],
    ids=["guarded-absent", "unguarded-absent", "no-provenance-mode"],
)
def test_a_follow_up_without_a_provenance_in_the_chart_is_sent(
    directory: Directory, expected: tuple[Decision, None]
) -> None:
    """Absent (or never sent to the EHR at all): the follow-up is sent on the person's word."""
    assert follow_up_in_chart(directory, _record()) == expected


def test_a_follow_up_that_cannot_be_proven_changes_nothing() -> None:
    """Two marked Provenances: 409 asking to remove one; an unreadable chart: an EHR error."""
    two = Directory(ScriptedEhr(found=[_ours("p1"), _ours("p2")]), guard=CreateGuard.NONE)
    with pytest.raises(StateConflict, match="more than one Provenance"):
        follow_up_in_chart(two, _record())
    with pytest.raises(EhrError, match="could not be read"):
        follow_up_in_chart(Directory(ScriptedEhr(EhrAnswer(500))), _record())
    forbidden = Directory(ScriptedEhr(EhrNotAllowed("search is not allowed")))
    with pytest.raises(StateConflict, match="configuration"):
        follow_up_in_chart(forbidden, _record())
