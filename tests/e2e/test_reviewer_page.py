"""The reviewer page in a real browser: Debian's chromium driven by Playwright.

chartgate is wired as in production (``bootstrap.build`` + ``create_app`` under uvicorn) with
two tenants trusting the sandbox's dev identity provider; the browser signs in through it
(authorization code + PKCE), reads the diff, saves, approves, and watches the banner change
when the worker (run here, by the test) writes the note into the sandbox EHR. Screenshots of
the main states go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import base64
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from builders import ENCOUNTER, PATIENT, submission
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import CareTeamGrant, EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from required import missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
TENANT_A = "clinic-a"
TENANT_B = "clinic-b"
STEP_UP_ACR = "urn:chartgate:acr:step-up"
OLD = "Return if symptoms worsen."
NEW = "Return if fever develops or symptoms last 10 days."
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)
POLL_MS = 1_000
"""The page's first write-back poll comes this long after it loads (``reviewer.js``)."""


@dataclass
class ReviewStack:
    """chartgate with the reviewer page, the sandbox (IdP + EHR) and a way to call the API."""

    app: Application
    base_url: str
    api: httpx.Client
    sandbox: SandboxServer

    def scribe(self, tenant: str = TENANT_A) -> dict[str, str]:
        token = self.sandbox.idp.mint(
            subject=f"scribe-{tenant}",
            scopes=["chartgate/drafts.submit"],
            tenant=tenant,
            amr=(),
            acr=None,
            extra_claims={"client_id": f"scribe-{tenant}"},
        )
        return {"Authorization": f"Bearer {token}"}

    def clinician(self, tenant: str = TENANT_A) -> dict[str, str]:
        token = self.sandbox.idp.mint(
            subject="clinician-dana",
            scopes=["openid", "fhirUser", "chartgate/drafts.approve"],
            tenant=tenant,
            fhir_user="Practitioner/prac-001",
            patient=PATIENT.split("/")[1],
            encounter=ENCOUNTER.split("/")[1],
        )
        return {"Authorization": f"Bearer {token}"}

    def submit(self, tenant: str = TENANT_A, **overrides: Any) -> dict[str, Any]:
        """A scribe's synthetic draft, through the API."""
        answer = self.api.post(
            "/v1/drafts", json=submission(**overrides), headers=self.scribe(tenant)
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def draft(self, draft_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/v1/drafts/{draft_id}", headers=self.clinician())
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def work(self) -> int:
        """Run the write-back worker until nothing is due."""
        executor = self.app.executor(owner="e2e-worker")
        taken = 0
        for _ in range(20):
            done = executor.run_once()
            taken += done
            if done == 0:
                break
        return taken

    def ehr_get(self, path: str, **params: str) -> dict[str, Any]:
        with httpx.Client(base_url=self.sandbox.fhir_base, timeout=10) as ehr:
            answer = ehr.get(path, params=params, headers={"Accept": "application/fhir+json"})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


@contextmanager
def reviewer_stack(
    workdir: Path,
    *,
    database_url: str | None = None,
    vendor: str = "sandbox",
    policy: str | None = None,
) -> Iterator[ReviewStack]:
    """Two tenants on one dev IdP (tenant claim) and one sandbox EHR; step-up needs an acr.

    ``database_url``: the store, ideally already migrated (``migrated_sqlite_url``, a copy of
    the process's template: migrating an empty file costs 0.6-0.8 s); None: a new SQLite file
    in ``workdir``, migrated here.
    ``vendor``: the profile chartgate obeys for the EHR (the sandbox still answers as itself).
    ``policy``: a write-back policy file (None: the shipped one).
    """
    with SandboxServer(workdir / "sandbox.sqlite3") as sandbox:
        sandbox.idp.default_tenant = TENANT_A  # the browser signs in to clinic A
        grant = CareTeamGrant(fhir_user="Practitioner/prac-001", encounters=[ENCOUNTER])
        ehr = EhrSettings(base_url=sandbox.fhir_base, vendor=vendor, timeout_seconds=3)
        settings = Settings(
            database_url=database_url or f"sqlite:///{workdir / 'chartgate.sqlite3'}",
            key_file=str(workdir / "kek.key"),
            **({"policy": policy} if policy is not None else {}),
            tenants=[
                TenantSettings(
                    id=TENANT_A,
                    display_name="Synthetic Clinic A",
                    issuers=[sandbox.issuer],
                    ehr=ehr,
                    scribe_clients=[f"scribe-{TENANT_A}"],
                    care_team_grants=[grant],
                    step_up_acr=STEP_UP_ACR,
                ),
                TenantSettings(
                    id=TENANT_B,
                    issuers=[sandbox.issuer],
                    ehr=ehr,
                    scribe_clients=[f"scribe-{TENANT_B}"],
                ),
            ],
        )
        app = build(settings, migrate=True)
        try:
            with (
                ThreadedServer(create_app(app)) as server,
                httpx.Client(base_url=server.base_url, timeout=30) as api,
            ):
                try:
                    yield ReviewStack(app=app, base_url=server.base_url, api=api, sandbox=sandbox)
                finally:  # both servers wind down together
                    server.signal_stop()
                    sandbox.signal_stop()
        finally:
            app.close()


@pytest.fixture
def stack(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[ReviewStack]:
    """The reviewer stack on a fresh copy of the migrated SQLite template."""
    with reviewer_stack(tmp_path, database_url=migrated_sqlite_url) as running:
        yield running


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} is not installed (make install puts it there with apt-get)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context's page, its timers on a clock the test can move (``poll_now``)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    context.clock.install()  # time still flows as it does; ``poll_now`` jumps it forward
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, stack: ReviewStack, draft_id: str) -> None:
    """Open the draft; the dev IdP asks once; the button signs in; back on the draft."""
    page.goto(f"{stack.base_url}/review/{draft_id}")
    expect(page.get_by_role("button", name="Sign in as demo clinician")).to_be_visible()
    page.get_by_role("button", name="Sign in as demo clinician").click()
    expect(page).to_have_url(f"{stack.base_url}/review/{draft_id}")
    page.wait_for_load_state("load")  # styles and the enhancement script are in


def poll_now(page: Page) -> None:
    """Fire the page's pending write-back poll now instead of waiting out its timer.

    Call it once the worker has run: the page's own poll (``reviewer.js``, a ``setTimeout``)
    still fetches the state and reloads the page; only the wait before it is skipped. A poll
    whose fetch was already on its way when the clock jumped schedules the next one in real
    time, so the page still gets there, a second later.
    """
    page.clock.fast_forward(POLL_MS)


def banner(page: Page) -> Any:
    return page.locator("#banner-title")


def open_edit(page: Page) -> None:
    """The edit box is behind "Edit the note" (the note is shown once, rendered)."""
    if page.locator("#edit").get_attribute("open") is None:
        page.locator("#edit > summary").click()


def save_edit(page: Page) -> None:
    open_edit(page)
    text = page.locator("#edit-text")
    text.fill(text.input_value().replace(OLD, NEW))
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    page.wait_for_load_state("load")


def approve(page: Page) -> None:
    page.locator("#approve-confirm").check()
    page.get_by_role("button", name="Approve for chart").click()
    expect(banner(page)).to_have_text("Approved — queued for the chart")


def approved_and_committed(page: Page, stack: ReviewStack, draft_id: str) -> None:
    sign_in(page, stack, draft_id)
    save_edit(page)
    approve(page)
    assert stack.work() >= 1
    poll_now(page)
    expect(banner(page)).to_have_text(re.compile(r"^In the chart, not signed — DocumentReference/"))


# -- the story ------------------------------------------------------------------------------


def test_clinician_signs_in_reads_the_diff_saves_approves_and_sees_the_note_land(
    page: Page, stack: ReviewStack
) -> None:
    """Sign in, read the word diff, save an edit, approve, and watch the note reach the EHR."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    expect(banner(page)).to_have_text("Draft — not in the chart")
    expect(page.locator("#context-title")).to_contain_text("Progress note")
    # The patient banner, from the EHR's Patient and Encounter (not "Patient/pat-001").
    expect(page.locator("#patient")).to_contain_text("Synthetic")
    expect(page.locator("#patient")).to_contain_text("born 1970-01-01")
    expect(page.locator("#patient")).to_contain_text("2026-11-24")
    expect(page.get_by_role("heading", name="Plan")).to_be_visible()  # a heading, not "## Plan"
    assert "## Plan" not in page.locator("#note").inner_text()
    page.get_by_text("Details: source, versions and history").click()
    expect(page.get_by_text("example-scribe-llm 2026.10.1")).to_be_visible()
    expect(page.get_by_text("soap-v3")).to_be_visible()
    expect(page.locator("#diff-summary")).to_contain_text("Unchanged from the AI draft")
    shot(page, "01-draft-signed-in")

    save_edit(page)
    expect(page.locator("#note del")).to_contain_text("worsen.")
    expect(page.locator("#note ins").first).to_contain_text("fever develops or")
    expect(page.locator("#note ins").last).to_contain_text("last 10 days.")
    expect(page.locator("#diff-summary")).to_contain_text("Changes since the AI draft")
    assert page.locator("#note").inner_text().count("Supportive care") == 1  # once, not twice
    page.get_by_text("Show AI draft").click()
    expect(page.locator("#ai-draft .note-ai")).to_contain_text("Return if symptoms worsen.")
    expect(banner(page)).to_have_text("Draft — not in the chart")
    assert stack.draft(draft["id"])["current_version"] == 2
    shot(page, "02-edit-saved-word-diff")

    confirm = page.locator("#approve-confirm-label")
    expect(confirm).to_contain_text("Progress note")
    expect(confirm).to_contain_text("Alex Synthetic (born 1970-01-01, MRN SYN-0001)")
    expect(confirm).not_to_contain_text(PATIENT)  # as the banner names them, never the reference
    expect(confirm).to_contain_text("sandbox EHR at 127.0.0.1:")
    approve(page)
    shot(page, "03-approved-queued")

    assert stack.work() == 1
    poll_now(page)
    # The page polls the write-back and reloads itself when the worker has committed.
    expect(banner(page)).to_have_text(
        re.compile(r"^In the chart, not signed — DocumentReference/\S+$")
    )
    document_ref = banner(page).inner_text().split(" — ")[1]
    shot(page, "04-in-the-chart")

    document = stack.ehr_get(f"/{document_ref}")
    text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
    assert NEW in text
    assert OLD not in text
    assert document["subject"]["reference"] == PATIENT
    assert document["docStatus"] == "preliminary"
    found = stack.ehr_get("/DocumentReference", patient=PATIENT)
    assert len(found.get("entry", [])) == 1  # exactly once


def test_finalize_demands_reauthentication_then_makes_the_note_final(
    page: Page, stack: ReviewStack
) -> None:
    """Finalize sends the clinician back through the IdP (prompt=login, acr) before it acts."""
    draft = stack.submit()
    approved_and_committed(page, stack, draft["id"])

    page.locator("#finalize-confirm").check()
    page.get_by_role("button", name="Finalize note").click()
    expect(page.get_by_text("Re-authentication requested")).to_be_visible()
    assert "prompt=login" in page.url
    assert "max_age=" in page.url
    assert "acr_values=urn%3Achartgate%3Aacr%3Astep-up" in page.url
    shot(page, "05-finalize-step-up-at-idp")
    assert stack.draft(draft["id"])["doc_status"] == "preliminary"  # nothing happened yet

    page.get_by_role("button", name="Sign in as demo clinician").click()
    expect(page.get_by_text("You signed in again.")).to_be_visible()
    page.locator("#finalize-confirm").check()
    page.get_by_role("button", name="Finalize note").click()
    # Not "Approved" again: the note is in the chart, and its signing is queued.
    expect(banner(page)).to_have_text("Signing queued — in the chart, not signed yet")
    expect(page.get_by_text("Finalization queued")).to_have_count(2)  # notice and banner
    assert stack.work() == 1
    poll_now(page)
    expect(banner(page)).to_have_text(re.compile(r"^Signed in the chart — DocumentReference/"))
    expect(page.locator(".banner-detail").first).to_contain_text("Final (signed)")
    expect(page.locator("#status")).to_have_class(re.compile("banner-signed"))
    shot(page, "06-finalized")
    document = stack.ehr_get("/" + banner(page).inner_text().split(" — ")[1])
    assert document["docStatus"] == "final"


def test_amend_then_retract_a_committed_note(page: Page, stack: ReviewStack) -> None:
    """Amend replaces the note in the chart; Retract (after step-up) marks it entered-in-error."""
    draft = stack.submit()
    approved_and_committed(page, stack, draft["id"])
    first = banner(page).inner_text().split(" — ")[1]

    page.get_by_text("Amend the note in the chart").click()
    amended = page.locator("#amend-text")
    amended.fill(amended.input_value().replace("Lungs clear", "Lungs clear, no wheeze"))
    page.locator("#amend-confirm").check()
    page.get_by_role("button", name="Approve amendment for chart").click()
    expect(banner(page)).to_have_text("Approved — queued for the chart")
    assert stack.work() == 1
    poll_now(page)
    expect(banner(page)).to_have_text(re.compile(r"^Amended in the chart — DocumentReference/"))
    second = banner(page).inner_text().split(" — ")[1]
    assert second != first
    expect(page.locator(".banner-detail").first).to_contain_text("amendment replaced")
    replacement = stack.ehr_get(f"/{second}")
    assert replacement["relatesTo"][0]["code"] == "replaces"
    assert replacement["relatesTo"][0]["target"]["reference"] == first

    page.get_by_text("Retract the note").click()
    page.locator("#retract-reason").select_option("clinical-error")
    page.locator("#retract-confirm").check()
    page.get_by_role("button", name="Retract note").click()
    expect(page.get_by_text("Re-authentication requested")).to_be_visible()  # step-up
    page.get_by_role("button", name="Sign in as demo clinician").click()
    expect(page.get_by_text("You signed in again.")).to_be_visible()
    page.get_by_text("Retract the note").click()
    page.locator("#retract-reason").select_option("clinical-error")
    page.locator("#retract-confirm").check()
    page.get_by_role("button", name="Retract note").click()
    expect(banner(page)).to_have_text("Approved — queued for the chart")
    assert stack.work() == 1
    poll_now(page)
    expect(banner(page)).to_have_text("Retracted — entered in error in the chart")
    shot(page, "12-retracted")
    assert stack.ehr_get(f"/{second}")["status"] == "entered-in-error"


def test_conflict_banner_and_rebase_when_the_chart_changed(page: Page, stack: ReviewStack) -> None:
    """A chart changed after the draft's baseline shows the conflict; rebase makes a new draft."""
    note = {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "subject": {"reference": PATIENT},
        "context": {"encounter": [{"reference": ENCOUNTER}]},
        "content": [{"attachment": {"contentType": "text/plain", "data": "U3ludGhldGlj"}}],
    }
    fhir = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    with httpx.Client(base_url=stack.sandbox.fhir_base, timeout=10) as ehr:
        prior = ehr.post("/DocumentReference", json=note, headers=fhir).json()
        reference = f"DocumentReference/{prior['id']}"
        draft = stack.submit(baseline={reference: prior["meta"]["versionId"]})
        sign_in(page, stack, draft["id"])
        approve(page)
        changed = ehr.put(
            f"/{reference}",
            json={**prior, "description": "Changed in the EHR"},
            headers={**fhir, "If-Match": f'W/"{prior["meta"]["versionId"]}"'},
        ).json()
    stack.work()
    poll_now(page)
    expect(banner(page)).to_have_text("Conflict — the chart changed")
    # chartgate read the chart itself: drafted-against and current version, nothing to type.
    expect(page.locator(".chart-now")).to_contain_text(
        f"{reference}: drafted against version {prior['meta']['versionId']}, the chart now has "
        f"version {changed['meta']['versionId']}"
    )
    expect(page.locator("#rebase-form input[type=text]")).to_have_count(0)
    shot(page, "07-conflict")

    page.get_by_role("button", name="Rebase on the chart as it is now").click()
    expect(banner(page)).to_have_text("Draft — not in the chart")
    assert stack.draft(draft["id"])["baseline"] == {reference: changed["meta"]["versionId"]}


def test_findings_block_approval_until_fixed_and_warnings_are_acknowledged(
    page: Page, stack: ReviewStack
) -> None:
    """An error finding refuses approval; after the fix a warning must be acknowledged."""
    temperature = {
        "resourceType": "Observation",
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}
            ]
        },
        "valueQuantity": {"value": 37.1, "unit": "C"},
    }
    draft = stack.submit(resources=[temperature])
    sign_in(page, stack, draft["id"])
    findings = page.locator(".findings")
    expect(findings).to_contain_text("Must fix: A structured item is not mentioned in the note.")
    expect(findings).to_contain_text("In structured item 1 (Observation: Body temperature")
    expect(findings).to_contain_text("Mention it in the note text")
    expect(findings).to_contain_text("consistency.not-in-narrative")  # small print, for support
    expect(findings).to_contain_text("unit.not-ucum")
    items = page.locator("ul.resources")
    expect(items).to_contain_text("Observation")
    expect(items).to_contain_text("Body temperature (LOINC 8310-5)")
    expect(items).to_contain_text("not written to the chart (draft-only by policy)")

    # Approve is off, and says why, while a blocking finding exists.
    expect(page.locator("#approve-button")).to_be_disabled()
    expect(page.locator("#approve-blocked")).to_contain_text("Approve is off until 1 problem")
    expect(banner(page)).to_have_text("Draft — not in the chart")
    shot(page, "11-findings-refuse-approval")
    # On a phone-width screen the sticky bar must not offer an approval the form refuses: its
    # link says approval is blocked and leads to the reason.
    page.set_viewport_size({"width": 420, "height": 900})
    sticky = page.locator("#actionbar-approve")
    expect(sticky).to_have_text("Approval blocked: why")
    expect(sticky).to_have_attribute("href", "#approve-blocked")
    expect(sticky).not_to_have_class(re.compile(r"button-approve"))
    page.set_viewport_size({"width": 1280, "height": 900})

    open_edit(page)
    text = page.locator("#edit-text")
    text.fill(text.input_value().replace("Temperature 37.1 C.", "Body temperature 37.1 C."))
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    page.wait_for_load_state("load")
    expect(findings).not_to_contain_text("consistency.not-in-narrative")
    expect(findings).to_contain_text("unit.not-ucum")

    page.locator("#approve-confirm").check()
    page.get_by_role("button", name="Approve for chart").click()
    expect(page.locator("#action-error")).to_contain_text("unit.not-ucum")
    page.wait_for_load_state("load")
    page.get_by_label("I have read warning").check()
    page.locator("#approve-confirm").check()
    page.get_by_role("button", name="Approve for chart").click()
    expect(banner(page)).to_have_text("Approved — queued for the chart")
    assert stack.draft(draft["id"])["approved_version"] == 2


