"""Issue 17 on the reviewer page, clicked in Debian's chromium (not only rendered).

* "End session" on a live scribe session: the page says it ended, the scribe's next context
  read in it is refused (403) and the ledger holds ``context.session_closed``.
* A consent sentence the model wrote, still unchanged: the page quotes it and Approve is off
  with the reason; once the clinician rewrites it and saves, Approve is on.

Both states are checked with axe-core at both widths (``check_state``).
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect
from test_reviewer_page import (  # the running stack, the browser and the sign-in steps
    TENANT_A,
    ReviewStack,
    banner,
    browser,
    open_edit,
    page,
    playwright_driver,
    sign_in,
    stack,
)
from test_reviewer_states import check_state

from builders import ENCOUNTER, PATIENT, SOAP_NOTE

__all__ = ["browser", "page", "playwright_driver", "stack"]  # fixtures, used by name

SCRIBE_CLIENT = f"scribe-{TENANT_A}"
MODEL_SENTENCE = "Patient gave verbal consent to the recording of this visit."
# Still a consent sentence, but the clinician's own (not in any scribe-written version): it
# passes; chartgate's consent text comes from the record, this is the clinician's note.
OWN_WORDS = "Patient gave verbal consent after I explained the recording to her."


def open_session(stack: ReviewStack) -> str:
    """The clinician (launched on the encounter) lets the tenant's scribe read its context."""
    answer = stack.api.post(
        "/v1/scribe-sessions",
        json={
            "patient": PATIENT,
            "encounter": ENCOUNTER,
            "template": "soap-v3",
            "scribe_client": SCRIBE_CLIENT,
        },
        headers=stack.clinician(),
    )
    assert answer.status_code == 201, answer.text
    session: str = answer.json()["id"]
    return session


def read_context(stack: ReviewStack, session: str) -> httpx.Response:
    """The scribe's ``GET /v1/context`` for the patient, inside ``session``."""
    return stack.api.get(
        "/v1/context", params={"session": session, "type": "Patient"}, headers=stack.scribe()
    )


def test_end_session_on_the_page_closes_it_for_the_scribe(page: Page, stack: ReviewStack) -> None:
    """Click End session: shown ended, the scribe's next read is 403, the ledger has the close."""
    session = open_session(stack)
    assert read_context(stack, session).status_code == 200  # live: the scribe reads
    draft = stack.submit()
    sign_in(page, stack, draft["id"])
    row = page.locator(f"#scribe-session-{session}")
    expect(row).to_contain_text(f"{SCRIBE_CLIENT} (soap-v3)")
    expect(row).to_contain_text("live until")
    # Each End session button names its session, so several live ones are told apart.
    button = row.get_by_role("button", name=f"End session of {SCRIBE_CLIENT} (soap-v3), opened")
    expect(button).to_have_count(1)
    button.click()
    page.wait_for_load_state("load")

    expect(page.get_by_text("Scribe session ended.")).to_be_visible()
    expect(row).to_contain_text("ended (closed early)")
    expect(row.get_by_role("button", name="End session")).to_have_count(0)
    expect(banner(page)).to_have_text("Draft — not in the chart")  # the draft is untouched
    check_state(page, "18-scribe-session-ended")

    refused = read_context(stack, session)
    assert refused.status_code == 403, refused.text
    chain = stack.app.audit_chain(TENANT_A, session)
    closed = [e for e in chain if e["type"] == "context.session_closed"]
    assert len(closed) == 1, [e["type"] for e in chain]
    assert closed[0]["data"]["closed_early_by"] == "clinician"
    again = stack.api.post(f"/v1/scribe-sessions/{session}/close", headers=stack.clinician())
    assert again.status_code == 409, again.text  # it really ended server-side


def test_a_model_consent_sentence_is_quoted_and_keeps_approve_off_until_rewritten(
    page: Page, stack: ReviewStack
) -> None:
    """The page quotes the AI's consent sentence; Approve is off until the clinician rewrites it."""
    text = SOAP_NOTE.replace("## Plan\n", f"{MODEL_SENTENCE}\n\n## Plan\n")
    assert MODEL_SENTENCE in text
    draft = stack.submit(
        note={
            "type": "11506-3",
            "title": "Progress note",
            "content_type": "text/markdown",
            "text": text,
        }
    )
    sign_in(page, stack, draft["id"])
    findings = page.locator(".findings")
    expect(findings).to_contain_text(
        "Must fix: The AI wrote a consent or attestation statement into the note."
    )
    expect(findings).to_contain_text(f"The sentence: “{MODEL_SENTENCE}”")
    expect(findings).to_contain_text("content.model-consent-statement")
    expect(page.locator("#approve-button")).to_be_disabled()
    expect(page.locator("#approve-blocked")).to_contain_text("Approve is off until 1 problem")
    check_state(page, "19-model-consent-sentence-blocks-approval")

    open_edit(page)
    box = page.locator("#edit-text")
    box.fill(box.input_value().replace(MODEL_SENTENCE, OWN_WORDS))
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    page.wait_for_load_state("load")
    expect(page.locator("main")).not_to_contain_text("content.model-consent-statement")
    expect(page.get_by_text("The sentence: “")).to_have_count(0)  # (the AI draft keeps it)
    expect(page.locator("#approve-button")).to_be_enabled()
    page.locator("#approve-confirm").check()
    page.get_by_role("button", name="Approve for chart").click()
    expect(banner(page)).to_have_text("Approved — queued for the chart")
    assert stack.draft(draft["id"])["approved_version"] == 2
