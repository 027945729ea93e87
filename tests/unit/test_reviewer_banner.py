"""The reviewer page always says where the draft is, in the fixed words of issue 7."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from builders import draft_in
from chartgate.domain.lifecycle import DraftState
from chartgate.service.drafting import DraftView
from chartgate.service.ports import WritebackRecord
from chartgate.settings import EhrSettings, TenantSettings
from chartgate.web.presenter import banner, destination, page_model, resource_rows

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def record(state: str, **fields: object) -> WritebackRecord:
    values: dict[str, object] = {
        "tenant": "clinic-a",
        "id": "w-1",
        "draft_id": "d-1",
        "approval_id": "a-1",
        "kind": "approve",
        "state": state,
        "may_have_landed": False,
        "payload": {},
        "payload_hash": "sha256:0",
        "correlation_id": "c-1",
        "attempts": 1,
        "next_attempt_at": AT,
    }
    values.update(fields)
    return WritebackRecord(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "writebacks", "title"),
    [
        (DraftState.IN_REVIEW, [], "Draft — not in the chart"),
        (DraftState.QUEUED, [record("queued")], "Approved — queued for the chart"),
        (DraftState.SENDING, [record("sending")], "Approved — queued for the chart"),
        (DraftState.AMBIGUOUS, [record("ambiguous")], "Approved — queued for the chart"),
        (
            DraftState.COMMITTED,
            [record("committed", document_id="doc-9", document_version="1")],
            "In the chart, not signed — DocumentReference/doc-9",
        ),
        (
            DraftState.COMMITTED,
            [record("partial", document_id="doc-9", document_version="1", last_status=403)],
            "In the chart — DocumentReference/doc-9, but its provenance is missing",
        ),
        (
            DraftState.AMBIGUOUS,
            [record("needs_person")],
            "Needs a person — chartgate cannot tell whether the note reached the chart",
        ),
        (
            DraftState.CONFLICT,
            [record("conflict", last_reason="changed since the draft's baseline")],
            "Conflict — the chart changed",
        ),
        (
            DraftState.REJECTED,
            [record("rejected", last_status=422, last_reason="422 not-supported")],
            "Rejected by the EHR — 422 not-supported",
        ),
    ],
)
def test_banner_says_where_the_draft_is(
    state: DraftState, writebacks: list[WritebackRecord], title: str
) -> None:
    """Each state has its one banner text."""
    assert banner(DraftView(draft=draft_in(state), writebacks=writebacks)).title == title


def test_a_rejection_without_a_reason_still_says_something() -> None:
    """The HTTP status stands in when the EHR gave no reason."""
    view = DraftView(
        draft=draft_in(DraftState.REJECTED), writebacks=[record("rejected", last_status=400)]
    )
    assert banner(view).title == "Rejected by the EHR — HTTP 400"


def test_the_committed_banner_names_the_note_in_the_chart_not_its_retraction() -> None:
    """After an amendment the banner names the newest committed note."""
    view = DraftView(
        draft=draft_in(DraftState.COMMITTED, doc_status="amended"),
        writebacks=[
            record("committed", id="w-1", document_id="doc-1", document_version="1"),
            record("committed", id="w-2", kind="amend", document_id="doc-2", document_version="1"),
        ],
    )
    shown = banner(view)
    assert shown.title == "Amended in the chart — DocumentReference/doc-2"
    assert "amendment replaced" in shown.detail


def test_final_notes_offer_no_finalize() -> None:
    """A note already final shows amend and retract, not finalize."""
    view = DraftView(
        draft=draft_in(DraftState.COMMITTED, doc_status="final", approved_version=1),
        writebacks=[record("committed", document_id="doc-1", document_version="2")],
    )
    model = page_model(view, tenant=None)
    assert "finalize" not in model.actions
    assert {"amend", "retract"} <= model.actions


def test_queued_drafts_are_polled_and_offer_nothing() -> None:
    """While the write-back is under way the page polls it and shows no action."""
    view = DraftView(draft=draft_in(DraftState.QUEUED), writebacks=[record("queued")])
    model = page_model(view, tenant=None)
    assert model.poll_writeback == "w-1"
    assert not model.actions


def test_the_confirmation_names_the_ehr_and_the_organisation() -> None:
    """Approve's confirmation says which EHR the note goes to."""
    tenant = TenantSettings(
        id="clinic-a",
        display_name="Synthetic Clinic A",
        issuers=["https://idp.example"],
        ehr=EhrSettings(base_url="https://fhir.clinic-a.example/R4", vendor="epic"),
    )
    shown = destination(tenant)
    assert shown.ehr == "epic EHR at fhir.clinic-a.example"
    assert shown.tenant == "Synthetic Clinic A"


