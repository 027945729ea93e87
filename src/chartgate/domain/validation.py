r"""Validation before commit: every pure rule a draft version must pass, as findings.

What is checked here (the FHIR schema itself is checked by ``adapters/fhir_models.py``,
behind the ``ResourceSchema`` port, because ``fhir.resources`` is heavy):

- text is Unicode that UTF-8 can carry, without control characters (a lone surrogate
  from ``"\\ud800"`` in JSON would otherwise fail only when the note is rendered);
- FHIR JSON rules (http://hl7.org/fhir/R4/json.html): no empty objects, arrays or strings,
  no ``null``; required bindings (``domain/bindings.py``); code and unit shapes
  (``domain/codes.py``);
- the write-back policy as data: protected fields the scribe may never set, field
  allowlists of ``auto-write`` resources, required sections per note type, disallowed
  content, and the note's size;
- another patient: a reference to a Patient that is not the draft's, in the narrative or in
  a structured resource, or a structured resource whose subject is someone else;
- narrative/structured consistency (``domain/consistency.py``).

US Core DocumentReference rules on the note chartgate builds, and the outbound form of a
structured proposal, are in ``domain/note_document.py``.

Which finding blocks where is described in ``domain/findings.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chartgate.domain import codes
from chartgate.domain.bindings import check_bindings
from chartgate.domain.consent import consent_sentence_findings
from chartgate.domain.consistency import ConsistencyRules, check_consistency
from chartgate.domain.findings import Finding, Stage
from chartgate.domain.policy import (
    DOCUMENT_REFERENCE,
    Mode,
    ResourceRule,
    Severity,
    WritebackPolicy,
)
from chartgate.domain.sections import find_section
from chartgate.domain.structured import OWNED, owned_mismatches
from chartgate.domain.submission import VersionContent

_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]+)?$")
_PATIENT_IN_TEXT = re.compile(r"\bPatient/([A-Za-z0-9\-.]{1,64})")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_OFFSETS = 5

SUBJECT_ELEMENTS: Final = ("subject", "patient")
"""Where a structured resource names its patient."""


@dataclass(frozen=True, slots=True)
class DraftFacts:
    """One version to validate, with the draft's patient and encounter."""

    patient: str
    encounter: str
    content: VersionContent
    authored_by_scribe: bool
    # The note texts the scribe (the model) wrote in this draft's earlier versions: a
    # clinician's version still carrying a consent sentence from them is refused.
    model_texts: tuple[str, ...] = ()
    clinician: str | None = None
    """The approving clinician's fhirUser; None before approval (``Practitioner/pending``)."""


def check_version(facts: DraftFacts, policy: WritebackPolicy) -> list[Finding]:
    """Every pure rule over one version (no schema: see the ``ResourceSchema`` port)."""
    note = facts.content.note
    findings = list(_text_findings(facts))
    findings.extend(_size_findings(note.text, policy.validation.max_note_bytes))
    findings.extend(_disallowed_content(facts, policy))
    findings.extend(_other_patient_in_text(note.text, facts.patient))
    # Consent is evidence: from a record, never from a model (``domain/consent.py``).
    if facts.authored_by_scribe:
        findings.extend(consent_sentence_findings(note.text))
    elif facts.model_texts:
        findings.extend(consent_sentence_findings(note.text, model_texts=facts.model_texts))
    sections = _required_sections(policy, note.type)
    findings.extend(
        Finding.error(
            "section.missing",
            "note.text",
            f"required section '{name}' of note type {note.type} is missing",
        )
        for name in sections
        if find_section(note.text, name) is None
    )
    for index, resource in enumerate(facts.content.resources):
        findings.extend(_resource_findings(index, resource, facts, policy))
    rules = ConsistencyRules(
        synonyms=policy.validation.synonyms,
        narrative_only_marker=policy.validation.narrative_only_marker,
    )
    findings.extend(
        check_consistency(note.text, facts.content.resources, rules, section_names=sections)
    )
    return findings


