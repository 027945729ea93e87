"""Accessibility and layout of the reviewer page, as tests (issue 16 item 4).

Every state the page can be in is opened in Debian's chromium and checked at 1280 px and at
420 px (an EHR side panel): axe-core (npm, tests/browser_axe) finds no violation of any
impact, nothing scrolls sideways, and a screenshot is saved to
``test-output/screenshots/states/<state>-<width>.png``. The page reflows at 320 px; approve
and finalize (with its step-up sign-in) work from the keyboard alone; the demo note's page
is under 1,400 px tall at 1280 px (the heights measured go to
``test-output/reviewer-page-heights.json``).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_reviewer_page import (  # the running stack, the browser and the sign-in steps
    ReviewStack,
    approve,
    banner,
    browser,
    open_edit,
    page,
    playwright_driver,
    poll_now,
    reviewer_stack,
    save_edit,
    sign_in,
    stack,
)

from axe_check import assert_no_violations
from builders import ENCOUNTER, PATIENT
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.note_content import decode_note
from chartgate.sandbox.faults import Refusal

__all__ = ["browser", "page", "playwright_driver", "stack"]  # fixtures, used by name

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
STATES = OUTPUT / "screenshots" / "states"
WIDTHS = (1280, 420)
HEIGHT_LIMIT = 1400
AMENDED = [  # the chart's note text, changed in the EHR after the draft was made against it
    {
        "attachment": {
            "contentType": "text/plain",
            "data": base64.b64encode(b"Synthetic note, amended in the EHR").decode(),
        }
    }
]
LOCATION = "Exam room 3, Sandbox Family Clinic (synthetic)"  # sandbox seed, read for the banner


def check_state(page: Page, name: str) -> None:
    """axe-core clean and no sideways scroll at each width; a screenshot of each."""
    STATES.mkdir(parents=True, exist_ok=True)
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            assert_no_violations(page, f"{name} at {width} px")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{name} scrolls sideways at {width} px ({scroll} px wide)"
            page.screenshot(path=str(STATES / f"{name}-{width}.png"), full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def run_worker(stack: ReviewStack, page: Page) -> None:
    """The worker takes what is due; the page's pending poll fires now (``poll_now``)."""
    assert stack.work() >= 1
    poll_now(page)


def step_up(page: Page) -> None:
    """The dev identity provider asks for a fresh sign-in; back on the page."""
    expect(page.get_by_text("Re-authentication requested")).to_be_visible()
    page.get_by_role("button", name="Sign in as demo clinician").click()
    expect(page.get_by_text("You signed in again.")).to_be_visible()
    page.wait_for_load_state("load")


