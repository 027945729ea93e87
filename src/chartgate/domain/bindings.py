"""Required value-set bindings (FHIR R4 4.0.1) of the elements chartgate sends or accepts.

The model validators of ``fhir.resources`` (and Medplum's ``validateResource``) accept
``"status": "bogus"``: they check a ``code``'s shape, not its value set (ECOSYSTEM.md). A
wrong status changes what a resource *means* (``entered-in-error`` vs ``final``), so every
required binding of the elements we handle is checked here, against the R4 value sets.
Each path is ``Resource.element[.element]``; arrays are walked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Binding:
    """A required binding: the codes allowed, and the system when the element is a concept."""

    codes: frozenset[str]
    system: str | None = None  # set for CodeableConcept elements, None for ``code``
    spec: str = ""


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


_R4 = "http://hl7.org/fhir/R4/"
_TERM = "http://terminology.hl7.org/CodeSystem/"

_COMPOSITION_STATUS = _codes("preliminary final amended entered-in-error")
_DOCUMENT_RELATIONSHIP = _codes("replaces transforms signs appends")

REQUIRED: Final[dict[str, Binding]] = {
    # DocumentReference (http://hl7.org/fhir/R4/documentreference.html)
    "DocumentReference.status": Binding(
        _codes("current superseded entered-in-error"),
        spec=_R4 + "valueset-document-reference-status.html",
    ),
    "DocumentReference.docStatus": Binding(
        _COMPOSITION_STATUS, spec=_R4 + "valueset-composition-status.html"
    ),
    "DocumentReference.relatesTo.code": Binding(
        _DOCUMENT_RELATIONSHIP, spec=_R4 + "valueset-document-relationship-type.html"
    ),
    # Composition (http://hl7.org/fhir/R4/composition.html)
    "Composition.status": Binding(
        _COMPOSITION_STATUS, spec=_R4 + "valueset-composition-status.html"
    ),
    "Composition.confidentiality": Binding(
        _codes("U L M N R V"), spec=_R4 + "v3/ConfidentialityClassification/vs.html"
    ),
    "Composition.attester.mode": Binding(
        _codes("personal professional legal official"),
        spec=_R4 + "valueset-composition-attestation-mode.html",
    ),
    "Composition.relatesTo.code": Binding(
        _DOCUMENT_RELATIONSHIP, spec=_R4 + "valueset-document-relationship-type.html"
    ),
    "Composition.section.mode": Binding(
        _codes("working snapshot changes"), spec=_R4 + "valueset-list-mode.html"
    ),
    # Condition (http://hl7.org/fhir/R4/condition.html)
    "Condition.clinicalStatus": Binding(
        _codes("active recurrence relapse inactive remission resolved"),
        system=_TERM + "condition-clinical",
        spec=_R4 + "valueset-condition-clinical.html",
    ),
    "Condition.verificationStatus": Binding(
        _codes("unconfirmed provisional differential confirmed refuted entered-in-error"),
        system=_TERM + "condition-ver-status",
        spec=_R4 + "valueset-condition-ver-status.html",
    ),
    # Observation (http://hl7.org/fhir/R4/observation.html)
    "Observation.status": Binding(
        _codes("registered preliminary final amended corrected cancelled entered-in-error unknown"),
        spec=_R4 + "valueset-observation-status.html",
    ),
    # MedicationRequest (http://hl7.org/fhir/R4/medicationrequest.html)
    "MedicationRequest.status": Binding(
        _codes("active on-hold cancelled completed entered-in-error stopped draft unknown"),
        spec=_R4 + "valueset-medicationrequest-status.html",
    ),
    "MedicationRequest.intent": Binding(
        _codes(
            "proposal plan order original-order reflex-order filler-order instance-order option"
        ),
        spec=_R4 + "valueset-medicationrequest-intent.html",
    ),
    "MedicationRequest.priority": Binding(
        _codes("routine urgent asap stat"), spec=_R4 + "valueset-request-priority.html"
    ),
    # AllergyIntolerance (http://hl7.org/fhir/R4/allergyintolerance.html)
    "AllergyIntolerance.clinicalStatus": Binding(
        _codes("active inactive resolved"),
        system=_TERM + "allergyintolerance-clinical",
        spec=_R4 + "valueset-allergyintolerance-clinical.html",
    ),
    "AllergyIntolerance.verificationStatus": Binding(
        _codes("unconfirmed confirmed refuted entered-in-error"),
        system=_TERM + "allergyintolerance-verification",
        spec=_R4 + "valueset-allergyintolerance-verification.html",
    ),
    "AllergyIntolerance.type": Binding(
        _codes("allergy intolerance"), spec=_R4 + "valueset-allergy-intolerance-type.html"
    ),
    "AllergyIntolerance.category": Binding(
        _codes("food medication environment biologic"),
        spec=_R4 + "valueset-allergy-intolerance-category.html",
    ),
    "AllergyIntolerance.criticality": Binding(
        _codes("low high unable-to-assess"),
        spec=_R4 + "valueset-allergy-intolerance-criticality.html",
    ),
    "AllergyIntolerance.reaction.severity": Binding(
        _codes("mild moderate severe"), spec=_R4 + "valueset-reaction-event-severity.html"
    ),
    # Immunization (http://hl7.org/fhir/R4/immunization.html)
    "Immunization.status": Binding(
        _codes("completed entered-in-error not-done"),
        spec=_R4 + "valueset-immunization-status.html",
    ),
    # Provenance (http://hl7.org/fhir/R4/provenance.html)
    "Provenance.entity.role": Binding(
        _codes("derivation revision quotation source removal"),
        spec=_R4 + "valueset-provenance-entity-role.html",
    ),
}

# Data types that carry a required binding wherever they appear.
DATATYPE_REQUIRED: Final[dict[str, Binding]] = {
    "Quantity.comparator": Binding(
        _codes("< <= >= >"), spec=_R4 + "valueset-quantity-comparator.html"
    ),
    "Narrative.status": Binding(
        _codes("generated extensions additional empty"), spec=_R4 + "valueset-narrative-status.html"
    ),
    "Identifier.use": Binding(
        _codes("usual official temp secondary old"), spec=_R4 + "valueset-identifier-use.html"
    ),
    "Timing.repeat.periodUnit": Binding(
        _codes("s min h d wk mo a"), spec=_R4 + "valueset-units-of-time.html"
    ),
    "Timing.repeat.durationUnit": Binding(
        _codes("s min h d wk mo a"), spec=_R4 + "valueset-units-of-time.html"
    ),
    "Timing.repeat.dayOfWeek": Binding(
        _codes("mon tue wed thu fri sat sun"), spec=_R4 + "valueset-days-of-week.html"
    ),
}


@dataclass(frozen=True, slots=True)
class BindingViolation:
    """One value outside its required value set."""

    location: str
    element: str
    message: str


def check_bindings(resource: Mapping[str, Any], *, location: str) -> list[BindingViolation]:
    """Every required-binding violation in ``resource`` (located under ``location``)."""
    kind = resource.get("resourceType")
    out: list[BindingViolation] = []
    for element, binding in REQUIRED.items():
        resource_type, _, path = element.partition(".")
        if resource_type != kind:
            continue
        for where, value in _values(resource, path.split("."), location):
            out.extend(_judge(binding, element, where, value))
    out.extend(_datatype_bindings(resource, location))
    return out


def _values(node: Any, parts: list[str], where: str) -> Iterator[tuple[str, Any]]:  # noqa: ANN401
    if not parts:
        yield where, node
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _values(item, parts, f"{where}[{index}]")
        return
    if isinstance(node, Mapping) and parts[0] in node:
        yield from _values(node[parts[0]], parts[1:], f"{where}.{parts[0]}")


def _judge(binding: Binding, element: str, where: str, value: Any) -> list[BindingViolation]:  # noqa: ANN401
    if isinstance(value, list):
        return [
            v
            for i, item in enumerate(value)
            for v in _judge(binding, element, f"{where}[{i}]", item)
        ]
    if binding.system is None:
        if isinstance(value, str) and value not in binding.codes:
            return [BindingViolation(where, element, f"{element} is not a code of {binding.spec}")]
        return []
    if not isinstance(value, Mapping):
        return []  # a wrong type is the schema check's finding
    codings = [c for c in value.get("coding", []) if isinstance(c, Mapping)]
    from_system = [c for c in codings if c.get("system") == binding.system]
    if not from_system:
        return [
            BindingViolation(
                where, element, f"{element} needs a coding from {binding.system} ({binding.spec})"
            )
        ]
    return [
        BindingViolation(
            f"{where}.coding[{codings.index(c)}].code",
            element,
            f"{element} is not a code of {binding.spec}",
        )
        for c in from_system
        if c.get("code") not in binding.codes
    ]


def _datatype_checks(node: Mapping[str, Any], parent: str) -> list[tuple[str, str]]:
    """Which data-type bindings apply to ``node``, found under the key ``parent``."""
    checks: list[tuple[str, str]] = []
    if "comparator" in node:
        checks.append(("Quantity.comparator", "comparator"))
    if parent == "text" and "div" in node and "status" in node:
        checks.append(("Narrative.status", "status"))
    if parent in {"identifier", "masterIdentifier"} and "use" in node:
        checks.append(("Identifier.use", "use"))
    if parent == "repeat":
        checks.extend(
            (f"Timing.repeat.{key}", key)
            for key in ("periodUnit", "durationUnit", "dayOfWeek")
            if key in node
        )
    return checks


def _datatype_bindings(node: Any, where: str, parent: str = "") -> Iterator[BindingViolation]:  # noqa: ANN401
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _datatype_bindings(item, f"{where}[{index}]", parent)
        return
    if not isinstance(node, Mapping):
        return
    for binding_name, key in _datatype_checks(node, parent):
        yield from _judge(
            DATATYPE_REQUIRED[binding_name], binding_name, f"{where}.{key}", node[key]
        )
    for key, child in node.items():
        if isinstance(child, Mapping | list) and key != "contained":
            yield from _datatype_bindings(child, f"{where}.{key}", key)