# -- refusals --------------------------------------------------------------------------------


def test_another_tenants_draft_shows_not_found(page: Page, stack: ReviewStack) -> None:
    """A tenant-B draft id opened by a tenant-A clinician answers exactly like a missing one."""
    own = stack.submit()
    foreign = stack.submit(tenant=TENANT_B)
    sign_in(page, stack, own["id"])
    answer = page.goto(f"{stack.base_url}/review/{foreign['id']}")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("heading", name="Draft not found")).to_be_visible()
    assert "not found" in page.content()
    missing_answer = page.goto(f"{stack.base_url}/review/00000000-0000-4000-8000-000000000000")
    assert missing_answer is not None
    assert missing_answer.status == 404
    shot(page, "08-other-tenant-not-found")


def test_a_form_without_the_csrf_token_is_refused(page: Page, stack: ReviewStack) -> None:
    """Removing the CSRF token from Save draft gets a 403 and no new version."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    page.evaluate("document.querySelector('#save-form input[name=csrf_token]').remove()")
    open_edit(page)
    page.locator("#edit-text").fill("Tampered text.")
    with page.expect_response(re.compile(r"/save$")) as answer:
        page.get_by_role("button", name="Save draft").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", name="This form was refused")).to_be_visible()
    assert stack.draft(draft["id"])["current_version"] == 1

    forged = page.request.post(
        f"{stack.base_url}/review/{draft['id']}/approve",
        form={"csrf_token": "not-the-token", "version": "1", "confirm": "yes"},
    )
    assert forged.status == 403
    assert stack.draft(draft["id"])["state"] == "in_review"


def test_page_sends_strict_security_headers(page: Page, stack: ReviewStack) -> None:
    """CSP without inline scripts, no framing, no caching, nosniff, no referrer to other origins."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    answer = page.goto(f"{stack.base_url}/review/{draft['id']}")
    assert answer is not None
    headers = answer.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


