"""The "In the chart" list of structured items, clicked in Debian's chromium (issue 13).

A draft proposes a Condition (``clinician-approved`` under the policy here) and an
Observation (``draft-only``). The page says which will be written and which never leaves
chartgate; after approval the Condition's write-back is listed with where it is. When the
EHR refuses the Condition's Provenance (``partial``: the Condition is in the chart), the item
gets its own resolve button; clicking it retries the Provenance through the same use case as
``POST /v1/writebacks/{id}/resolve`` (ledger ``writeback.resolved``), and after the worker the
item reads "written to the chart". Each state is axe-core clean at both widths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from test_reviewer_page import (  # the running stack, the browser and the sign-in steps
    TENANT_A,
    ReviewStack,
    approve,
    browser,
    page,
    playwright_driver,
    reviewer_stack,
    sign_in,
)
from test_reviewer_states import check_state

from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.sandbox.faults import Refusal
from structured_items import CONDITION, OBSERVATION, structured_submission, write_policy_file

__all__ = ["browser", "page", "playwright_driver"]  # fixtures, used by name

DRAFT_ONLY = "not written to the chart (draft-only by policy)"


def _submit(stack: ReviewStack) -> dict[str, Any]:
    answer = stack.api.post(
        "/v1/drafts",
        json=structured_submission(CONDITION, OBSERVATION),
        headers=stack.scribe(),
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _resolved(stack: ReviewStack, draft: dict[str, Any], writeback_id: str) -> list[Any]:
    """The ledger's ``writeback.resolved`` events of one write-back."""
    chain = stack.app.audit_chain(TENANT_A, draft["correlation_id"])
    return [
        e["data"]
        for e in chain
        if e["type"] == "writeback.resolved" and e.get("writeback_id") == writeback_id
    ]


def test_the_in_the_chart_list_shows_each_item_and_resolves_one_per_item(
    page: Page, migrated_sqlite_url: str, tmp_path: Path
) -> None:
    """Written vs draft-only, the state after the write, and the per-item resolve button."""
    policy = write_policy_file(tmp_path, draft_only=("Observation",))
    with reviewer_stack(tmp_path, database_url=migrated_sqlite_url, policy=policy) as stack:
        draft = _submit(stack)
        sign_in(page, stack, draft["id"])
        items = page.locator("#resources ul.resources").first
        expect(items.locator("li", has_text="Observation")).to_contain_text(DRAFT_ONLY)
        expect(items.locator("li", has_text="Condition")).to_contain_text("will be written")
        check_state(page, "20-structured-before-approval")

        approve(page)
        [note] = stack.draft(draft["id"])["writebacks"]
        assert stack.app.executor(owner="e2e-worker").process(TENANT_A, note["id"])
        # The EHR refuses the Condition's Provenance: the Condition is in the chart, partial.
        stack.sandbox.faults.configure(
            refuse=Refusal(count=1, status=422, resource_type="Provenance")
        )
        stack.work()
        [item] = [i for i in stack.draft(draft["id"])["structured"] if i["written"]]
        part = item["writeback"]
        assert part["state"] == "partial", part
        page.reload()
        in_chart = page.locator("#resources ul.in-chart li", has_text="Condition")
        expect(in_chart).to_contain_text("in the chart; its Provenance was refused")
        expect(page.locator("#resources ul.in-chart li", has_text="Observation")).to_have_count(0)
        expect(items.locator("li", has_text="Observation")).to_contain_text(DRAFT_ONLY)
        button = in_chart.get_by_role("button", name="Retry its Provenance (Condition)")
        expect(button).to_be_visible()
        check_state(page, "21-structured-partial-with-resolve")

        # The same rules as the page's other forms: no token, no decision; and the write-back
        # must be one of the draft the URL names.
        url = f"{stack.base_url}/review/{{}}/writebacks/{part['id']}/resolve"
        forged = page.request.post(
            url.format(draft["id"]), form={"csrf_token": "forged", "action": "retry-follow-up"}
        )
        assert forged.status == 403
        token = in_chart.locator("input[name=csrf_token]").get_attribute("value") or ""
        other = stack.submit()
        elsewhere = page.request.post(
            url.format(other["id"]), form={"csrf_token": token, "action": "retry-follow-up"}
        )
        assert elsewhere.status == 404
        assert _resolved(stack, draft, part["id"]) == []
        page.goto(f"{stack.base_url}/review/{draft['id']}")

        button.click()
        expect(page.get_by_text("Decision recorded for the Condition write-back")).to_be_visible()
        [resolved] = _resolved(stack, draft, part["id"])
        assert resolved["action"] == "retry-follow-up"  # as the API's resolve records it
        stack.work()
        page.reload()
        in_chart = page.locator("#resources ul.in-chart li", has_text="Condition")
        expect(in_chart).to_have_text("Condition: written to the chart")
        expect(in_chart.get_by_role("button")).to_have_count(0)
        [item] = [i for i in stack.draft(draft["id"])["structured"] if i["written"]]
        assert item["writeback"]["state"] == "committed"
        found = stack.ehr_get("/Provenance", _tag=f"{WRITEBACK_SYSTEM}|{part['id']}")
        assert len(found.get("entry", [])) == 1  # the retried Provenance, exactly once
        check_state(page, "22-structured-resolved")
