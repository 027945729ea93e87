"""Consent evidence: the record, its digest, the system-written statement and the rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from chartgate.domain.consent import (
    Consenter,
    ConsentMethod,
    ConsentRecord,
    RecordingScope,
    consent_sentence_findings,
    model_consent_spans,
    sent_text_matches,
    suffix_hash,
    system_suffix,
)
from chartgate.domain.errors import PolicyDenied
from chartgate.domain.findings import Verdict
from chartgate.domain.policy.consent_rules import Audience, ConsentRule, DisclosureRule
from chartgate.domain.submission import Note, VersionContent
from chartgate.policy import load_default_policy
from chartgate.service.consent import judge_consent, with_system_text

AT = datetime(2026, 11, 20, 8, 55, tzinfo=UTC)
RECORD = ConsentRecord(
    id="c1",
    tenant="clinic-a",
    patient="Patient/p1",
    encounter="Encounter/e1",
    consenter=Consenter.PATIENT,
    method=ConsentMethod.VERBAL,
    consented_at=AT,
    jurisdiction="US-CA",
    scope=(RecordingScope.AUDIO_RECORDING, RecordingScope.AI_DOCUMENTATION),
    captured_by="Practitioner/prac-001",
    recorded_by="scribe:s",
    recorded_at=AT,
)


def test_the_record_round_trips_and_its_digest_is_stable() -> None:
    """What is stored is what is hashed; the same record hashes the same."""
    again = ConsentRecord.from_evidence(RECORD.evidence())
    assert again == RECORD
    assert again.digest == RECORD.digest
    assert RECORD.digest.startswith("sha256:")


def test_the_statement_is_rendered_from_the_record() -> None:
    """The policy's sentence names who, how, when, where, the scope and who captured it."""
    text = RECORD.statement(load_default_policy().policy.consent.statement)
    for part in ("patient", "verbal", "2026-11-20", "US-CA", "audio-recording",
                 "Practitioner/prac-001", "written by chartgate"):  # fmt: skip
        assert part in text


@pytest.mark.parametrize(
    "sentence",
    [
        "Patient consented to the recording of this visit.",
        "Verbal consent was obtained from the patient.",
        "Consent was obtained prior to the visit.",
        "I attest that I personally examined the patient.",
        "The patient's guardian gave permission for recording.",
    ],
)
def test_model_written_consent_or_attestation_blocks_approval(sentence: str) -> None:
    """A consent or attestation statement in model text is an error: no acknowledging it."""
    text = f"## Subjective\nCough.\n{sentence}\n"
    findings = consent_sentence_findings(text)
    assert [f.key for f in findings] == ["content.model-consent-statement@note.text"]
    assert findings[0].is_error
    assert sentence not in findings[0].message
    [(start, end)] = model_consent_spans(text)
    assert text[start:end] == sentence  # the page quotes exactly the sentence
    verdict = Verdict.of(findings, acknowledged=[findings[0].key])
    assert not verdict.accepted


MODEL = "## Plan\nStart metformin. Patient consented to the recording of this visit. Recheck.\n"


def test_a_clinicians_version_keeping_the_model_sentence_is_refused() -> None:
    """An edit elsewhere leaves the model's sentence in: still the model's, still refused."""
    edited = MODEL.replace("Recheck.", "Recheck A1c in 3 months.")
    findings = consent_sentence_findings(edited, model_texts=(MODEL,))
    assert [f.is_error for f in findings] == [True]
    sentence = "Patient consented to the recording of this visit."
    where = f"at offset {edited.index(sentence)} ({len(sentence)} characters)"
    assert where in findings[0].message


def test_a_sentence_the_clinician_wrote_or_rewrote_is_theirs() -> None:
    """Removed, reworded or written by the clinician: nothing to refuse."""
    removed = MODEL.replace(" Patient consented to the recording of this visit.", "")
    reworded = MODEL.replace("the recording of this visit", "audio recording today")
    own = "## Plan\nStart metformin. Verbal consent was obtained by me before recording.\n"
    for text in (removed, reworded, own):
        assert consent_sentence_findings(text, model_texts=(MODEL,)) == [], text


def test_each_model_sentence_is_its_own_finding() -> None:
    """Two sentences, two findings, each pointing at its own offset."""
    text = "Patient consented to recording. Cough for 3 days. I attest to the above.\n"
    findings = consent_sentence_findings(text)
    assert len(findings) == 2
    assert [span[0] for span in model_consent_spans(text)] == [0, 50]


def test_ordinary_clinical_text_is_not_flagged() -> None:
    """Words near consent, without a statement of it, pass."""
    assert consent_sentence_findings("Patient agrees with the plan to start metformin.") == []
    assert consent_sentence_findings("Patient agreed to the recording.") != []
    assert consent_sentence_findings("Discussed diet. Follow up in 3 months.") == []