def test_session_is_bound_and_signing_out_ends_it(page: Page, stack: ReviewStack) -> None:
    """After sign-out the old cookie opens nothing and its forms are refused."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "__Host-chartgate-review")
    assert session["httpOnly"]
    assert session["secure"]
    assert session["sameSite"] == "None"  # works in the EHR's iframe (ADR 0024)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    page.context.add_cookies([session])  # a copied cookie is worth nothing now
    replay = page.request.post(
        f"{stack.base_url}/review/{draft['id']}/discard",
        form={"confirm": "yes"},
        max_redirects=0,
    )
    assert replay.status == 401
    assert stack.draft(draft["id"])["state"] == "in_review"


def test_narrow_ehr_side_panel_layout(browser: Browser, stack: ReviewStack) -> None:
    """At ~420 px the page is one column with no sideways scrolling."""
    context = browser.new_context(viewport={"width": 420, "height": 900})
    context.set_default_timeout(WAIT_MS)
    narrow = context.new_page()
    try:
        draft = stack.submit()
        sign_in(narrow, stack, draft["id"])
        save_edit(narrow)
        width = narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 420
        expect(narrow.get_by_role("button", name="Approve for chart")).to_be_visible()
        shot(narrow, "09-narrow-side-panel")
    finally:
        context.close()


def test_unsaved_edits_are_not_approved(page: Page, stack: ReviewStack) -> None:
    """With edits in the text box, Approve for chart asks to save first and approves nothing."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    open_edit(page)
    page.locator("#edit-text").fill("An unsaved change.")
    page.locator("#approve-confirm").check()
    page.get_by_role("button", name="Approve for chart").click()
    expect(page.locator("#approve-unsaved")).to_be_visible()
    time.sleep(0.3)
    assert stack.draft(draft["id"])["state"] == "in_review"