def test_structured_resources_show_what_changed() -> None:
    """Added, removed, changed and unchanged resources are told apart, with the changed paths."""
    condition = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J20.9"}]},
        "clinicalStatus": {"coding": [{"code": "active"}]},
    }
    resolved = {**condition, "clinicalStatus": {"coding": [{"code": "resolved"}]}}
    observation = {"resourceType": "Observation", "valueQuantity": {"value": 37.1, "unit": "Cel"}}
    rows = resource_rows((condition, observation), (resolved,))
    assert [r.change for r in rows] == ["changed", "removed"]
    assert rows[0].code == "ICD-10-CM J20.9"
    assert any("/clinicalStatus/coding/0/code" in c for c in rows[0].changes)
    assert rows[1].before == "valueQuantity: 37.1 Cel"
    rows = resource_rows((condition,), (condition, observation))
    assert [r.change for r in rows] == ["unchanged", "added"]


def test_an_escalated_writeback_says_a_person_was_told() -> None:
    """After max attempts the queued banner says how often it was tried and who knows."""
    view = DraftView(
        draft=draft_in(DraftState.QUEUED),
        writebacks=[record("queued", attempts=9, escalated_at=AT)],
    )
    shown = banner(view)
    assert shown.title == "Approved — queued for the chart"
    assert "tried 9 times" in shown.detail