def test_consent_is_required_where_the_policy_says() -> None:
    """A listed state or tenant requires it; elsewhere, or without a jurisdiction, not."""
    rule = ConsentRule(required_jurisdictions=("US-CA",), required_tenants=("clinic-z",))
    assert rule.required(tenant="clinic-a", jurisdiction="US-CA")
    assert not rule.required(tenant="clinic-a", jurisdiction="US-TX")
    assert not rule.required(tenant="clinic-a", jurisdiction=None)
    assert rule.required(tenant="clinic-z", jurisdiction=None)
    assert ConsentRule(required_jurisdictions=("US",)).required(tenant="t", jurisdiction="US-TX")


def test_a_statement_placeholder_must_be_known() -> None:
    """A typo in the statement template is a policy error, not a runtime KeyError."""
    with pytest.raises(ValidationError, match="unknown placeholder"):
        ConsentRule(statement="Consent by {consentor}.")


def test_disclosure_rules_apply_by_jurisdiction_and_audience() -> None:
    """The shipped California rule governs notes there, and names its source."""
    rules = load_default_policy().policy.disclosures
    ca = next(rule for rule in rules if rule.id == "ca-ab3030")
    assert ca.applies("US-CA", Audience.NOTE)
    assert not ca.applies("US-TX", Audience.NOTE)
    assert "1339.75" in ca.source
    rule = DisclosureRule(
        id="x", jurisdictions=("US-UT",), applies_to=(Audience.PATIENT_COMMUNICATION,),
        source="Utah Code 13-72a", text="AI was used.",
    )  # fmt: skip
    assert not rule.applies("US-UT", Audience.NOTE)


def test_approval_without_required_consent_is_refused() -> None:
    """In a consent jurisdiction, no record means no approval, with a clear reason."""
    policy = load_default_policy()
    with pytest.raises(PolicyDenied, match="consent to ambient documentation must be on record"):
        judge_consent(policy, None, tenant="clinic-a", jurisdiction="US-CA")
    free = judge_consent(policy, None, tenant="clinic-a", jurisdiction="US-TX")
    assert free.consent_digest is None
    assert free.appended_text == ""


def test_a_record_becomes_system_written_text_and_disclosures_are_recorded() -> None:
    """The statement comes from the record; the CA disclosure is exempt by the approval."""
    outcome = judge_consent(load_default_policy(), RECORD, tenant="clinic-a", jurisdiction="US-CA")
    assert outcome.consent_digest == RECORD.digest
    assert outcome.appended_text.startswith("## Consent (recorded by chartgate)\n")
    assert outcome.disclosures == [
        {
            "rule": "ca-ab3030",
            "source": "California Health and Safety Code §1339.75 (AB 3030, 2024)",
            "outcome": "exempt: reviewed and approved by a licensed provider",
        }
    ]
    content = VersionContent(
        note=Note(type="11506-3", title="Progress note", text="## Plan\nRest.")
    )
    sent = with_system_text(content, outcome)
    assert sent.note.text.startswith("## Plan\nRest.\n\n## Consent (recorded by chartgate)")
    assert content.note.text == "## Plan\nRest."  # the approved version is untouched


def test_a_disclosure_rule_without_exemption_adds_its_line() -> None:
    """Where no review exempts it, the rule's own text is written, and recorded as added."""
    loaded = load_default_policy()
    rule = DisclosureRule(
        id="ut-ai", jurisdictions=("US-UT",), applies_to=(Audience.NOTE,),
        source="Utah Code 13-72a-201", text="Generative AI assisted with this note.",
    )  # fmt: skip
    policy = dataclasses.replace(
        loaded, policy=loaded.policy.model_copy(update={"disclosures": (rule,)})
    )
    outcome = judge_consent(policy, None, tenant="clinic-a", jurisdiction="US-UT")
    assert "## AI assistance disclosure\nGenerative AI assisted with this note." in (
        outcome.appended_text
    )
    assert outcome.disclosures[0]["outcome"] == "disclosure line added"


def test_the_worker_accepts_only_chartgates_own_appended_text() -> None:
    """Approved text plus exactly the recorded suffix passes; any other change does not."""
    approved = "## Plan\nRest.\n"
    appended = "## Consent (recorded by chartgate)\nGiven verbally."
    recorded = suffix_hash(appended)
    sent = approved.rstrip() + system_suffix(appended)
    assert sent_text_matches(sent, approved, recorded)
    assert sent_text_matches(approved, approved, None)
    assert not sent_text_matches(approved, approved, recorded)  # the text went missing
    assert not sent_text_matches(sent, approved, None)
    assert not sent_text_matches(sent.replace("verbally", "in writing"), approved, recorded)
    assert not sent_text_matches(sent.replace("Rest", "Run"), approved, recorded)
