"""The admin page of the reviewer app: the post-launch report and drift with charts, in chromium.

The same stack as the reviewer-page tests (tests/e2e/test_reviewer_page.py). An admin signs in
through the dev identity provider asking for ``chartgate/admin`` and sees what
``chartgate report --html`` and ``chartgate drift --html`` write, for their own tenant, under a
policy that lets nothing load and no script run; axe-core finds no violation; the reviewer
page's home links an admin there; a clinician's session is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, expect
from test_reviewer_page import (
    SCREENSHOTS,
    WAIT_MS,
    ReviewStack,
    approve,
    browser,  # noqa: F401 - the module's chromium fixture
    playwright_driver,  # noqa: F401 - the module's Playwright fixture
    reviewer_stack,
    save_edit,
    sign_in,
)

from axe_check import assert_no_violations
from builders import ENCOUNTER, PATIENT


@pytest.fixture
def stack(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[ReviewStack]:
    """The reviewer stack on a fresh copy of the migrated SQLite template."""
    with reviewer_stack(tmp_path, database_url=migrated_sqlite_url) as running:
        yield running


def approve_by_api(stack: ReviewStack) -> None:
    """A draft approved through the API and written by the worker."""
    draft = stack.submit()
    answer = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.clinician(), "If-Match": 'W/"1"'},
    )
    assert answer.status_code == 202, answer.text
    assert stack.work() == 1


def test_an_admin_sees_the_report_with_charts_and_a_clinician_does_not(
    browser: Browser,  # noqa: F811 - the imported fixture
    stack: ReviewStack,
) -> None:
    """Admin: charts with data, own tenant, nothing fetched; clinician: 403, no figures."""
    for _ in range(2):
        approve_by_api(stack)
    admin = browser.new_context(viewport={"width": 1000, "height": 1400})
    admin.set_default_timeout(WAIT_MS)
    page = admin.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    try:
        answer: Any = page.goto(f"{stack.base_url}/review/admin/report")
        page.get_by_role("button", name="Sign in as demo admin").click()
        expect(page).to_have_url(f"{stack.base_url}/review/admin/report")
        assert page.title().startswith("chartgate write-back report")
        values = [
            float(v)
            for v in page.eval_on_selector_all(
                "svg.chart-daily rect.bar", "els => els.map(e => e.getAttribute('data-value'))"
            )
        ]
        assert sum(values) >= 2  # the two committed write-backs
        assert "tenant clinic-a" in page.content()
        assert "clinic-b" not in page.content()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "admin-report.png"), full_page=True)
        answer = page.reload()
        policy = answer.headers["content-security-policy"]
        assert policy.startswith("default-src 'none'; style-src 'unsafe-inline'")
        assert "script-src" not in policy
        assert PATIENT not in page.content()
        assert ENCOUNTER not in page.content()
    finally:
        admin.close()
    report_loads = [u for u in fetched if "/review/admin/report" in u]
    assert report_loads, fetched
    assert not [u for u in fetched if "/review/static/" in u]  # the page loads nothing else

    clinician = browser.new_context()
    clinician.set_default_timeout(WAIT_MS)
    page = clinician.new_page()
    try:
        draft = stack.submit()
        sign_in(page, stack, draft["id"])
        save_edit(page)
        approve(page)
        answer = page.goto(f"{stack.base_url}/review/admin/report")
        assert answer is not None
        assert answer.status == 403
        expect(page.get_by_text("Admins only")).to_be_visible()
        assert "rect" not in page.content()
    finally:
        clinician.close()


def chart_values(page: Any, chart: str) -> list[float]:
    """The data values of one chart's bars (``svg.<chart> rect.bar``)."""
    found = page.eval_on_selector_all(
        f"svg.{chart} rect.bar", "els => els.map(e => e.getAttribute('data-value'))"
    )
    return [float(v) for v in found]


def test_an_admin_sees_the_drift_charts_reaches_them_from_the_review_page_and_axe_is_clean(
    browser: Browser,  # noqa: F811 - the imported fixture
    stack: ReviewStack,
) -> None:
    """Drift charts (oversight, access and model versions) with data; /review/ links there."""
    for _ in range(2):
        approve_by_api(stack)
    admin = browser.new_context(viewport={"width": 1000, "height": 1400})
    admin.set_default_timeout(WAIT_MS)
    page = admin.new_page()
    try:
        page.goto(f"{stack.base_url}/review/admin/report")
        page.get_by_role("button", name="Sign in as demo admin").click()
        expect(page).to_have_url(f"{stack.base_url}/review/admin/report")
        expect(page.get_by_role("heading", name="Oversight drift")).to_be_visible()
        assert sum(chart_values(page, "chart-drift")) > 0  # the window's auto-accept share
        access = chart_values(page, "chart-access")
        assert sum(access) >= 2  # two approvals: the scope and model lines count them
        text = page.locator("table.access").inner_text()
        assert "model:" in text
        assert "scope:" in text
        assert "role:" in text
        assert_no_violations(page, "admin report with drift")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "admin-report-drift.png"), full_page=True)

        page.goto(f"{stack.base_url}/review/")  # the reviewer page's home, with the admin session
        expect(page.get_by_role("heading", name="Signed in as an administrator")).to_be_visible()
        assert_no_violations(page, "the reviewer home for an admin")
        page.get_by_role("link", name="Open the write-back report").click()
        expect(page).to_have_url(f"{stack.base_url}/review/admin/report")
        expect(page.get_by_role("heading", name="Oversight drift")).to_be_visible()
    finally:
        admin.close()


def test_an_admin_who_signs_in_at_the_reviewer_page_is_refused_with_the_way_to_the_report(
    browser: Browser,  # noqa: F811 - the imported fixture
    stack: ReviewStack,
) -> None:
    """An identity provider that makes an admin at the reviewer page: 403 and the report link."""
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        page.goto(f"{stack.base_url}/review/")
        expect(page.get_by_role("button", name="Sign in as demo clinician")).to_be_visible()
        # The dev identity provider makes an admin of a sign-in that asks for chartgate/admin:
        # ask for it here, as an identity provider granting admins that scope anyway would.
        parts = urlsplit(page.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "scope"]
        query.append(("scope", "openid chartgate/admin"))
        page.goto(urlunsplit(parts._replace(query=urlencode(query))))
        page.get_by_role("button", name="Sign in as demo admin").click()
        expect(page.get_by_text("The reviewer page is for clinicians.")).to_be_visible()
        assert_no_violations(page, "an admin refused at the reviewer page")
        page.get_by_role("link", name="Open the administrators' report").click()
        # The identity provider remembers the admin's sign-in: straight back, as an admin.
        expect(page).to_have_url(f"{stack.base_url}/review/admin/report")
        expect(page.get_by_role("heading", name="Oversight drift")).to_be_visible()
    finally:
        context.close()
