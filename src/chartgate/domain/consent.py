"""Consent evidence: who agreed to ambient documentation of an encounter, when and how.

A consent record is submitted by the scribe (inside its live session) or by the clinician; it
is stored encrypted and its content hash is recorded with the approval and in the Provenance.
The sentence the chart carries about consent is rendered here from the record with the
policy's template: it is never taken from model output. A consent or attestation sentence the
model wrote, still unchanged in the version being approved, is an error finding: approval is
refused until the clinician removes or rewrites it (a 2025 suit alleged a scribe
"auto-inserted false consent statements" into notes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from chartgate.domain.findings import Finding
from chartgate.domain.hashing import content_hash


class Consenter(StrEnum):
    """Who gave consent."""

    PATIENT = "patient"
    REPRESENTATIVE = "representative"


class ConsentMethod(StrEnum):
    """How consent was given."""

    VERBAL = "verbal"
    WRITTEN = "written"
    PORTAL = "portal"


class RecordingScope(StrEnum):
    """What the consent covers."""

    AUDIO_RECORDING = "audio-recording"
    TRANSCRIPTION = "transcription"
    AI_DOCUMENTATION = "ai-documentation"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentRecord:
    """One consent to ambient documentation of one encounter."""

    id: str
    tenant: str
    patient: str
    encounter: str
    consenter: Consenter
    method: ConsentMethod
    consented_at: datetime
    jurisdiction: str
    scope: tuple[RecordingScope, ...]
    captured_by: str  # who took the consent (a Practitioner reference or a role)
    recorded_by: str  # the principal that submitted it (``scribe:<client>``)
    recorded_at: datetime

    def evidence(self) -> dict[str, Any]:
        """The record as JSON: what is encrypted at rest and what the hash covers."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "patient": self.patient,
            "encounter": self.encounter,
            "consenter": self.consenter.value,
            "method": self.method.value,
            "consented_at": _iso(self.consented_at),
            "jurisdiction": self.jurisdiction,
            "scope": [item.value for item in self.scope],
            "captured_by": self.captured_by,
            "recorded_by": self.recorded_by,
            "recorded_at": _iso(self.recorded_at),
        }

    @classmethod
    def from_evidence(cls, data: dict[str, Any]) -> ConsentRecord:
        """Rebuild a record from ``evidence()`` (read back from the store)."""
        return cls(
            id=data["id"],
            tenant=data["tenant"],
            patient=data["patient"],
            encounter=data["encounter"],
            consenter=Consenter(data["consenter"]),
            method=ConsentMethod(data["method"]),
            consented_at=datetime.fromisoformat(data["consented_at"]),
            jurisdiction=data["jurisdiction"],
            scope=tuple(RecordingScope(item) for item in data["scope"]),
            captured_by=data["captured_by"],
            recorded_by=data["recorded_by"],
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
        )

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical evidence: what provenance and the ledger carry."""
        return content_hash(self.evidence())

    def statement(self, template: str) -> str:
        """The consent sentence chartgate writes into the chart (the policy's template)."""
        return template.format(
            consenter=self.consenter.value,
            method=self.method.value,
            date=self.consented_at.date().isoformat(),
            jurisdiction=self.jurisdiction,
            scope=", ".join(item.value for item in self.scope),
            captured_by=self.captured_by,
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


CONSENT_SECTION: Final = "Consent (recorded by chartgate)"
"""Heading of the system-written consent paragraph added to a note at approval."""

# Sentences that state consent or attest: the model may not write them (they are evidence,
# and evidence comes from records). Matched case-insensitively; offsets only in findings.
_CONSENT_SENTENCE: Final = re.compile(
    r"\b(?:patient|parent|guardian|representative|family)\b[^.\n]{0,60}?"
    r"\b(?:consent(?:s|ed)?|gave\s+(?:verbal\s+|written\s+)?(?:consent|permission)"
    r"|agree[sd]?\s+to\s+(?:the\s+)?(?:recording|be(?:ing)?\s+recorded|ambient|audio|ai\b))"
    r"|\bconsent\s+(?:was|has\s+been|is)\s+(?:obtained|given|documented|received)\b"
    r"|\b(?:verbal|written|informed)\s+consent\b"
    r"|\bI\s+(?:hereby\s+)?(?:attest|certify)\b"
    r"|\battestation\b",
    re.IGNORECASE,
)


_SENTENCE_END: Final = re.compile(r"[.!?](?=\s|$)|\n")
_MAX_SENTENCES: Final = 5


def model_consent_spans(
    text: str, model_texts: tuple[str, ...] | None = None
) -> list[tuple[int, int]]:
    """Where ``text`` carries a consent or attestation sentence the model wrote, unchanged.

    Each span is one whole sentence (from the previous sentence end or line break to the
    next) holding a consent or attestation statement. With ``model_texts`` (the scribe's
    versions of the draft) only sentences found word for word in one of them count: a
    sentence the clinician wrote or rewrote is the clinician's own. Without them the text is
    itself model-written and every such sentence counts.
    """
    spans: list[tuple[int, int]] = []
    model = [_words(t) for t in model_texts] if model_texts is not None else None
    for match in _CONSENT_SENTENCE.finditer(text):
        start, end = _sentence_around(text, match.start(), match.end())
        if spans and start < spans[-1][1]:
            continue  # the same sentence, matched twice
        sentence = _words(text[start:end])
        if model is None or any(sentence in other for other in model):
            spans.append((start, end))
    return spans


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    begin = 0
    for found in _SENTENCE_END.finditer(text, 0, start):
        begin = found.end()
    after = _SENTENCE_END.search(text, end)
    stop = after.end() if after is not None else len(text)
    while begin < stop and text[begin].isspace():
        begin += 1
    return begin, stop


def _words(text: str) -> str:
    return " ".join(text.split())


def consent_sentence_findings(
    text: str, *, model_texts: tuple[str, ...] | None = None, location: str = "note.text"
) -> list[Finding]:
    """An error per model-written consent or attestation sentence still in ``text``.

    Consent and attestation are evidence: the chart's consent text is written by chartgate
    from the consent record, never by the model. Approval is refused while such a sentence
    is in the note (it cannot be acknowledged away): the clinician removes it or rewrites it
    in their own words. Offsets only in the message (no note text); the reviewer page shows
    the sentence itself (``model_consent_spans``).
    """
    spans = model_consent_spans(text, model_texts)
    return [
        Finding.error(
            "content.model-consent-statement",
            location,
            f"model-written consent or attestation statement at offset {start}"
            f" ({end - start} characters), unchanged from the scribe's draft: consent text in"
            " the chart is written by chartgate from the consent record; remove the sentence"
            " or rewrite it in your own words",
        )
        for start, end in spans[:_MAX_SENTENCES]
    ]


def system_suffix(appended: str) -> str:
    """What chartgate adds after the approved note text (empty when nothing is added)."""
    return f"\n\n{appended}\n" if appended else ""


def suffix_hash(appended: str) -> str | None:
    """``sha256:<hex>`` of ``system_suffix(appended)``, kept with the approval."""
    return content_hash([system_suffix(appended)]) if appended else None


def sent_text_matches(sent: str, approved: str, system_text_hash: str | None) -> bool:
    """Whether the note about to be sent is the approved text, plus only chartgate's own text.

    The worker's integrity check: with no system text the two must be equal; with it, the
    sent text is the approved text (trailing space trimmed) followed by exactly the suffix
    whose hash the approval recorded.
    """
    if sent == approved:
        return system_text_hash is None
    if system_text_hash is None:
        return False
    head = approved.rstrip()
    if not sent.startswith(head):
        return False
    return content_hash([sent[len(head) :]]) == system_text_hash