def _required_sections(policy: WritebackPolicy, note_type: str) -> tuple[str, ...]:
    rule = policy.resources.get(DOCUMENT_REFERENCE)
    note = (rule.note_types or {}).get(note_type) if rule else None
    return note.required_sections if note else ()


# --- text ----------------------------------------------------------------------------------


def strings(node: Any, where: str) -> Iterator[tuple[str, str]]:  # noqa: ANN401 - JSON
    """Every string value (and key) of a JSON value, with its location."""
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, Mapping):
        for key, child in node.items():
            yield f"{where}.{key}", str(key)
            yield from strings(child, f"{where}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from strings(child, f"{where}[{index}]")


def _all_strings(facts: DraftFacts) -> Iterator[tuple[str, str]]:
    note = facts.content.note
    yield "note.title", note.title
    yield "note.text", note.text
    for index, resource in enumerate(facts.content.resources):
        yield from strings(resource, f"resources[{index}]")


def _text_findings(facts: DraftFacts) -> Iterator[Finding]:
    for where, value in _all_strings(facts):
        if _SURROGATE.search(value):
            yield Finding.error(
                "encoding.not-utf8",
                where,
                "text holds a lone UTF-16 surrogate: it cannot be encoded as UTF-8",
                stage=Stage.SUBMIT,
            )
        if _CONTROL.search(value):
            yield Finding.error(
                "encoding.control-character",
                where,
                "text holds a control character FHIR strings do not allow",
                stage=Stage.SUBMIT,
            )


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (lone surrogates counted as 3 bytes, never raising)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _size_findings(text: str, limit: int) -> Iterator[Finding]:
    size = utf8_size(text)
    if size > limit:
        yield Finding.error(
            "uscore.attachment-too-large",
            "note.text",
            f"the note is {size} bytes in UTF-8, over the policy limit of {limit}",
            stage=Stage.SUBMIT,
        )


def _offsets(spans: Sequence[tuple[int, int]]) -> str:
    shown = ", ".join(str(start) for start, _ in spans[:_MAX_OFFSETS])
    return shown + (", ..." if len(spans) > _MAX_OFFSETS else "")


def _disallowed_content(facts: DraftFacts, policy: WritebackPolicy) -> Iterator[Finding]:
    for where, value in _all_strings(facts):
        for pattern in policy.disallowed_content:
            spans = pattern.spans(value)
            if not spans:
                continue
            stage = Stage.SUBMIT if pattern.block_at == "submit" else Stage.APPROVE
            yield Finding(
                f"content.{pattern.id}",
                pattern.severity,
                where,
                f"{pattern.description} (at offset {_offsets(spans)})",
                stage if pattern.severity is Severity.ERROR else Stage.APPROVE,
            )


def _other_patient_in_text(text: str, patient: str) -> Iterator[Finding]:
    own = patient.split("/", 1)[1]
    spans = [m.span() for m in _PATIENT_IN_TEXT.finditer(text) if m.group(1) != own]
    if spans:
        yield Finding.error(
            "content.other-patient",
            "note.text",
            f"the note names another patient's reference (at offset {_offsets(spans)})",
            stage=Stage.SUBMIT,
        )


# --- structured resources ------------------------------------------------------------------


def _resource_findings(
    index: int, resource: Mapping[str, Any], facts: DraftFacts, policy: WritebackPolicy
) -> Iterator[Finding]:
    where = f"resources[{index}]"
    yield from json_rule_findings(resource, where)
    for violation in check_bindings(resource, location=where):
        yield Finding.error(
            "binding.invalid-code", violation.location, violation.message, stage=Stage.SUBMIT
        )
    yield from code_findings(resource, where)
    yield from _subject_findings(resource, where, facts.patient)
    rule = policy.resources.get(str(resource.get("resourceType")))
    if rule is None:
        return  # the write-back matrix refuses the type itself (PolicyDenied)
    if facts.authored_by_scribe:
        yield from _owned(resource, facts, where)
        owned = OWNED.get(str(resource.get("resourceType")), {})
        rest = {k: v for k, v in resource.items() if k not in owned}
        yield from _protected(rest, rule, where, "")
    if rule.mode is Mode.AUTO_WRITE:
        yield from _outside_allowlist(resource, rule, where, "")


def json_rule_findings(node: Any, where: str) -> Iterator[Finding]:  # noqa: ANN401 - JSON
    """FHIR JSON representation rules: no empty objects, arrays, strings or nulls."""
    empty = node is None or (isinstance(node, str | Mapping | list) and len(node) == 0)
    if empty:
        yield Finding.error(
            "fhir.empty-element",
            where,
            "FHIR JSON has no empty or null elements (http://hl7.org/fhir/R4/json.html)",
            stage=Stage.SUBMIT,
        )
    elif isinstance(node, Mapping):
        for key, child in node.items():
            yield from json_rule_findings(child, f"{where}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from json_rule_findings(child, f"{where}[{index}]")


def code_findings(node: Any, where: str) -> Iterator[Finding]:  # noqa: ANN401 - JSON
    """Code-system shape of every Coding, UCUM shape of every Quantity."""
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from code_findings(child, f"{where}[{index}]")
        return
    if not isinstance(node, Mapping):
        return
    system, code = node.get("system"), node.get("code")
    if _is_quantity(node):
        yield from _unit_findings(node, where)
    elif isinstance(system, str) and isinstance(code, str):
        problem = codes.code_problem(system, code)
        if problem:
            yield Finding.error(
                codes.FINDING_CODES[system],
                f"{where}.code",
                f"{codes.SYSTEM_NAMES[system]} code {code} {problem}",
                stage=Stage.SUBMIT,
            )
    for key, child in node.items():
        if isinstance(child, Mapping | list) and key != "contained":
            yield from code_findings(child, f"{where}.{key}")


def _is_quantity(node: Mapping[str, Any]) -> bool:
    value = node.get("value")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return numeric or "unit" in node or "comparator" in node


def _unit_findings(node: Mapping[str, Any], where: str) -> Iterator[Finding]:
    system, code = node.get("system"), node.get("code")
    if system == codes.UCUM and isinstance(code, str):
        problem = codes.ucum_problem(code)
        if problem:
            yield Finding.error(
                "unit.invalid-ucum",
                f"{where}.code",
                f"unit code {problem}",
                stage=Stage.SUBMIT,
            )
    elif system is None and code is None and "unit" in node:
        yield Finding.warning(
            "unit.not-ucum",
            where,
            f"the quantity's unit has no UCUM code ({codes.UCUM})",
        )


def _subject_findings(resource: Mapping[str, Any], where: str, patient: str) -> Iterator[Finding]:
    for key in SUBJECT_ELEMENTS:
        reference = resource.get(key)
        named = reference.get("reference") if isinstance(reference, Mapping) else None
        if named is not None and named != patient:
            yield Finding.error(
                "content.other-patient",
                f"{where}.{key}",
                f"{resource.get('resourceType')}.{key} is not the draft's patient",
                stage=Stage.SUBMIT,
            )
    own = patient.split("/", 1)[1]
    for location, value in _references(resource, where, top=True):
        match = _PATIENT_REF.search(value)
        if match and match.group(1) != own:
            yield Finding.error(
                "content.other-patient",
                location,
                "a reference names a Patient who is not the draft's patient",
                stage=Stage.SUBMIT,
            )


def _references(node: Any, where: str, *, top: bool = False) -> Iterator[tuple[str, str]]:  # noqa: ANN401
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from _references(child, f"{where}[{index}]")
        return
    if not isinstance(node, Mapping):
        return
    if isinstance(node.get("reference"), str):
        yield f"{where}.reference", node["reference"]
    for key, child in node.items():
        if top and key in SUBJECT_ELEMENTS:
            continue  # judged by the subject rule, with its own message
        if isinstance(child, Mapping | list):
            yield from _references(child, f"{where}.{key}")


def _owned(resource: Mapping[str, Any], facts: DraftFacts, where: str) -> Iterator[Finding]:
    """Elements the gateway fills (``domain/structured.OWNED``): ours or nothing.

    A scribe value equal to the draft's own is accepted (chartgate writes the same); another
    is refused at submission. The clinician is known only at approval: there a recorder,
    asserter or requester that is not the approving clinician blocks approval.
    """
    for element, known in owned_mismatches(
        resource, patient=facts.patient, encounter=facts.encounter, clinician=facts.clinician
    ):
        yield Finding.error(
            "policy.owned-field-differs",
            f"{where}.{element}",
            f"{resource.get('resourceType')}.{element} is filled by chartgate from the draft;"
            " the scribe's value differs",
            stage=Stage.SUBMIT if known else Stage.APPROVE,
        )


def _element(key: str) -> str:
    return key.removeprefix("_")  # "_status" extends "status"


def _protected(
    node: Mapping[str, Any], rule: ResourceRule, where: str, path: str
) -> Iterator[Finding]:
    for key, child in node.items():
        if key == "resourceType":
            continue
        element = f"{path}.{_element(key)}" if path else _element(key)
        location = f"{where}.{key}"
        if rule.protects(element):
            yield Finding.error(
                "policy.protected-field",
                location,
                f"the scribe may not set {element} (protected by the write-back policy)",
                stage=Stage.SUBMIT,
            )
        else:
            for item_location, item in _items(child, location):
                yield from _protected(item, rule, item_location, element)


def _items(node: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:  # noqa: ANN401
    if isinstance(node, Mapping):
        yield where, node
    elif isinstance(node, list):
        for index, child in enumerate(node):
            if isinstance(child, Mapping):
                yield f"{where}[{index}]", child


def _outside_allowlist(
    node: Mapping[str, Any], rule: ResourceRule, where: str, path: str
) -> Iterator[Finding]:
    for key, child in node.items():
        if key == "resourceType":
            continue
        element = f"{path}.{_element(key)}" if path else _element(key)
        location = f"{where}.{key}"
        if rule.allows(element) or rule.protects(element):
            continue  # allowed, or already a protected-field finding
        prefix = element + "."
        deeper = any(allowed.startswith(prefix) for allowed in rule.allowed_fields)
        if deeper and isinstance(child, Mapping | list):
            for item_location, item in _items(child, location):
                yield from _outside_allowlist(item, rule, item_location, element)
            continue
        yield Finding.error(
            "policy.field-not-allowed",
            location,
            f"{element} is outside the auto-write allowlist of {node.get('resourceType', 'it')}",
            stage=Stage.SUBMIT,
        )


# --- the submission schema (pydantic) as findings ----------------------------------------------

_SUBMISSION_CODES: Final = {
    "extra_forbidden": "submission.unknown-field",
    "missing": "submission.missing-field",
    "json_invalid": "encoding.malformed-json",
    "utf8_invalid": "encoding.not-utf8",
    "string_unicode": "encoding.not-utf8",  # a lone surrogate such as "\ud800" in JSON
}


def submission_finding_code(error_type: str) -> str:
    """The finding code for one pydantic error type of the submission schema."""
    return _SUBMISSION_CODES.get(error_type, "submission.invalid-value")


def submission_findings(errors: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Pydantic errors of ``DraftSubmission`` as findings (messages never carry the input)."""
    out: list[Finding] = []
    for error in errors:
        location = ""
        for part in error.get("loc", ()):
            if part == "body":
                continue
            location += (
                f"[{part}]" if isinstance(part, int) else (f".{part}" if location else str(part))
            )
        out.append(
            Finding.error(
                submission_finding_code(str(error.get("type", ""))),
                location or "body",
                str(error.get("msg", "invalid")),
                stage=Stage.SUBMIT,
            )
        )
    return out