def test_every_state_of_a_note_is_accessible_and_fits_both_widths(
    page: Page, stack: ReviewStack
) -> None:
    """Draft → edited → approved → in the chart → signing queued → signed, and the worklist."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    # The patient as the EHR names them, with the encounter's location (issues 13, 16) ...
    expect(page.locator("#patient")).to_contain_text("Alex Synthetic")
    expect(page.locator("#patient-location")).to_have_text(LOCATION)
    # ... and the confirmation names them the same way, never Patient/pat-001.
    label = page.locator("#approve-confirm-label")
    expect(label).to_contain_text("Alex Synthetic (born 1970-01-01, MRN SYN-0001)")
    expect(label).not_to_contain_text("Patient/")
    check_state(page, "01-draft")

    page.goto(f"{stack.base_url}/review/")
    expect(page.locator("#worklist-review")).to_be_visible()
    check_state(page, "02-worklist")

    page.goto(f"{stack.base_url}/review/{draft['id']}")
    save_edit(page)
    page.get_by_text("Show AI draft").click()
    open_edit(page)
    check_state(page, "03-edited-ai-draft-and-edit-open")

    page.goto(f"{stack.base_url}/review/{draft['id']}")
    approve(page)
    check_state(page, "04-approved-queued")

    run_worker(stack, page)
    expect(banner(page)).to_have_text(re.compile(r"^In the chart, not signed — "))
    check_state(page, "05-in-the-chart-not-signed")

    page.locator("#finalize-confirm").check()
    page.get_by_role("button", name="Finalize note").click()
    step_up(page)
    page.locator("#finalize-confirm").check()
    page.get_by_role("button", name="Finalize note").click()
    expect(banner(page)).to_have_text("Signing queued — in the chart, not signed yet")
    check_state(page, "06-signing-queued")

    run_worker(stack, page)
    expect(banner(page)).to_have_text(re.compile(r"^Signed in the chart — "))
    check_state(page, "07-signed")

    page.get_by_text("Amend the note in the chart").click()
    check_state(page, "08-signed-amend-open")


def test_every_refusal_state_is_accessible_and_fits_both_widths(
    page: Page, stack: ReviewStack
) -> None:
    """Blocking findings, an action refused, a conflict, discarded, not found, signed out."""
    temperature = {
        "resourceType": "Observation",
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}
            ]
        },
        "valueQuantity": {"value": 37.1, "unit": "C"},
    }
    blocked = stack.submit(resources=[temperature])
    sign_in(page, stack, blocked["id"])
    expect(page.locator("#approve-button")).to_be_disabled()
    check_state(page, "09-findings-block-approval")

    open_edit(page)
    text = page.locator("#edit-text")
    text.fill(text.input_value().replace("Temperature 37.1 C.", "Body temperature 37.1 C."))
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state("load")
    page.locator("#approve-confirm").check()
    page.get_by_role("button", name="Approve for chart").click()
    expect(page.locator("#action-error")).to_contain_text("unit.not-ucum")
    check_state(page, "10-action-refused-warning-to-acknowledge")

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
        conflicted = stack.submit(baseline={reference: prior["meta"]["versionId"]})
        page.goto(f"{stack.base_url}/review/{conflicted['id']}")
        approve(page)
        ehr.put(
            f"/{reference}",
            json={**prior, "description": "Changed in the EHR", "content": AMENDED},
            headers={**fhir, "If-Match": f'W/"{prior["meta"]["versionId"]}"'},
        )
    stack.work()
    poll_now(page)
    expect(banner(page)).to_have_text("Conflict — the chart changed")
    # What changed in the chart's note, field by field, not only its version number.
    expect(page.locator("#chart-diff-1")).to_contain_text("Description: added “Changed in the EHR”")
    expect(page.locator("#chart-diff-1")).to_contain_text(
        "The note's text: 0 word(s) removed, 5 added"
    )
    page.get_by_text("Show the chart's note text with its changes").click()
    expect(page.locator("#chart-diff-1 + details ins").first).to_be_visible()
    check_state(page, "11-conflict-chart-read")

    discarded = stack.submit()
    page.goto(f"{stack.base_url}/review/{discarded['id']}")
    page.get_by_text("Discard this draft").click()
    page.locator("#discard-confirm").check()
    page.get_by_role("button", name="Discard draft").click()
    expect(banner(page)).to_have_text("Discarded — never sent to the chart")
    check_state(page, "12-discarded")

    page.goto(f"{stack.base_url}/review/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_role("heading", name="Draft not found")).to_be_visible()
    check_state(page, "13-not-found")

    page.goto(f"{stack.base_url}/review/{discarded['id']}")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    check_state(page, "14-signed-out")


@pytest.mark.parametrize("where", ["draft", "worklist", "findings"])
def test_the_page_reflows_at_320_px(page: Page, stack: ReviewStack, where: str) -> None:
    """WCAG 1.4.10: at 320 CSS px nothing needs sideways scrolling."""
    resources = []
    if where == "findings":
        resources = [
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "49727002"}]},
            }
        ]
    draft = stack.submit(resources=resources)
    sign_in(page, stack, draft["id"])
    if where == "worklist":
        page.goto(f"{stack.base_url}/review/")
    page.set_viewport_size({"width": 320, "height": 700})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    if where == "draft":
        expect(page.locator("nav.actionbar")).to_be_visible()  # the sticky action bar


def tab_to(page: Page, found: str, what: str) -> None:
    """Press Tab until the JavaScript predicate ``found`` holds for the focused element."""
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => Boolean(el && ({found})))(document.activeElement)"):
            return
    pytest.fail(f"{what} cannot be reached with Tab")


def test_keyboard_alone_can_approve_and_finalize(page: Page, stack: ReviewStack) -> None:
    """Tab, Space and Enter only: approve, then finalize through the step-up sign-in."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    page.locator("body").focus()
    tab_to(page, "el.id === 'approve-confirm'", "the approval confirmation")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "approve-button"
    page.keyboard.press("Enter")
    expect(banner(page)).to_have_text("Approved — queued for the chart")
    run_worker(stack, page)
    expect(banner(page)).to_have_text(re.compile(r"^In the chart, not signed — "))
    page.wait_for_load_state("load")

    for attempt in range(2):  # the first asks for a fresh sign-in (step-up), the second acts
        page.locator("body").focus()
        tab_to(page, "el.id === 'finalize-confirm'", "the finalize confirmation")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "finalize-button"
        page.keyboard.press("Enter")
        if attempt == 0:
            expect(page.get_by_text("Re-authentication requested")).to_be_visible()
            page.locator("body").focus()
            tab_to(page, "el.tagName === 'BUTTON' && el.textContent.includes('Sign in')", "sign-in")
            page.keyboard.press("Enter")
            expect(page.get_by_text("You signed in again.")).to_be_visible()
            page.wait_for_load_state("load")
    expect(banner(page)).to_have_text("Signing queued — in the chart, not signed yet")
    run_worker(stack, page)
    expect(banner(page)).to_have_text(re.compile(r"^Signed in the chart — "))
    assert stack.draft(draft["id"])["doc_status"] == "final"


