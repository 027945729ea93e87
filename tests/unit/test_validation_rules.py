"""The pure validation rules, read as business sentences (synthetic data only)."""

from __future__ import annotations

from typing import Any

import pytest

from builders import ENCOUNTER, PATIENT, SOAP_NOTE, submission
from chartgate.domain.bindings import check_bindings
from chartgate.domain.consistency import ConsistencyRules, check_consistency, coded_diagnoses
from chartgate.domain.findings import Finding, Stage, Verdict
from chartgate.domain.note_document import outbound_resource
from chartgate.domain.policy import Severity
from chartgate.domain.sections import find_section, sections
from chartgate.domain.submission import DraftSubmission, VersionContent
from chartgate.domain.validation import (
    DraftFacts,
    check_version,
    submission_finding_code,
)
from chartgate.policy import load_default_policy

POLICY = load_default_policy().policy
RULES = ConsistencyRules(synonyms=POLICY.validation.synonyms)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def content(text: str = SOAP_NOTE, resources: list[dict[str, Any]] | None = None) -> VersionContent:
    body = submission(resources=resources or [])
    body["note"]["text"] = text
    return DraftSubmission.model_validate(body).content()


def codes_of(
    text: str = SOAP_NOTE, resources: list[dict[str, Any]] | None = None, *, scribe: bool = True
) -> set[str]:
    facts = DraftFacts(PATIENT, ENCOUNTER, content(text, resources), authored_by_scribe=scribe)
    return {f.code for f in check_version(facts, POLICY)}


def diabetes(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "code": {
            "coding": [{"system": ICD, "code": "E11.9", "display": "Type 2 diabetes mellitus"}]
        },
        **extra,
    }


def test_the_builders_note_is_clean() -> None:
    """The synthetic SOAP note meets every rule."""
    assert codes_of() == set()


def test_a_note_without_its_plan_misses_a_required_section() -> None:
    """SOAP needs all four headings; the finding blocks approval, not submission."""
    facts = DraftFacts(
        PATIENT, ENCOUNTER, content(SOAP_NOTE.split("## Plan")[0]), authored_by_scribe=True
    )
    [finding] = check_version(facts, POLICY)
    assert (finding.code, finding.stage, finding.severity) == (
        "section.missing", Stage.APPROVE, Severity.ERROR
    )  # fmt: skip
    assert "Plan" in finding.message


@pytest.mark.parametrize(
    "heading", ["## Plan", "PLAN:", "**Plan:**", "Plan: fluids and rest", "### plan ###"]
)
def test_sections_are_found_however_the_heading_is_written(heading: str) -> None:
    """Markdown, bold, label-with-colon and upper-case headings all count."""
    assert find_section(f"Intro\n{heading}\nfluids\n", "Plan") is not None


def test_prose_starting_with_a_section_word_is_not_a_heading() -> None:
    """'Plan to return' is a sentence, not the Plan section."""
    assert find_section("Plan to return next week.\n", "Plan") is None


def test_a_scribe_may_not_set_a_protected_field_but_a_clinician_may() -> None:
    """VerificationStatus is the clinician's judgement (policy protected_fields)."""
    verified = diabetes(
        verificationStatus={
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        }
    )
    text = SOAP_NOTE.replace("Acute viral bronchitis", "Type 2 diabetes mellitus; bronchitis")
    assert codes_of(text, [verified]) == {"policy.protected-field"}
    assert codes_of(text, [verified], scribe=False) == set()


def test_a_structured_condition_must_be_mentioned_in_the_narrative() -> None:
    """A Condition the note never names is a consistency error."""
    assert codes_of(SOAP_NOTE, [diabetes()]) == {"consistency.not-in-narrative"}


def test_a_configured_synonym_counts_as_a_mention() -> None:
    """'T2DM' in the note mentions E11.9 through the policy's synonyms."""
    text = SOAP_NOTE.replace("Acute viral bronchitis", "T2DM stable; acute viral bronchitis")
    assert codes_of(text, [diabetes()]) == set()


def test_a_coded_diagnosis_needs_its_structured_twin_or_a_narrative_only_mark() -> None:
    """(E11.9) in the Assessment without a Condition is an error, unless marked."""
    coded = SOAP_NOTE.replace("Acute viral bronchitis, uncomplicated.", "Diabetes (E11.9).")
    assert codes_of(coded) == {"consistency.diagnosis-without-resource"}
    marked = coded.replace("Diabetes (E11.9).", "Diabetes (E11.9), narrative only.")
    assert codes_of(marked) == set()
    assert (
        codes_of(
            coded,
            [diabetes(code={"coding": [{"system": ICD, "code": "E11.9"}], "text": "Diabetes"})],
        )
        == set()
    )


def test_codes_outside_the_assessment_do_not_need_a_twin() -> None:
    """A code in the Subjective is history, not this visit's diagnosis."""
    text = SOAP_NOTE.replace("without fever.", "without fever; history of (E11.9).")
    assert codes_of(text) == set()


def test_an_assessment_label_line_does_not_end_the_assessment() -> None:
    """'Diagnosis: ... (I10)' inside an Assessment is still read as a coded diagnosis."""
    text = "## Assessment\nDiagnosis: hypertension (I10)\n## Plan\nrest\n"
    findings = check_consistency(text, [], RULES, section_names=("Assessment", "Plan"))
    assert [f.code for f in findings] == ["consistency.diagnosis-without-resource"]


