"""The reviewer page says what happens, and happened, to each structured item (issue 13).

Before approval: "will be written" or "not written to the chart (draft-only by policy)". After
it: where each structured write-back is ("written to the chart", "not written (…)", …), so a
partial outcome (the note in the chart, one item refused) is visible on the page as on the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from chartgate import web
from chartgate.domain.principal import Principal, Role
from chartgate.domain.writeback import CreateGuard
from chartgate.settings import EhrSettings, TenantSettings
from chartgate.web.plain_words import when
from chartgate.web.presenter import RETRACTION_REASONS, page_model
from chartgate.web.reading import reading
from structured_desk import Desk, desk
from structured_items import CONDITION, OBSERVATION, structured_submission

TENANT = TenantSettings(
    id="clinic-a",
    issuers=["https://idp.example"],
    ehr=EhrSettings(base_url="https://fhir.clinic-a.example/R4", vendor="generic-r4"),
)


def _page(d: Desk, draft_id: str) -> tuple[Any, str]:
    view = d.view(draft_id)
    model = page_model(view, tenant=TENANT)
    policy = d.approvals._ctx.policy.policy
    read = reading(
        view, model, decide=lambda kind: policy.decide_resource(kind, vendor="generic-r4")
    )
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(web.__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.globals["when"] = when
    page = environment.get_template("review.html").render(
        m=model,
        r=read,
        patient={},
        chart_now=None,
        edit_open=False,
        save_approve=True,
        draft=view.draft,
        principal=Principal(subject="dr", tenant="clinic-a", role=Role.CLINICIAN),
        csrf="c",
        error=None,
        error_findings=[],
        reasons=RETRACTION_REASONS,
        killswitches=[],
    )
    return read, page


def test_before_approval_the_page_says_which_items_will_be_written() -> None:
    """Before approval the page says which items will be written."""
    d = desk(draft_only=("Observation",))
    draft_id = d.submit()
    read, page = _page(d, draft_id)
    fates = {line.row.resource_type: line.fate.words for line in read.resources}
    assert fates["Observation"] == "not written to the chart (draft-only by policy)"
    assert fates["Condition"] == "will be written"
    assert "not written to the chart (draft-only by policy)" in page
    assert read.in_chart == []


def test_after_approval_the_page_shows_each_items_partial_outcome() -> None:
    """After approval the page shows each items partial outcome."""
    d = desk()
    draft_id = d.submit()
    d.approve(draft_id)
    d.ehr.fail_next("status", method="POST", resource_type="AllergyIntolerance", status=422)
    d.run()
    read, page = _page(d, draft_id)
    shown = {kind: words for kind, words, _fix in read.in_chart}
    assert shown["Condition"] == "written to the chart"
    assert shown["AllergyIntolerance"].startswith("not written (EHR answered 422")
    assert "In the chart" in page
    assert "AllergyIntolerance</strong>: not written (EHR answered 422" in page


def test_a_write_back_that_waits_for_a_person_gets_its_own_resolve_form() -> None:
    """needs_person (not in the chart): resend and landed; partial: retry the Provenance."""
    d = desk(CreateGuard.NONE)
    draft_id = d.submit(structured_submission(CONDITION, OBSERVATION))
    d.approve(draft_id)
    d.ehr.fail_next("hold", method="POST", resource_type="Condition")  # lands only later
    d.run(rounds=5)
    read, page = _page(d, draft_id)
    fixes = {kind: fix for kind, _words, fix in read.in_chart}
    condition = fixes["Condition"]
    assert condition is not None
    assert condition.actions == ("resend", "landed")
    assert fixes["Observation"] is None  # queued behind it: nothing for a person to decide
    assert f'action="/review/{draft_id}/writebacks/{condition.writeback_id}/resolve"' in page
    assert 'name="csrf_token" value="c"' in page
    assert "send it again (Condition)" in page


def test_a_partial_item_offers_only_to_retry_its_provenance() -> None:
    """The Condition is in the chart, its Provenance refused: one button, retry-follow-up."""
    d = desk()
    draft_id = d.submit(structured_submission(CONDITION))
    d.approve(draft_id)
    d.executor().run_once()  # the note and its Provenance
    d.ehr.fail_next("status", method="POST", resource_type="Provenance", status=403)
    d.run()
    read, page = _page(d, draft_id)
    [(kind, words, fix)] = read.in_chart
    assert (kind, words) == ("Condition", "in the chart; its Provenance was refused")
    assert fix is not None
    assert fix.actions == ("retry-follow-up",)
    assert "Retry its Provenance (Condition)" in page
    assert "send it again" not in page