# -- chartgate demo --ui ------------------------------------------------------------------------


def test_demo_ui_serves_the_page_until_ctrl_c(page: Page) -> None:
    """``chartgate demo --ui`` prints the page's URL; sign in, approve, commit; Ctrl-C ends it."""
    chartgate = str(Path(sys.executable).with_name("chartgate"))
    env = {k: v for k, v in os.environ.items() if k != "CHARTGATE_DATABASE_URL"}
    demo = subprocess.Popen(
        [chartgate, "demo", "--ui"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert demo.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in demo.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        url = ""
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            line = lines.get(timeout=60)
            if line.startswith("reviewer page: "):
                url = line.split(": ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        page.goto(url)
        page.get_by_role("button", name="Sign in as demo clinician").click()
        expect(banner(page)).to_have_text("Draft — not in the chart")
        page.wait_for_load_state("load")
        expect(page.locator("#approve-confirm-label")).to_contain_text("Demo clinic (synthetic)")
        approve(page)
        # The demo's own worker writes the note; the page notices by itself.
        expect(banner(page)).to_have_text(
            re.compile(r"^In the chart, not signed — DocumentReference/")
        )
        shot(page, "10-demo-ui-in-the-chart")
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=30)
    reader.join(timeout=5)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert code == 0, rest
    assert any("stopped" in line for line in rest)


def test_consent_recorded_on_the_page_is_written_by_chartgate(
    page: Page, stack: ReviewStack
) -> None:
    """The clinician records consent on the page; the chart note carries chartgate's sentence."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    page.locator("#consent > summary").click()  # behind a toggle: the page stays short
    page.locator("#consent-method").select_option("written")
    page.locator("#consent-at").fill("2026-11-20T08:55")
    page.locator("#consent-jurisdiction").fill("us-ca")
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text(re.compile(r"^Consent recorded \(sha256:"))).to_be_visible()
    shot(page, "12-consent-recorded")
    with stack.app.uow(read_only=True) as uow:
        record = uow.context.consent_for(TENANT_A, ENCOUNTER)
    assert record is not None
    assert (record.method.value, record.jurisdiction, record.patient) == (
        "written",
        "US-CA",
        PATIENT,
    )
    assert record.recorded_by.startswith("clinician:")

    page.wait_for_load_state("load")
    # Before the click the clinician sees exactly what chartgate will add to the note.
    added = page.locator("#approve-system-text pre")
    expect(added).to_contain_text("## Consent (recorded by chartgate)")
    expect(added).to_contain_text("given by the patient (written) on 2026-11-20 in US-CA")
    approve(page)
    assert stack.work() == 1
    poll_now(page)
    expect(banner(page)).to_have_text(
        re.compile(r"^In the chart, not signed — DocumentReference/\S+$")
    )
    document = stack.ehr_get(f"/{banner(page).inner_text().split(' — ')[1]}")
    text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
    assert "## Consent (recorded by chartgate)" in text
    assert "given by the patient (written) on 2026-11-20 in US-CA" in text


def test_save_and_approve_in_one_step(page: Page, stack: ReviewStack) -> None:
    """The edit is saved as version 2 and that version approved, with Approve's confirmation."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    open_edit(page)
    text = page.locator("#edit-text")
    text.fill(text.input_value().replace(OLD, NEW))
    page.get_by_role("button", name="Save and approve").click()
    expect(page.locator("#action-error")).to_contain_text("Tick the confirmation box")
    assert stack.draft(draft["id"])["current_version"] == 1  # nothing saved unconfirmed
    open_edit(page)
    page.locator("#save-approve-confirm").check()
    page.get_by_role("button", name="Save and approve").click()
    expect(banner(page)).to_have_text("Approved — queued for the chart")
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    body = stack.draft(draft["id"])
    assert body["approved_version"] == 2