def test_coded_diagnoses_are_read_from_labels_and_parentheses() -> None:
    """ICD-10 in parentheses or after a label, SNOMED after a label."""
    found = coded_diagnoses("Asthma (J45.909)\nICD-10-CM: I10\nSNOMED CT: 38341003\nB12 low\n")
    assert [code for _, code, _ in found] == ["J45.909", "I10", "38341003"]


def test_another_patients_reference_in_the_note_is_refused_at_submit() -> None:
    """A Patient reference that is not the draft's means context leaked across patients."""
    text = SOAP_NOTE.replace("Synthetic patient", "Synthetic patient (Patient/pat-999)")
    facts = DraftFacts(PATIENT, ENCOUNTER, content(text), authored_by_scribe=True)
    [finding] = check_version(facts, POLICY)
    assert finding.code == "content.other-patient"
    assert finding.refused_at_submit
    assert "pat-999" not in finding.message


def test_the_draft_patient_itself_may_be_named() -> None:
    """Naming the draft's own patient reference is not another patient."""
    assert (
        codes_of(SOAP_NOTE.replace("Synthetic patient", f"Synthetic patient ({PATIENT})")) == set()
    )


def test_required_bindings_catch_what_the_models_accept() -> None:
    """Status 'bogus' and a clinicalStatus from the wrong system are binding violations."""
    observation = {"resourceType": "Observation", "status": "bogus", "code": {"text": "x"}}
    condition = {"resourceType": "Condition", "clinicalStatus": {"coding": [{"code": "active"}]}}
    assert [v.location for v in check_bindings(observation, location="r")] == ["r.status"]
    assert [v.location for v in check_bindings(condition, location="r")] == ["r.clinicalStatus"]


def test_data_type_bindings_apply_wherever_the_type_appears() -> None:
    """Quantity.comparator and Timing.repeat.periodUnit are checked in any resource."""
    request = {
        "resourceType": "MedicationRequest",
        "dosageInstruction": [
            {
                "timing": {"repeat": {"period": 1, "periodUnit": "fortnight"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "comparator": "about"}}],
            }
        ],
    }
    locations = sorted(v.location for v in check_bindings(request, location="r"))
    assert locations == [
        "r.dosageInstruction[0].doseAndRate[0].doseQuantity.comparator",
        "r.dosageInstruction[0].timing.repeat.periodUnit",
    ]


def test_outbound_form_fills_what_chartgate_owns_and_keeps_what_was_sent() -> None:
    """Subject and the MedicationRequest's status/intent come from chartgate when absent."""
    from datetime import UTC, datetime  # noqa: PLC0415

    sent = {"resourceType": "MedicationRequest", "status": "bogus"}
    out = outbound_resource(
        sent,
        patient=PATIENT,
        encounter=ENCOUNTER,
        author="Practitioner/p",
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert out["subject"] == {"reference": PATIENT}
    assert (out["status"], out["intent"]) == ("bogus", "proposal")
    assert sent == {"resourceType": "MedicationRequest", "status": "bogus"}


def test_warnings_need_acknowledgement_and_errors_cannot_get_it() -> None:
    """A verdict accepts acknowledged warnings only."""
    warning = Finding.warning("content.unfinished-marker", "note.text", "a marker")
    error = Finding.error("section.missing", "note.text", "no plan")
    assert not Verdict.of([warning]).accepted
    assert Verdict.of([warning], [warning.key]).accepted
    assert not Verdict.of([error], [error.key]).accepted
    assert Verdict.of([warning], [warning.key, "other@x"]).acknowledged == (warning.key,)


def test_findings_keep_errors_first_and_drop_exact_duplicates() -> None:
    """Order and de-duplication of what the API shows."""
    warning = Finding.warning("unit.not-ucum", "resources[0].valueQuantity", "no code")
    error = Finding.error("section.missing", "note.text", "no plan")
    assert Verdict.of([warning, error, warning]).findings == (error, warning)


def test_every_finding_maps_to_an_operation_outcome_issue() -> None:
    """The issue carries the finding code in details and the location as expression."""
    issue = Finding.error("binding.invalid-code", "resources[0].status", "bad").as_issue()
    assert issue["code"] == "code-invalid"
    assert issue["details"]["coding"][0]["code"] == "binding.invalid-code"
    assert issue["expression"] == ["resources[0].status"]


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("extra_forbidden", "submission.unknown-field"),
        ("missing", "submission.missing-field"),
        ("utf8_invalid", "encoding.not-utf8"),
        ("string_unicode", "encoding.not-utf8"),
        ("string_too_long", "submission.invalid-value"),
    ],
)
def test_submission_schema_errors_have_finding_codes(kind: str, code: str) -> None:
    """The API's 400/422 schema refusals name a finding code too."""
    assert submission_finding_code(kind) == code


def test_heading_styles_are_recorded() -> None:
    """Markdown, bold and label headings are told apart (the assessment span uses it)."""
    found = sections("## A\nx\n**B:** y\nC: z\n")
    assert [(s.heading, s.style) for s in found] == [
        ("A", "markdown"), ("B", "bold"), ("C", "label")
    ]  # fmt: skip