def test_the_demo_notes_page_is_short_at_1280_px(page: Page, stack: ReviewStack) -> None:
    """The note once: the whole page of the demo note is under 1,400 px at 1280 px wide."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    heights = {"draft": page.evaluate("document.documentElement.scrollHeight")}
    save_edit(page)
    page.goto(f"{stack.base_url}/review/{draft['id']}")
    heights["edited"] = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 420, "height": 900})
    heights["edited_at_420"] = page.evaluate("document.documentElement.scrollHeight")
    top = page.locator("nav.actionbar").bounding_box()
    assert top is not None
    assert top["y"] + top["height"] <= 900  # Approve is one tap away on a phone-width screen
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "reviewer-page-heights.json").write_text(json.dumps(heights, indent=2) + "\n")
    assert heights["draft"] < HEIGHT_LIMIT, heights
    assert heights["edited"] < HEIGHT_LIMIT, heights


def test_the_worklist_lists_what_needs_the_clinician_newest_first_with_counts(
    page: Page, stack: ReviewStack
) -> None:
    """Drafts to review (newest first), write-backs that need them, notes on their way."""
    older = stack.submit()
    newer = stack.submit()
    on_its_way = stack.submit()
    sign_in(page, stack, on_its_way["id"])
    approve(page)
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
        conflicted = stack.submit(baseline={reference: prior["meta"]["versionId"]})
        page.goto(f"{stack.base_url}/review/{conflicted['id']}")
        approve(page)
        ehr.put(
            f"/{reference}",
            json={**prior, "description": "Changed in the EHR"},
            headers={**fhir, "If-Match": f'W/"{prior["meta"]["versionId"]}"'},
        )
    stack.work()  # one is written, the other stops as a conflict
    stack.submit()  # not yet opened: awaits review too
    page.goto(f"{stack.base_url}/review/")
    review = page.locator("#worklist-review a")
    expect(review).to_have_count(3)
    expect(page.locator("#review-count")).to_have_text("(3)")
    # Each line names the patient and the visit from the EHR, as the draft page's banner does.
    for i in range(3):
        expect(review.nth(i)).to_have_text(
            re.compile(r"^Alex Synthetic \(born 1970-01-01, MRN SYN-0001\), encounter of ")
        )
        expect(review.nth(i)).not_to_contain_text(PATIENT)
    hrefs = [review.nth(i).get_attribute("href") for i in range(3)]
    assert hrefs.index(f"/review/{newer['id']}") < hrefs.index(f"/review/{older['id']}")
    attention = page.locator("#worklist-attention li")
    expect(attention).to_have_count(1)
    expect(attention).to_contain_text("The chart changed: rebase, review and approve again.")
    expect(page.locator("#attention-count")).to_have_text("(1)")
    check_state(page, "15-worklist-with-attention")


def test_a_failed_follow_up_is_on_the_clinicians_worklist(page: Page, stack: ReviewStack) -> None:
    """The note landed, its Provenance was refused: "Follow-up failed" under what needs them."""
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    approve(page)
    stack.sandbox.faults.configure(refuse=Refusal(count=1, status=422, resource_type="Provenance"))
    run_worker(stack, page)
    expect(banner(page)).to_contain_text("its provenance is missing")
    page.goto(f"{stack.base_url}/review/")
    attention = page.locator("#worklist-attention li")
    expect(attention).to_have_count(1)
    expect(attention).to_contain_text("Follow-up failed: the note is in the chart")
    expect(page.locator("#attention-count")).to_have_text("(1)")
    check_state(page, "16-worklist-follow-up-failed")


def test_an_ehr_without_provenance_shows_the_footer_before_approval(
    page: Page, migrated_sqlite_url: str, tmp_path: Path
) -> None:
    """provenance_mode none (athenaPractice): the attestation footer is shown before the click.

    Its write-back id is a placeholder; the note that lands ends with the same footer, the
    real id in its place.
    """
    with reviewer_stack(
        tmp_path, database_url=migrated_sqlite_url, vendor="athenapractice"
    ) as stack:
        draft = stack.submit()
        sign_in(page, stack, draft["id"])
        footer = page.locator("#approve-attestation pre")
        expect(footer).to_contain_text("Drafted with AI (example-scribe-llm 2026.10.1)")
        expect(footer).to_contain_text("chartgate write-back [id made when you approve]")
        shown = footer.inner_text()
        check_state(page, "17-attestation-footer-before-approval")
        approve(page)
        run_worker(stack, page)
        expect(banner(page)).to_have_text(re.compile(r"^In the chart, not signed — "))
        [record] = stack.draft(draft["id"])["writebacks"]
        found = stack.ehr_get("/DocumentReference", identifier=f"{WRITEBACK_SYSTEM}|{record['id']}")
        attachment = found["entry"][0]["resource"]["content"][0]["attachment"]
        text = decode_note(base64.b64decode(attachment["data"]), attachment["contentType"])
        assert text.endswith(shown.replace("[id made when you approve]", record["id"]))
