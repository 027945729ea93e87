"""The drift charts on the admin page and in ``chartgate drift --html`` (web/charts.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from chartgate.service.reports import DraftOrigin, LedgerEvent, build_drift, build_report
from chartgate.web.charts import admin_html, drift_html

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BASELINE = (T0, T0 + timedelta(days=7))
WINDOW = (T0 + timedelta(days=7), T0 + timedelta(days=14))


def approved(draft: str, day: float, **data: object) -> LedgerEvent:
    return LedgerEvent(
        "clinic-a",
        "draft.approved",
        T0 + timedelta(days=day),
        draft,
        f"wb-{draft}-{day}",
        "clinician:dr-a",
        {"scopes": ["user/DocumentReference.c"], **data},
    )


ORIGINS = {
    "d-1": DraftOrigin("11506-3", "soap-v3", "scribe@1.0"),
    "d-2": DraftOrigin("11506-3", "soap-v3", "scribe@2.0<b>"),
}


def pseudonym(_: str, actor: str) -> str:
    return f"p-{len(actor)}"


def test_a_model_version_first_seen_in_the_window_is_added_drift() -> None:
    """Approvals per model version in each span; the new version is flagged, listed first."""
    drift = build_drift(
        [approved("d-1", 1), approved("d-1", 8), approved("d-2", 9, binding="grant")],
        ORIGINS,
        baseline=BASELINE,
        window=WINDOW,
        clinician=pseudonym,
    )
    models = {a.name: a for a in drift.access if a.group == "model"}
    assert (models["scribe@1.0 (approvals)"].baseline, models["scribe@1.0 (approvals)"].window) == (
        1,
        1,
    )
    new = models["scribe@2.0<b> (approvals)"]
    assert (new.baseline, new.window, new.added) == (0, 1, True)
    assert all(line.added for line in drift.access[:2])  # added lines come first
    assert not drift.access[-1].added


def test_the_drift_page_charts_access_and_model_lines_with_named_escaped_charts() -> None:
    """Oversight and access charts carry their data, an accessible name, and escaped text."""
    drift = build_drift(
        [approved("d-1", 1), approved("d-2", 9)],
        ORIGINS,
        baseline=BASELINE,
        window=WINDOW,
        clinician=pseudonym,
    )
    page = drift_html(drift, baseline="b", window="w")
    access = re.search(r"<svg [^>]*class=chart-access>.*?</svg>", page)
    assert access is not None
    values = [float(v) for v in re.findall(r'data-value="([0-9.]+)"', access.group(0))]
    assert sum(values) == sum(a.baseline + a.window for a in drift.access)
    assert "scribe@2.0&lt;b&gt;" in page
    assert "<b>" not in page
    assert "class=chart-drift" in page
    for svg in re.findall(r"<svg [^>]*>", page):
        assert 'aria-label="' in svg, svg
    assert "<th></th>" not in page  # every column has a header (axe: empty-table-header)


def test_the_admin_page_is_the_report_then_the_drift_in_one_main() -> None:
    """One page: the report's charts, then the drift section, inside one main landmark."""
    events = [
        LedgerEvent(
            "clinic-a", "writeback.queued", T0 + timedelta(days=8), "d-1", "wb-d-1-8", "w", {}
        ),
        approved("d-1", 8),
    ]
    report = build_report(events, ORIGINS, start=WINDOW[0], end=WINDOW[1], clinician=pseudonym)
    drift = build_drift(events, ORIGINS, baseline=BASELINE, window=WINDOW, clinician=pseudonym)
    page = admin_html(report, drift, tenant="clinic-a", baseline="b", window="w")
    assert page.count("<main>") == 1
    assert page.index("class=chart-daily") < page.index("id=drift") < page.index("chart-access")
    assert (
        "<title>chartgate write-back report 2026-11-09 → 2026-11-16, tenant clinic-a</title>"
        in page
    )
