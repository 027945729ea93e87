"""Property: a valid draft stays valid through save -> approve -> render (synthetic data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import CLINICIAN, ENCOUNTER, PATIENT, submission
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.domain.documents import NoteWrite, attachment_text, build_document_reference
from chartgate.domain.drafts import Approver, Draft
from chartgate.domain.submission import DraftSubmission, VersionContent
from chartgate.policy import load_default_policy
from chartgate.service.validation import DraftValidator

LOADED = load_default_policy()
VALIDATOR = DraftValidator(LOADED, R4BSchema())
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"

# Lower-case words, digits and a little non-ASCII: no heading colons, no brackets or
# asterisks (template markers), no upper-case TODO, no 'Patient/' references.
WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789éüµ°\u2013中😀", min_size=1, max_size=12
)
SENTENCE = st.lists(WORD, min_size=1, max_size=12).map(lambda ws: " ".join(ws) + ".")
BODY = st.lists(SENTENCE, min_size=1, max_size=4).map(" ".join)
DIAGNOSES = {
    "E11.9": "Type 2 diabetes mellitus without complications",
    "I10": "Essential (primary) hypertension",
    "J20.9": "Acute bronchitis, unspecified",
}


@st.composite
def valid_content(draw: st.DrawFn) -> VersionContent:
    """A SOAP note whose structured Conditions are each named (and coded) in the Assessment."""
    chosen = draw(st.lists(st.sampled_from(sorted(DIAGNOSES)), unique=True, max_size=3))
    style = draw(st.sampled_from(["## {}", "{}:", "**{}:**"]))
    assessment = " ".join(f"{DIAGNOSES[c]} ({c})." for c in chosen) or draw(BODY)
    parts = {
        "Subjective": draw(BODY),
        "Objective": draw(BODY),
        "Assessment": assessment + " " + draw(BODY),
        "Plan": draw(BODY),
    }
    text = "\n\n".join(f"{style.format(name)}\n{body}" for name, body in parts.items()) + "\n"
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "code": {"coding": [{"system": ICD, "code": code, "display": DIAGNOSES[code]}]},
        }
        for code in chosen
    ]
    body = submission(resources=resources)
    body["note"]["text"] = text
    body["note"]["content_type"] = draw(st.sampled_from(["text/plain", "text/markdown"]))
    return DraftSubmission.model_validate(body).content()


def findings_of(content: VersionContent, *, scribe: bool) -> list[str]:
    return [
        f.key
        for f in VALIDATOR.content_findings(
            patient=PATIENT,
            encounter=ENCOUNTER,
            content=content,
            authored_by_scribe=scribe,
            author=CLINICIAN,
            at=AT,
        )
    ]


@settings(max_examples=60, deadline=None)
@given(content=valid_content(), extra=SENTENCE)
def test_a_valid_draft_stays_valid_through_save_approve_and_render(
    content: VersionContent, extra: str
) -> None:
    """Whatever valid note the scribe sends, a clinician's plain edit keeps it approvable."""
    assert findings_of(content, scribe=True) == []
    draft = Draft.submit(
        draft_id="draft-prop",
        tenant="clinic-a",
        patient=PATIENT,
        encounter=ENCOUNTER,
        origin=DraftSubmission.model_validate(submission()).origin,
        content=content,
        baseline={},
        correlation_id="corr-prop",
        author="scribe:prop",
        at=AT,
    )
    edited = content.model_copy(
        update={"note": content.note.model_copy(update={"text": content.note.text + extra + "\n"})}
    )
    draft.save_version(edited, expected_version=1, author="clinician:prop", at=AT)
    assert findings_of(draft.current.content, scribe=False) == []
    approval = draft.approve(
        approval_id="approval-prop",
        writeback_id="writeback-prop",
        expected_version=2,
        approver=Approver(
            subject="prop", fhir_user=CLINICIAN, amr=("mfa",), acr=None, auth_time=AT
        ),
        policy_hash=LOADED.content_hash,
        at=AT + timedelta(minutes=1),
    )
    document = build_document_reference(
        NoteWrite(
            writeback_id=approval.writeback_id,
            patient=PATIENT,
            encounter=ENCOUNTER,
            author=CLINICIAN,
            content=draft.version(approval.version).content,
            doc_status="preliminary",
            date=approval.approved_at,
        )
    )
    assert VALIDATOR.document_findings(document, doc_status="preliminary") == []
    assert attachment_text(document) == edited.note.text
