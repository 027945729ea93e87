"""The reviewer page's reading aids (issue 16 item 2): the note once, plain findings, fates.

Pure functions: the rendered note (sections as headings, changes inline, nothing of the
note's text interpreted as HTML), findings in plain words, what approval does to each
structured resource, times for the reader's zone, and the chart read that rebase uses.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from builders import SOAP_NOTE
from chartgate.domain.errors import EhrUnreachable
from chartgate.domain.findings import Finding
from chartgate.domain.policy.decisions import Decision
from chartgate.domain.policy.terms import Mode
from chartgate.service.ports import EhrAnswer
from chartgate.service.worklists import DraftItem, Page
from chartgate.web.chart_now import current_baseline, read_chart
from chartgate.web.note_view import inline_diff, render, render_text
from chartgate.web.plain_words import plain_findings, resource_fate, when
from chartgate.web.presenter import resource_label
from chartgate.web.worklist_view import section

OLD = "Return if symptoms worsen."
NEW = "Return if fever develops or symptoms last 10 days."


def test_the_note_is_rendered_once_with_headings_and_changes_inline() -> None:
    """``## Plan`` is a heading (no hash marks); the edit shows as del/ins in one text."""
    html = str(render(inline_diff(SOAP_NOTE, SOAP_NOTE.replace(OLD, NEW))))
    assert '<h3 class="note-h">Plan</h3>' in html
    assert "##" not in html
    assert html.count("Supportive care") == 1
    assert "<del>" in html
    assert "worsen." in html.split("<del>")[1]
    assert "<ins>" in html
    assert "last 10 days." in html


def test_the_notes_text_is_never_html() -> None:
    """A script tag or markup in the note is shown as text."""
    html = str(render_text("## <script>x()</script>\n- <b>bold</b>\n<img src=x>"))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<li>&lt;b&gt;bold&lt;/b&gt;</li>" in html
    assert "&lt;img src=x&gt;" in html


def test_lists_and_paragraphs() -> None:
    """Bullets become a list; consecutive lines one paragraph; a blank line ends it."""
    html = str(render_text("One\ntwo\n\n- a\n- b\n1. c\nafter"))
    assert "<p>One<br>two</p>" in html
    assert "<ul><li>a</li><li>b</li><li>c</li></ul>" in html
    assert "<p>after</p>" in html


CONDITION = {
    "resourceType": "Condition",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1", "display": "Cough"}]},
}


def test_findings_are_in_plain_words_blocking_first() -> None:
    """A machine code becomes what is wrong, where (by name) and what to do."""
    findings = [
        Finding.warning("uscore.category", "note.category", "category missing"),
        Finding.error(
            "consistency.not-in-narrative",
            "resources[0].code",
            "Condition Cough is not mentioned in the note",
        ),
    ]
    plain = plain_findings(findings, [CONDITION], label=resource_label)
    first = plain[0]
    assert first.blocking
    assert first.what == "A structured item is not mentioned in the note."
    assert first.where == "structured item 1 (Condition: Cough (SNOMED CT 1))"
    assert "Mention it in the note text" in first.todo
    assert first.code == "consistency.not-in-narrative"
    assert not plain[1].blocking


def test_unknown_codes_keep_their_own_message() -> None:
    """A code without plain words still says what the rule said (never hidden)."""
    plain = plain_findings(
        [Finding.error("zzz.new", "note", "the new rule says no")], [], label=resource_label
    )
    assert plain[0].what == "The new rule says no."


def _decision(mode: Mode | None, *, allowed: bool) -> Decision:
    return Decision(
        allowed=allowed, mode=mode, requires_approval=True, auth=None, reason="", resource_type="X"
    )


def test_each_resource_says_whether_approval_writes_it() -> None:
    """Allowed: will be written; draft-only: not written (by policy)."""
    assert (
        resource_fate(_decision(Mode.CLINICIAN_APPROVED, allowed=True)).words == "will be written"
    )
    fate = resource_fate(_decision(Mode.DRAFT_ONLY, allowed=False))
    assert not fate.written
    assert fate.words == "not written to the chart (draft-only by policy)"