def _rendered_review(
    vendor: str,
    *,
    patient: dict[str, str | None] | None = None,
    attestation: str = "",
) -> str:
    """review.html as the page renders it for a draft in review, for a tenant on ``vendor``."""
    from pathlib import Path  # noqa: PLC0415

    import jinja2  # noqa: PLC0415

    from chartgate import web  # noqa: PLC0415
    from chartgate.domain.policy.decisions import Decision  # noqa: PLC0415
    from chartgate.domain.principal import Principal, Role  # noqa: PLC0415
    from chartgate.web.plain_words import when  # noqa: PLC0415
    from chartgate.web.presenter import RETRACTION_REASONS  # noqa: PLC0415
    from chartgate.web.reading import reading  # noqa: PLC0415

    tenant = TenantSettings(
        id="clinic-a",
        issuers=["https://idp.example"],
        ehr=EhrSettings(base_url="https://fhir.clinic-a.example/R4", vendor=vendor),
    )
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(web.__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    draft = draft_in(DraftState.IN_REVIEW)
    principal = Principal(subject="dr", tenant="clinic-a", role=Role.CLINICIAN)
    environment.globals["when"] = when
    view = DraftView(draft=draft)
    model = page_model(view, tenant=tenant)
    allowed = Decision(
        allowed=True,
        mode=None,
        requires_approval=True,
        auth=None,
        reason="",
        resource_type="X",
    )
    return environment.get_template("review.html").render(
        m=model,
        r=reading(view, model, decide=lambda _kind: allowed),
        patient=patient or {},
        attestation=attestation,
        chart_now=None,
        edit_open=False,
        save_approve=True,
        draft=draft,
        principal=principal,
        csrf="c",
        error=None,
        error_findings=[],
        reasons=RETRACTION_REASONS,
        killswitches=[],
    )


def test_a_final_only_ehr_says_before_the_click_that_approving_signs() -> None:
    """Oracle Health takes signed notes only: the page says so and offers one-step signing."""
    page = _rendered_review("oracle-health")
    assert "takes signed notes only" in page
    assert 'name="sign" value="yes"' in page
    assert "Approve and sign" in page


def test_an_ehr_that_takes_drafts_keeps_the_plain_approve() -> None:
    """Epic takes preliminary notes: a plain Approve for chart, no signing sentence."""
    page = _rendered_review("epic")
    assert "takes signed notes only" not in page
    assert 'name="sign"' not in page
    assert "Approve for chart</button>" in page


def test_a_signed_note_looks_different_from_a_preliminary_one() -> None:
    """DocStatus final is "Signed in the chart" (its own banner kind); preliminary is not."""
    committed = [record("committed", document_id="doc-9", document_version="2")]
    final = banner(
        DraftView(draft=draft_in(DraftState.COMMITTED, doc_status="final"), writebacks=committed)
    )
    preliminary = banner(
        DraftView(
            draft=draft_in(DraftState.COMMITTED, doc_status="preliminary"), writebacks=committed
        )
    )
    assert final.title == "Signed in the chart — DocumentReference/doc-9"
    assert preliminary.title == "In the chart, not signed — DocumentReference/doc-9"
    assert final.kind != preliminary.kind


def test_a_queued_finalization_does_not_say_approved_again() -> None:
    """After Finalize the banner says signing is queued and the note is not signed yet."""
    view = DraftView(
        draft=draft_in(DraftState.QUEUED),
        writebacks=[
            record("committed", id="w-1", document_id="doc-1", document_version="1"),
            record("queued", id="w-2", kind="finalize"),
        ],
    )
    assert banner(view).title == "Signing queued — in the chart, not signed yet"


BANNER = {
    "name": "Alex Synthetic",
    "birth_date": "1970-01-01",
    "mrn": "SYN-0001",
    "encounter_date": "2026-11-24",
    "encounter_status": "in-progress",
    "location": "Exam room 3",
}


def _label(page: str, element_id: str) -> str:
    import re  # noqa: PLC0415

    found = re.search(rf'<label for="{element_id}"[^>]*>(.*?)</label>', page, re.DOTALL)
    assert found is not None, element_id
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_the_approval_confirmation_names_the_patient_as_the_banner_does() -> None:
    """Name, birth date and MRN from the EHR; never ``Patient/pat-001`` (issue 16)."""
    page = _rendered_review("epic", patient=BANNER)
    for element in ("approve-confirm", "save-approve-confirm"):
        label = _label(page, element)
        assert "Alex Synthetic (born 1970-01-01, MRN SYN-0001)" in label, label
        assert "encounter of 2026-11-24" in label
        assert "Patient/" not in label
        assert "Encounter/" not in label
    assert "Exam room 3" in page  # the banner's location


def test_without_the_ehr_the_confirmation_says_the_patient_is_unconfirmed() -> None:
    """The EHR could not be read: no raw reference pretends to be a name."""
    page = _rendered_review("epic", patient={"unread": "yes"})
    label = _label(page, "approve-confirm")
    assert "Patient/" not in label
    assert "whom the EHR has not confirmed just now" in label


def test_an_ehr_without_provenance_shows_the_attestation_footer_before_approval() -> None:
    """provenance_mode none: the footer approval adds is on the page, id as a placeholder."""
    from chartgate.domain.vendors import get_vendor  # noqa: PLC0415
    from chartgate.web.reading import WRITEBACK_ID_PLACEHOLDER, attestation_preview  # noqa: PLC0415

    draft = draft_in(DraftState.IN_REVIEW)
    footer = attestation_preview(get_vendor("athenapractice"), draft)
    assert WRITEBACK_ID_PLACEHOLDER in footer
    assert "draft version 1" in footer
    assert footer.startswith("--\nDrafted with AI")
    page = _rendered_review("athenapractice", attestation=footer)
    assert 'id="approve-attestation"' in page
    assert "Drafted with AI" in page
    assert "naming draft version 2" in page  # save and approve approves the saved version
    assert attestation_preview(get_vendor("epic"), draft) == ""


def test_the_previewed_footer_is_the_approved_one_but_for_the_id() -> None:
    """The preview and approval use the same words: only the id differs."""
    from chartgate.domain.vendors import get_vendor  # noqa: PLC0415
    from chartgate.service.provenance_travel import note_footer  # noqa: PLC0415
    from chartgate.web.reading import WRITEBACK_ID_PLACEHOLDER, attestation_preview  # noqa: PLC0415

    draft = draft_in(DraftState.IN_REVIEW)
    profile = get_vendor("athenapractice")
    approved = note_footer(
        profile.provenance_mode, origin=draft.origin, writeback_id="wb-1", version=1
    )
    preview = attestation_preview(profile, draft)
    assert approved.strip() == preview.replace(WRITEBACK_ID_PLACEHOLDER, "wb-1")
