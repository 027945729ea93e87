"""Two API replicas and two workers on one PostgreSQL database, behind a real nginx.

The processes are started from the deployment guide's own files (``docs/deploy/``): the
``ExecStart`` lines of the systemd units and the nginx site file, with only ports and the
install path replaced. The story (submit, approve, write-back, finalize, amend) runs through
the proxy; consecutive requests land on different replicas (nginx's access log says which);
the two workers share the outbox and the chart ends with exactly one note per approval. The
same story runs in chromium on the reviewer page, whose sign-ins and sessions live in the
database (ADR 0020), so each page request may land on either replica.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_reviewer_page import CHROMIUM, CHROMIUM_ARGS, NEW, OLD, SCREENSHOTS, WAIT_MS

from builders import edited_note, submission
from replica_topology import Topology, nginx_binary, running_topology
from required import missing
from stack import Stack

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

WRITEBACK_SYSTEM = "urn:chartgate:writeback"


@pytest.fixture
def topology(postgres_url: str, tmp_path: Path) -> Iterator[Topology]:
    """The guide's topology: 2 serve + 2 worker on PostgreSQL behind nginx."""
    with running_topology(postgres_url, tmp_path, nginx_binary()) as running:
        yield running


def _until(check: Any, what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_story_runs_through_nginx_across_replicas_and_workers(
    topology: Topology,
) -> None:
    """Submit, approve, finalize and amend through the proxy; one note per approval."""
    sandbox = topology.sandbox
    with httpx.Client(base_url=topology.base, timeout=30) as api:
        # The token helpers of the in-process stack; no app is in this process.
        stack = Stack(app=cast("Any", None), api=api, sandbox=sandbox, ehr_base=sandbox.fhir_base)
        created = api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
        assert created.status_code == 201, created.text
        draft = created.json()
        approved = api.post(
            f"/v1/drafts/{draft['id']}/approve",
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
        assert approved.status_code == 202, approved.text
        first = approved.json()["writeback"]["id"]

        def state(writeback_id: str) -> str:
            answer = api.get(f"/v1/writebacks/{writeback_id}", headers=stack.as_clinician())
            assert answer.status_code == 200, answer.text
            value: str = answer.json()["state"]
            return value

        _until(lambda: state(first) == "committed", "the approve write-back")
        finalized = api.post(f"/v1/drafts/{draft['id']}/finalize", headers=stack.as_clinician())
        assert finalized.status_code == 202, finalized.text
        second = finalized.json()["writeback"]["id"]
        _until(lambda: state(second) == "committed", "the finalize write-back")

        view = api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_clinician()).json()
        text = view["versions"][-1]["note"]["text"]
        old = text.splitlines()[1]
        amended = api.post(
            f"/v1/writebacks/{first}/amend",
            json=edited_note(view, old, old + " Reviewed again."),
            headers={**stack.as_clinician(), "If-Match": f'W/"{view["current_version"]}"'},
        )
        assert amended.status_code == 202, amended.text
        third = amended.json()["writeback"]["id"]
        _until(lambda: state(third) == "committed", "the amend write-back")

    with httpx.Client(base_url=sandbox.fhir_base, timeout=10) as ehr:
        bundle = ehr.get("/DocumentReference", params={"_count": "100"}).json()
    ours = [
        i["value"]
        for entry in bundle.get("entry", [])
        for i in entry["resource"].get("identifier", [])
        if i.get("system") == WRITEBACK_SYSTEM
    ]
    assert sorted(ours) == sorted([first, third])  # the note, and the amendment replacing it

    log = topology.access_log.read_text()
    upstreams = re.findall(r"upstream=127\.0\.0\.1:(\d+)", log)
    assert {int(p) for p in upstreams} == set(topology.ports), "both replicas served"
    switches = sum(1 for a, b in itertools.pairwise(upstreams) if a != b)
    assert switches >= len(upstreams) // 3, "consecutive requests land on different replicas"
    assert "?" not in log, "no query string reaches the proxy's log"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium under Playwright, as the reviewer-page tests drive it."""
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} is not installed (make install puts it there with apt-get)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _review_requests(log: str) -> list[str]:
    """The upstream port of each reviewer-page request (static files left out), in order."""
    return re.findall(
        r'"(?:GET|POST) /review/(?!static)\S*" \d+ \d+ rt=\S+ upstream=127\.0\.0\.1:(\d+)', log
    )


def _review_story(page: Page, base: str, draft_id: str) -> tuple[str, str]:
    """Sign in, edit, approve, finalize (re-authenticating if asked), amend; both notes."""
    banner = page.locator("#banner-title")
    committed = re.compile(r"^In the chart, not signed — DocumentReference/\S+$")
    signed = re.compile(r"^Signed in the chart — DocumentReference/\S+$")
    amended_note = re.compile(r"^Amended in the chart — DocumentReference/\S+$")
    page.goto(f"{base}/review/{draft_id}")
    page.get_by_role("button", name="Sign in as demo clinician").click()
    expect(page).to_have_url(f"{base}/review/{draft_id}")
    expect(banner).to_have_text("Draft — not in the chart")

    page.locator("#edit > summary").click()  # the edit box is behind "Edit the note"
    text = page.locator("#edit-text")
    text.fill(text.input_value().replace(OLD, NEW))
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()  # a notice, via the DB
    expect(page.locator("#note ins").first).to_contain_text("fever develops or")

    page.locator("#approve-confirm").check()
    page.get_by_role("button", name="Approve for chart").click()
    expect(banner).to_have_text("Approved — queued for the chart")
    expect(banner).to_have_text(committed, timeout=60_000)  # a worker wrote it
    first = banner.inner_text().split(" — ")[1]

    def finalize() -> None:
        page.locator("#finalize-confirm").check()
        page.get_by_role("button", name="Finalize note").click()
        page.wait_for_load_state("load")

    finalize()
    if page.get_by_text("Re-authentication requested").is_visible():
        page.get_by_role("button", name="Sign in as demo clinician").click()
        expect(page.get_by_text("You signed in again.")).to_be_visible()
        finalize()
    expect(banner).to_have_text(signed, timeout=60_000)
    expect(page.locator(".banner-detail").first).to_contain_text("Final (signed)")

    page.get_by_text("Amend the note in the chart").click()
    amended = page.locator("#amend-text")
    amended.fill(amended.input_value().replace("Lungs clear", "Lungs clear, no wheeze"))
    page.locator("#amend-confirm").check()
    page.get_by_role("button", name="Approve amendment for chart").click()
    expect(banner).to_have_text(amended_note, timeout=60_000)
    expect(page.locator(".banner-detail").first).to_contain_text("amendment replaced")
    second = banner.inner_text().split(" — ")[1]
    assert second != first
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "replicas-amended.png"), full_page=True)
    return first, second


def test_the_clinician_reviews_in_chromium_across_replicas(
    topology: Topology, browser: Browser
) -> None:
    """Submit, then in chromium through nginx: sign in, review, edit, approve, finalize, amend.

    Every page request may land on either replica: the sign-in started on one finishes on
    the other, and the session, its CSRF token and its notices are in the database.
    """
    sandbox, base = topology.sandbox, topology.base
    with httpx.Client(base_url=base, timeout=30) as api:
        stack = Stack(app=cast("Any", None), api=api, sandbox=sandbox, ehr_base=sandbox.fhir_base)
        created = api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
        assert created.status_code == 201, created.text
        draft_id = created.json()["id"]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    try:
        first, second = _review_story(context.new_page(), base, draft_id)
    finally:
        context.close()

    with httpx.Client(base_url=sandbox.fhir_base, timeout=10) as ehr:
        replacement = ehr.get(f"/{second}").json()
        bundle = ehr.get("/DocumentReference", params={"_count": "100"}).json()
    assert replacement["relatesTo"][0]["target"]["reference"] == first
    ours = [
        i["value"]
        for entry in bundle.get("entry", [])
        for i in entry["resource"].get("identifier", [])
        if i.get("system") == WRITEBACK_SYSTEM
    ]
    assert len(ours) == len(set(ours)) == 2  # the note and its amendment, each once

    upstreams = _review_requests(topology.access_log.read_text())
    assert {int(p) for p in upstreams} == set(topology.ports), "both replicas served the page"
    switches = sum(1 for a, b in itertools.pairwise(upstreams) if a != b)
    assert switches >= len(upstreams) // 3, (upstreams, "consecutive page requests alternate")
