"""Post-launch report figures from ledger events alone (service/reports.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chartgate.service.reports import DraftOrigin, LedgerEvent, build_drift, build_report

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ev(event: str, minutes: float, wb: str | None = "wb-1", **data: Any) -> LedgerEvent:
    return LedgerEvent(
        tenant="clinic-a",
        type=event,
        at=T0 + timedelta(minutes=minutes),
        draft_id=f"d-{wb}",
        writeback_id=wb,
        actor="clinician:dr-a" if event.startswith("draft.") else "worker:w",
        data={"kind": "approve", **data},
    )


def story(
    wb: str, *, drop: str | None = None, end: str = "writeback.committed"
) -> list[LedgerEvent]:
    """A chain: received, approved 2 min later, queued, request, response, end at 3 min."""
    chain = [
        LedgerEvent("clinic-a", "draft.received", T0, f"d-{wb}", None, "scribe:s", {}),
        ev("draft.approved", 2, wb),
        ev("writeback.queued", 2, wb),
        ev("ehr.request", 2.5, wb),
        ev("ehr.response", 2.6, wb, status=201),
        ev(end, 3, wb),
    ]
    return [e for e in chain if e.type != drop]


def pseudonym(_: str, actor: str) -> str:
    return f"p-{len(actor)}"


def report(events: list[LedgerEvent]) -> Any:
    return build_report(
        events,
        {"d-wb-1": DraftOrigin("11506-3", "soap-v3", "m@1")},
        start=T0,
        end=T0 + timedelta(days=1),
        clinician=pseudonym,
    )


def test_a_whole_chain_is_complete_and_times_review_and_commit() -> None:
    """Received→approved is the review time; queued→committed the commit time."""
    result = report(story("wb-1"))
    assert result.total.committed == 1
    assert result.total.incomplete == 0
    assert result.total.review_p50_s == 120.0
    assert result.total.commit_p50_s == 60.0
    assert [row.group for row in result.by["template"]] == ["soap-v3"]


def test_a_committed_write_back_without_its_ehr_answer_is_incomplete() -> None:
    """A chain that lacks the EHR response (a lost audit event) is counted and named."""
    result = report(story("wb-1", drop="ehr.response"))
    assert result.total.incomplete == 1
    assert result.incomplete == [("wb-1", ["ehr.response"])]


def test_a_structured_write_back_is_complete_through_its_notes_approval() -> None:
    """Its approval is the note's; one that rode in the note's Bundle proves itself by a read."""
    note = story("wb-1")
    sent = [
        ev("writeback.queued", 2, "wb-s", kind="structured"),
        ev("ehr.request", 3.1, "wb-s", kind="structured"),
        ev("ehr.response", 3.2, "wb-s", kind="structured", status=201),
        ev("writeback.committed", 3.3, "wb-s", kind="structured"),
    ]
    carried = [
        ev("writeback.queued", 2, "wb-c", kind="structured"),
        ev("writeback.reconciled", 3.1, "wb-c", kind="structured"),
        ev("writeback.committed", 3.3, "wb-c", kind="structured"),
    ]
    silent = [
        ev("writeback.queued", 2, "wb-x", kind="structured"),
        ev("writeback.committed", 3.3, "wb-x", kind="structured"),
    ]
    result = report(note + sent + carried + silent)
    assert result.incomplete == [("wb-x", ["ehr.request"])]


def test_rates_are_shares_of_queued_write_backs_and_open_ones_stay_open() -> None:
    """One committed, one conflict, one still queued: 1/3 each and one open."""
    events = story("wb-1") + story("wb-2", end="writeback.conflict")
    events += [e for e in story("wb-3") if e.type != "writeback.committed"]
    result = report(events)
    assert (result.total.writebacks, result.total.committed, result.total.conflict) == (3, 1, 1)
    assert result.total.open == 1
    assert result.by["template"][0].group == "soap-v3"
    assert {row.group for row in result.by["template"]} == {"soap-v3", "unknown"}


def test_write_backs_queued_outside_the_window_are_left_out() -> None:
    """The window selects by queue time."""
    result = build_report(
        story("wb-1"),
        {},
        start=T0 + timedelta(hours=1),
        end=T0 + timedelta(days=1),
        clinician=pseudonym,
    )
    assert result.total.writebacks == 0


def test_drift_sees_edits_and_overrides_grow() -> None:
    """Unedited approvals fall and overrides rise from the baseline to the window."""
    old = story("wb-1")
    new_events = [
        LedgerEvent(
            "clinic-a",
            "draft.approved",
            T0 + timedelta(days=8),
            "d-wb-2",
            "wb-2",
            "clinician:dr-a",
            {"diff_lines_added": 3, "warnings_acknowledged": ["w@x"]},
        ),
    ]
    drift = build_drift(
        old + new_events,
        {},
        baseline=(T0, T0 + timedelta(days=7)),
        window=(T0 + timedelta(days=7), T0 + timedelta(days=14)),
        clinician=pseudonym,
    )
    signals = {line.signal: line for line in drift.lines}
    auto = signals["auto-accept share (approved unedited)"]
    assert (auto.baseline, auto.window) == (1.0, 0.0)
    overrides = signals["acknowledged-warning overrides"]
    assert (overrides.baseline, overrides.window) == (0.0, 1.0)
