"""The reviewer page inside an EHR: SMART EHR launch in a cross-site iframe, in real chromium.

The "EHR shell" (tests/ehr_shell.py) is a page on ``localhost`` that frames chartgate (on
``127.0.0.1``, so another site) at ``/review/launch?iss=…&launch=…``; the launch ids and the
sign-in come from the independent test identity provider (oidc-provider, also on
``localhost``: the EHR's own authorization server). The clinician signs in inside the frame,
chartgate opens the launched encounter's draft, and the approval goes through. A launch for
another encounter cannot open it. Signing out of the EHR ends the chartgate session by the
back channel (the provider POSTs a logout token) or by the front channel (the provider's
sign-out page loads chartgate's logout URL in an iframe) — each tested alone, and with both
off the session stays (so the tests can fail).

Screenshots go to ``test-output/screenshots/ehr-launch-*.png``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Frame, Page, Playwright, expect, sync_playwright

from axe_check import assert_no_violations
from builders import submission
from chartgate.adapters.identity.smart_backend import SmartBackendTokenSource, load_signing_key
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import EhrLaunchSettings, EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from ehr_shell import EhrShell
from idp_oidc_provider import (
    CLINICIAN_LOGIN,
    RESOURCE,
    SCRIBE_CLIENT,
    TENANT,
    OidcProvider,
    run_oidc_provider,
)
from node_server import NodeServerUnavailableError
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
REVIEWER_CLIENT = "chartgate-reviewer-ehr"
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)


@dataclass
class LaunchStack:
    """chartgate trusting oidc-provider, the EHR shell that frames it, and the API."""

    app: Application
    base_url: str
    api: httpx.Client
    op: OidcProvider
    shell: EhrShell
    fhir_base: str

    def scribe_token(self) -> str:
        key = self.op.keys[SCRIBE_CLIENT]
        signing, alg = load_signing_key(key.as_pem(private=True), kid=key.kid)
        source = SmartBackendTokenSource(
            token_url=self.op.token_url,
            client_id=SCRIBE_CLIENT,
            key=signing,
            alg=alg,
            http=httpx.Client(timeout=10),
            clock=lambda: datetime.now(UTC),
        )
        answer = self.op.client_credentials(
            "chartgate/drafts.submit", assertion=source.client_assertion()
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def submit(self, encounter: str) -> str:
        """A scribe's synthetic draft for Patient/pat-001 and this encounter."""
        answer = self.api.post(
            "/v1/drafts",
            json=submission(encounter=f"Encounter/{encounter}"),
            headers={"Authorization": f"Bearer {self.scribe_token()}"},
        )
        assert answer.status_code == 201, answer.text
        draft: str = answer.json()["id"]
        return draft

    def new_encounter(self) -> str:
        """A synthetic encounter of Patient/pat-001 in the EHR (the worker reads it back)."""
        encounter = {
            "resourceType": "Encounter",
            "status": "in-progress",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
            },
            "subject": {"reference": "Patient/pat-001"},
            "period": {"start": "2026-11-24T09:30:00Z"},
        }
        with httpx.Client(base_url=self.fhir_base, timeout=10) as ehr:
            made = ehr.post(
                "/Encounter",
                json=encounter,
                headers={
                    "Content-Type": "application/fhir+json",
                    "Accept": "application/fhir+json",
                },
            )
        assert made.status_code == 201, made.text
        ident: str = made.json()["id"]
        return ident

    def launch(self, encounter: str, patient: str = "pat-001") -> str:
        """The EHR registers a launch with its authorization server; the shell URL for it."""
        launch = self.op.register_launch(patient=patient, encounter=encounter, iss=self.shell.iss)
        return self.shell.launch_url(launch)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchStack]:
    """Port first (the provider must know chartgate's redirect and logout URIs), then the rest."""
    workdir = tmp_path_factory.mktemp("ehr-launch")
    server = ThreadedServer(None)
    base = server.base_url
    client = {
        "client_id": REVIEWER_CLIENT,
        "redirect_uri": f"{base}/review/callback",
        "scope": "openid fhirUser launch chartgate/drafts.approve",
        "backchannel_logout_uri": f"{base}/review/logout/backchannel",
        "frontchannel_logout_uri": f"{base}/review/logout/frontchannel",
    }
    try:
        provider = run_oidc_provider(host="localhost", app_clients=[client])
        op = provider.__enter__()
    except NodeServerUnavailableError as exc:
        missing(f"oidc-provider: {exc}")
    try:
        with (
            SandboxServer(workdir / "ehr.sqlite3") as sandbox,
            EhrShell(chartgate=base, discovery=op.discovery()) as shell,
        ):
            settings = Settings(
                database_url=f"sqlite:///{workdir / 'chartgate.sqlite3'}",
                key_file=str(workdir / "kek.key"),
                reviewer_client_id=REVIEWER_CLIENT,
                tenants=[
                    TenantSettings(
                        id=TENANT,
                        display_name="Synthetic Clinic OP",
                        issuers=[op.issuer],
                        audience=RESOURCE,
                        scribe_clients=[SCRIBE_CLIENT],
                        ehr=EhrSettings(
                            base_url=sandbox.fhir_base, vendor="sandbox", timeout_seconds=3
                        ),
                        ehr_launch=EhrLaunchSettings(iss=shell.iss, frame_ancestors=[shell.origin]),
                    )
                ],
            )
            app = build(settings, migrate=True)
            server.app = create_app(app)
            try:
                with server, httpx.Client(base_url=base, timeout=30) as api:
                    yield LaunchStack(
                        app=app,
                        base_url=base,
                        api=api,
                        op=op,
                        shell=shell,
                        fhir_base=sandbox.fhir_base,
                    )
            finally:
                app.close()
    finally:
        provider.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} is not installed (make install puts it there with apt-get)")
    driver: Playwright
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"ehr-launch-{name}.png"), full_page=True)