def test_times_are_marked_for_the_readers_zone_with_utc_as_the_fallback() -> None:
    """A <time> in UTC (the script shows it in local time with the zone)."""
    at = datetime(2026, 11, 24, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert str(when(at)) == (
        '<time datetime="2026-11-24T10:00:00Z" class="local-time">2026-11-24 10:00 UTC</time>'
    )


class _Chart:
    def __init__(self, answers: dict[str, EhrAnswer | Exception]) -> None:
        self.answers = answers

    def read(self, resource_type: str, resource_id: str, *, request_id: str) -> EhrAnswer:
        del request_id
        found = self.answers[f"{resource_type}/{resource_id}"]
        if isinstance(found, Exception):
            raise found
        return found

    def vread(
        self, resource_type: str, resource_id: str, version_id: str, *, request_id: str
    ) -> EhrAnswer:
        del request_id
        found = self.answers.get(f"{resource_type}/{resource_id}/_history/{version_id}")
        if found is None:
            return EhrAnswer(status=404)
        if isinstance(found, Exception):
            raise found
        return found


def test_rebase_reads_the_charts_current_versions_itself() -> None:
    """The versions come from the chart; one unreadable resource means no rebase."""
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    chart = _Chart(
        {
            "Condition/c1": EhrAnswer(
                status=200,
                resource={"meta": {"lastUpdated": now.isoformat()}, "status": "active"},
                version_id="3",
            ),
            "DocumentReference/d1": EhrUnreachable("the EHR did not answer"),
        }
    )
    read = read_chart(chart, {"Condition/c1": "1"}, request_id="r")  # type: ignore[arg-type]
    assert (read[0].drafted, read[0].current, read[0].updated) == ("1", "3", now)
    assert read[0].changes == ("status active",)
    assert current_baseline(read) == {"Condition/c1": "3"}
    both = read_chart(
        chart,  # type: ignore[arg-type]
        {"Condition/c1": "1", "DocumentReference/d1": "1"},
        request_id="r",
    )
    assert both[1].error is not None
    assert current_baseline(both) is None


def test_worklist_sections_are_newest_first_with_counts_and_what_to_do() -> None:
    """Newest first; ``50+`` when more exist; attention lines say what to do."""

    def item(ident: str, state: str, minute: int) -> DraftItem:
        at = datetime(2026, 11, 24, 10, minute, tzinfo=UTC)
        return DraftItem(ident, state, "Patient/p", "Encounter/e", at, at)

    shown = section(Page([item("a", "in_review", 1), item("b", "in_review", 5)], "next"))
    assert [line.item.id for line in shown.lines] == ["b", "a"]
    assert shown.count == "2+"
    attention = section(Page([item("c", "conflict", 2)]), attention=True)
    assert attention.count == "1"
    assert attention.lines[0].words == "The chart changed: rebase, review and approve again."


def test_a_writeback_that_needs_a_person_is_named_by_its_own_state() -> None:
    """A committed draft whose follow-up failed reads "Follow-up failed", not "committed"."""
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    partial = DraftItem("p", "committed", "Patient/p", "Encounter/e", at, at, "partial")
    stuck = DraftItem("n", "queued", "Patient/p", "Encounter/e", at, at, "needs_person")
    shown = section(Page([partial, stuck]), attention=True)
    words = {line.item.id: line.words for line in shown.lines}
    assert words["p"].startswith("Follow-up failed: the note is in the chart")
    assert words["n"].startswith("Needs a person:")


def _note(text: str, **fields: Any) -> dict[str, Any]:
    data = base64.b64encode(text.encode()).decode()
    return {
        "resourceType": "DocumentReference",
        "meta": {"versionId": "x"},
        "status": "current",
        "docStatus": "preliminary",
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": data}}],
        **fields,
    }


def test_rebase_shows_what_changed_in_the_charts_note_field_by_field() -> None:
    """What changed in the chart's note since the drafted-against version, in plain words.

    Drafted against version 1, the chart has version 2: each changed field in a sentence and the
    note text's changes inline; bookkeeping (meta) is left out.
    """
    was = _note("Cough for three days. Return if worse.")
    now = _note(
        "Cough for five days. Return if worse.",
        docStatus="final",
        description="Changed in the EHR",
    )
    chart = _Chart(
        {
            "DocumentReference/d1": EhrAnswer(status=200, resource=now, version_id="2"),
            "DocumentReference/d1/_history/1": EhrAnswer(status=200, resource=was, version_id="1"),
        }
    )
    [read] = read_chart(chart, {"DocumentReference/d1": "1"}, request_id="r")  # type: ignore[arg-type]
    assert read.diff is not None
    assert [f.words for f in read.diff.fields] == [
        "Description: added “Changed in the EHR”",
        "Signature status (docStatus): was “preliminary”, now “final”",
    ]
    assert read.diff.text_summary == "1 word(s) removed, 1 added"
    assert "[removed: </span>three" in str(read.diff.text_diff)
    assert "[added: </span>five" in str(read.diff.text_diff)


def test_rebase_says_so_when_the_ehr_cannot_give_the_earlier_version() -> None:
    """No vread (404): the version change is shown and the missing field diff is named."""
    now = _note("Cough.", docStatus="final")
    chart = _Chart({"DocumentReference/d1": EhrAnswer(status=200, resource=now, version_id="2")})
    [read] = read_chart(chart, {"DocumentReference/d1": "1"}, request_id="r")  # type: ignore[arg-type]
    assert read.diff is None
    assert read.diff_unavailable
