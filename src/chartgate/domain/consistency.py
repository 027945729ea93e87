"""Narrative and structured data must say the same thing.

A note that lists a diagnosis the structured Conditions lack (or a Condition the note never
mentions) puts two different records in one chart: billing and decision support read the
structured data, clinicians read the note. Two rules, both errors that block approval:

- every structured Condition, MedicationRequest, AllergyIntolerance and Observation is
  mentioned in the narrative, by one of its code displays, its ``text`` or a synonym
  configured in the policy (``validation.synonyms``, keyed ``system|code``);
- every diagnosis in the Assessment section that carries a code (``Type 2 diabetes
  (E11.9)``, ``ICD-10-CM: E11.9``, ``SNOMED: 44054006``) has a Condition with that code,
  or its line carries the policy's narrative-only mark (default ``narrative only``).

Matching ignores case, punctuation and spacing. Messages name codes, never text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chartgate.domain import codes
from chartgate.domain.findings import Finding
from chartgate.domain.sections import Section, normalize_heading, sections

MENTIONED_TYPES: Final = {
    "Condition": "code",
    "AllergyIntolerance": "code",
    "Observation": "code",
    "MedicationRequest": "medicationCodeableConcept",
}
"""Structured types the narrative must mention, and the element that names each."""

ASSESSMENT_WORDS: Final = ("assessment", "impression", "diagnoses", "diagnosis")
"""A section whose heading contains one of these holds the diagnoses."""

_ICD_IN_TEXT = re.compile(
    r"(?:\bICD[- ]?10(?:[- ]?CM)?\s*:?\s*(?P<icd_label>[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)\b)"
    r"|(?:\(\s*(?P<icd_paren>[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)\s*\))"
)
_SNOMED_IN_TEXT = re.compile(
    r"\b(?:SNOMED(?:[- ]?CT)?|SCTID)\s*:?\s*(?P<sct>[0-9]{6,18})\b", re.IGNORECASE
)
_NON_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True, slots=True)
class ConsistencyRules:
    """The configurable part: synonyms per ``system|code`` and the narrative-only mark."""

    synonyms: Mapping[str, Sequence[str]]
    narrative_only_marker: str = "narrative only"


def check_consistency(
    text: str,
    resources: Sequence[Mapping[str, Any]],
    rules: ConsistencyRules,
    *,
    section_names: Iterable[str] = (),
) -> list[Finding]:
    """Both consistency rules over one version's narrative and structured resources."""
    findings = list(_unmentioned_resources(text, resources, rules))
    findings.extend(_uncoded_twins(text, resources, rules, section_names=tuple(section_names)))
    return findings


def _squash(text: str) -> str:
    return " " + " ".join(_NON_WORD.split(text.lower())).strip() + " "


def names_of(resource: Mapping[str, Any], rules: ConsistencyRules) -> list[str]:
    """Every name by which the narrative may mention ``resource``."""
    element = MENTIONED_TYPES.get(str(resource.get("resourceType")))
    if element is None:
        return []
    concept = resource.get(element)
    names: list[str] = []
    if resource.get("resourceType") == "MedicationRequest" and not isinstance(concept, Mapping):
        reference = resource.get("medicationReference")
        if isinstance(reference, Mapping) and isinstance(reference.get("display"), str):
            names.append(reference["display"])
        return names
    if not isinstance(concept, Mapping):
        return names
    if isinstance(concept.get("text"), str):
        names.append(concept["text"])
    for coding in concept.get("coding", []):
        if not isinstance(coding, Mapping):
            continue
        if isinstance(coding.get("display"), str):
            names.append(coding["display"])
        key = f"{coding.get('system')}|{coding.get('code')}"
        names.extend(rules.synonyms.get(key, ()))
    return names