def app_frame(page: Page) -> Frame:
    """The iframe the shell opened chartgate (and, on the way, the identity provider) in."""
    return next(f for f in page.frames if f.parent_frame is not None)


def sign_in_inside_the_ehr(page: Page) -> Frame:
    """The EHR's authorization server asks once (in the frame); returns the frame."""
    frame = page.frame_locator("#app")
    frame.get_by_label("User name").fill(CLINICIAN_LOGIN)
    frame.get_by_role("button", name="Sign in").click()
    return app_frame(page)


def test_ehr_launch_in_an_iframe_opens_and_approves_the_launched_encounters_draft(
    page: Page, stack: LaunchStack
) -> None:
    """EHR launch → sign-in in the frame → the encounter's draft → approved; cookies fit a frame."""
    encounter = stack.new_encounter()
    draft = stack.submit(encounter)
    page.goto(stack.launch(encounter))
    frame = sign_in_inside_the_ehr(page)
    inner = page.frame_locator("#app")
    expect(inner.locator("#banner-title")).to_have_text("Draft — not in the chart")
    assert frame.url == f"{stack.base_url}/review/{draft}"
    assert_no_violations(frame, "the draft inside the EHR frame")
    shot(page, "draft-in-frame")

    cookies = {c["name"]: c for c in page.context.cookies(stack.base_url)}
    session = cookies["__Host-chartgate-review"]
    assert session["sameSite"] == "None"
    assert session["secure"]
    assert session["httpOnly"]

    inner.locator("#approve-confirm").check()
    inner.get_by_role("button", name="Approve for chart").click()
    expect(inner.locator("#banner-title")).to_have_text("Approved — queued for the chart")
    shot(page, "approved-in-frame")
    # The worker writes the approved note for the launched encounter into the EHR.
    executor = stack.app.executor(owner="ehr-launch-worker")
    while executor.run_once():
        pass
    expect(inner.locator("#banner-title")).to_have_text(
        re.compile(r"^In the chart, not signed — DocumentReference/")
    )
    with httpx.Client(base_url=stack.fhir_base, timeout=10) as ehr:
        found = ehr.get("/DocumentReference", params={"patient": "Patient/pat-001"}).json()
    encounters = [
        e["resource"]["context"]["encounter"][0]["reference"] for e in found.get("entry", [])
    ]
    assert encounters.count(f"Encounter/{encounter}") == 1


def test_a_launch_for_another_encounter_cannot_open_this_draft(
    page: Page, stack: LaunchStack
) -> None:
    """Launched for enc-777, the clinician sees no draft of enc-001, even by its address."""
    draft = stack.submit("enc-102")
    page.goto(stack.launch("enc-777"))
    frame = sign_in_inside_the_ehr(page)
    inner = page.frame_locator("#app")
    expect(inner.locator("h1")).to_contain_text("Nothing to review")
    assert draft not in frame.content()
    frame.goto(f"{stack.base_url}/review/{draft}")
    expect(inner.locator("h1")).to_have_text("Draft not found")
    shot(page, "other-encounter-not-found")


def signed_in_and_showing(page: Page, stack: LaunchStack, encounter: str) -> str:
    """Launch, sign in, and see the draft in the frame; return the draft id."""
    draft = stack.submit(encounter)
    page.goto(stack.launch(encounter))
    sign_in_inside_the_ehr(page)
    expect(page.frame_locator("#app").locator("#banner-title")).to_have_text(
        "Draft — not in the chart"
    )
    # The same session opens the page by its address (the partitioned cookie is sent).
    page.goto(stack.shell.open_url(f"/review/{draft}"))
    expect(page.frame_locator("#app").locator("#banner-title")).to_have_text(
        "Draft — not in the chart"
    )
    return draft


def sign_out_of_the_ehr(page: Page) -> None:
    page.get_by_role("link", name="Sign out of the EHR").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize(
    ("backchannel", "frontchannel"), [(True, False), (False, True)], ids=["back", "front"]
)
def test_signing_out_of_the_ehr_ends_the_chartgate_session(
    page: Page, stack: LaunchStack, backchannel: bool, frontchannel: bool
) -> None:
    """Either logout channel alone ends the chartgate session made by the launch."""
    stack.op.logout_channels(backchannel=backchannel, frontchannel=frontchannel)
    try:
        draft = signed_in_and_showing(page, stack, f"enc-{'back' if backchannel else 'front'}")
        sign_out_of_the_ehr(page)
        page.goto(stack.shell.open_url(f"/review/{draft}"))
        # No chartgate session: the frame goes to sign in again (the provider's form).
        expect(page.frame_locator("#app").get_by_label("User name")).to_be_visible()
        shot(page, f"signed-out-{'back' if backchannel else 'front'}channel")
    finally:
        stack.op.logout_channels(backchannel=True, frontchannel=True)


def test_without_a_logout_channel_the_session_outlives_the_ehr_sign_out(
    page: Page, stack: LaunchStack
) -> None:
    """The control: with both channels off, chartgate's session stays after the EHR sign-out."""
    stack.op.logout_channels(backchannel=False, frontchannel=False)
    try:
        draft = signed_in_and_showing(page, stack, "enc-stays")
        sign_out_of_the_ehr(page)
        page.goto(stack.shell.open_url(f"/review/{draft}"))
        expect(page.frame_locator("#app").locator("#banner-title")).to_have_text(
            "Draft — not in the chart"
        )
    finally:
        stack.op.logout_channels(backchannel=True, frontchannel=True)