def _code_label(resource: Mapping[str, Any]) -> str:
    element = MENTIONED_TYPES.get(str(resource.get("resourceType")), "code")
    concept = resource.get(element)
    if isinstance(concept, Mapping):
        for coding in concept.get("coding", []):
            if isinstance(coding, Mapping) and coding.get("code"):
                system = codes.SYSTEM_NAMES.get(str(coding.get("system")), "code")
                return f"{system} {coding['code']}"
    return "without a code"


def _unmentioned_resources(
    text: str, resources: Sequence[Mapping[str, Any]], rules: ConsistencyRules
) -> Iterable[Finding]:
    narrative = _squash(text)
    for index, resource in enumerate(resources):
        kind = str(resource.get("resourceType"))
        element = MENTIONED_TYPES.get(kind)
        if element is None:
            continue
        names = [name for name in names_of(resource, rules) if _squash(name).strip()]
        if any(_squash(name) in narrative for name in names):
            continue
        how = "by display, text or synonym" if names else "(it has no display, text or synonym)"
        yield Finding.error(
            "consistency.not-in-narrative",
            f"resources[{index}].{element}",
            f"{kind} {_code_label(resource)} is not mentioned in the note {how}",
        )


def coded_diagnoses(section_text: str) -> list[tuple[str, str, str]]:
    """``(system, code, line)`` for every coded diagnosis written in ``section_text``."""
    found: list[tuple[str, str, str]] = []
    for line in section_text.splitlines():
        for match in _ICD_IN_TEXT.finditer(line):
            code = match.group("icd_label") or match.group("icd_paren")
            found.append((codes.ICD10CM, code, line))
        found.extend((codes.SNOMED, m.group("sct"), line) for m in _SNOMED_IN_TEXT.finditer(line))
    return found


def _structured_codes(resources: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for resource in resources:
        if resource.get("resourceType") != "Condition":
            continue
        concept = resource.get("code")
        for coding in concept.get("coding", []) if isinstance(concept, Mapping) else []:
            if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
                out.add(_comparable(str(coding.get("system")), coding["code"]))
    return out


def _comparable(system: str, code: str) -> tuple[str, str]:
    return (system, codes.normalize_icd10cm(code) if system == codes.ICD10CM else code.strip())


def assessment_sections(text: str, section_names: Sequence[str] = ()) -> list[tuple[int, int]]:
    """Spans of the sections that hold diagnoses.

    A span runs to the next Markdown or bold heading, or to the next template section; a
    ``Label:`` line inside an assessment (``Diagnosis: ...``) does not end it.
    """
    known = {normalize_heading(name) for name in section_names}
    found = sections(text)
    spans: list[tuple[int, int]] = []
    for index, section in enumerate(found):
        if not any(word in normalize_heading(section.heading) for word in ASSESSMENT_WORDS):
            continue
        end = len(text)
        for later in found[index + 1 :]:
            if _ends_assessment(later, known):
                end = later.start
                break
        spans.append((section.body_start, end))
    return spans


def _ends_assessment(section: Section, known: set[str]) -> bool:
    heading = normalize_heading(section.heading)
    if any(word in heading for word in ASSESSMENT_WORDS):
        return True
    return section.style != "label" or heading in known


def _uncoded_twins(
    text: str,
    resources: Sequence[Mapping[str, Any]],
    rules: ConsistencyRules,
    *,
    section_names: Sequence[str],
) -> Iterable[Finding]:
    structured = _structured_codes(resources)
    marker = _squash(rules.narrative_only_marker)
    reported: set[tuple[str, str]] = set()
    for start, end in assessment_sections(text, section_names):
        for system, code, line in coded_diagnoses(text[start:end]):
            key = _comparable(system, code)
            if key in structured or key in reported or marker in _squash(line):
                continue
            reported.add(key)
            name = codes.SYSTEM_NAMES[system]
            yield Finding.error(
                "consistency.diagnosis-without-resource",
                "note.text",
                f"coded diagnosis {name} {code} in the assessment has no structured Condition"
                f" and no '{rules.narrative_only_marker}' mark",
            )
