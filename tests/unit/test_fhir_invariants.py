"""The R4 invariants of what chartgate sends are checked before approval (issue 13).

The ``fhir.resources`` models do not evaluate FHIRPath constraints: Medplum's validator found
an ``ait-1`` error (an AllergyIntolerance without clinicalStatus) that they passed. The
invariants of the R4 StructureDefinitions (copied, CC0, in ``adapters/fhir_invariants_r4.json``)
are evaluated with ``fhirpathpy``; a violated one refuses approval and nothing is queued.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chartgate.adapters import fhir_invariants
from chartgate.adapters.fhir_invariants import INVARIANTS, R4Invariants, invariant_types
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.domain.errors import ValidationFailed
from chartgate.domain.structured import (
    StructuredWrite,
    build_structured,
    retraction_of_structured,
)
from structured_desk import desk
from structured_items import (
    ALLERGY,
    CONDITION,
    MEDICATION_REQUEST,
    OBSERVATION,
    structured_submission,
)

CHECKS = (R4BSchema(), R4Invariants())
WRITE = StructuredWrite("wb-1", "Patient/pat-001", "Encounter/enc-001", "Practitioner/prac-001")


def _without(resource: dict[str, Any], element: str) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    out.pop(element)
    return out


RESOLVED = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "resolved",
        }
    ]
}
BROKEN = [
    ("ait-1", _without(ALLERGY, "clinicalStatus")),
    ("con-4", {**CONDITION, "abatementDateTime": "2026-11-01"}),
    ("obs-6", {**OBSERVATION, "dataAbsentReason": {"text": "not measured"}}),
    (
        "per-1",
        {**OBSERVATION, "effectivePeriod": {"start": "2026-12-02", "end": "2026-12-01"}},
    ),
    ("qty-3", {**OBSERVATION, "valueQuantity": {"value": 37.1, "code": "Cel"}}),
    ("ref-1", {**CONDITION, "evidence": [{"detail": [{"reference": "#not-contained"}]}]}),
    ("ele-1", {**CONDITION, "code": {"coding": [{}]}}),
    ("dom-3", {**CONDITION, "contained": [{"resourceType": "Practitioner", "id": "p1"}]}),
]


@pytest.mark.parametrize(("key", "resource"), BROKEN, ids=[k for k, _ in BROKEN])
def test_a_violated_invariant_is_an_error_finding_naming_its_key(
    key: str, resource: dict[str, Any]
) -> None:
    """Each broken resource yields an ``invariant.<key>`` error at the approval stage."""
    found = R4Invariants().check(build_structured(resource, WRITE), location="resources[0]")
    assert [f.code for f in found] == [f"invariant.{key}"]
    (finding,) = found
    assert finding.is_error
    assert not finding.refused_at_submit  # stored and shown; approval is what it refuses
    assert finding.message.startswith(f"{key}: ")
    issue = finding.as_issue()
    assert issue["code"] == "invariant"
    assert issue["details"]["coding"][0]["code"] == f"invariant.{key}"


def test_the_models_alone_pass_what_the_invariants_refuse() -> None:
    """The bug: the R4B models accept an AllergyIntolerance that breaks ait-1."""
    broken = build_structured(_without(ALLERGY, "clinicalStatus"), WRITE)
    assert R4BSchema().check(broken, location="x") == []
    assert [f.code for f in R4Invariants().check(broken, location="x")] == ["invariant.ait-1"]


@pytest.mark.parametrize("resource", [CONDITION, ALLERGY, OBSERVATION, MEDICATION_REQUEST])
def test_what_chartgate_writes_and_retracts_holds_every_invariant(
    resource: dict[str, Any],
) -> None:
    """The four structured types as written, and as retracted (ait-2, con-5), pass."""
    written = build_structured(resource, WRITE)
    assert R4Invariants().check(written, location="x") == []
    retracted = retraction_of_structured(written, resource_id="r-1", version_id="1")
    assert R4Invariants().check(retracted, location="x") == []


def test_every_copied_invariant_compiles_and_runs_on_an_empty_resource() -> None:
    """All 6 types, every error invariant: none is unevaluable (an unchecked one is a finding)."""
    assert invariant_types() == {
        "DocumentReference",
        "Provenance",
        "Condition",
        "AllergyIntolerance",
        "Observation",
        "MedicationRequest",
    }
    for kind in invariant_types():
        codes = [f.code for f in R4Invariants().check({"resourceType": kind}, location=kind)]
        assert "invariant.unevaluable" not in codes, kind
    assert {row[2] for row in INVARIANTS} >= {"ait-1", "ait-2", "con-4", "con-5", "obs-6"}


def test_approval_is_refused_on_a_broken_invariant_and_nothing_is_queued() -> None:
    """A draft breaking ait-1 is stored; approving it raises 422 naming ait-1; no write-back."""
    d = desk(checks=CHECKS)
    draft_id = d.submit(structured_submission(_without(ALLERGY, "clinicalStatus")))
    with pytest.raises(ValidationFailed) as refused:
        d.approve(draft_id)
    assert "invariant.ait-1" in {f.code for f in refused.value.findings}
    assert d.records(draft_id) == []


def test_a_draft_that_holds_every_invariant_is_approved_as_before() -> None:
    """The four structured proposals, the note and its Provenance pass: approval queues."""
    d = desk(checks=CHECKS)
    draft_id = d.submit(structured_submission())
    d.approve(draft_id)
    assert len(d.records(draft_id)) == 5


def test_a_contained_resource_referred_to_holds_dom_3() -> None:
    """dom-3 holds when the contained resource is referred to as #id (as the Provenance does)."""
    referred = {
        **CONDITION,
        "contained": [{"resourceType": "Practitioner", "id": "p1"}],
        "evidence": [{"detail": [{"reference": "#p1"}]}],
    }
    assert R4Invariants().check(build_structured(referred, WRITE), location="x") == []


SKIPPED_OR_NOT = [
    *(resource for _, resource in BROKEN),
    ALLERGY,
    CONDITION,
    OBSERVATION,
    MEDICATION_REQUEST,
    {**OBSERVATION, "component": [{"valueQuantity": {"value": 1, "code": "Cel"}}]},
    {**OBSERVATION, "_status": {"extension": [{"url": "urn:e", "valueString": "x"}]}},
    {
        "resourceType": "Provenance",
        "target": [{"reference": "#t"}],
        "agent": [{"who": {"reference": "#a"}, "onBehalfOf": {"reference": "#o"}}],
        "recorded": "2026-12-02T19:00:00Z",
    },
]


@pytest.mark.parametrize("resource", SKIPPED_OR_NOT)
def test_skipping_contexts_that_select_nothing_finds_the_same(
    resource: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invariant whose context path is absent is not run: the findings are the same."""
    found = sorted(f.code for f in R4Invariants().check(resource, location="x"))
    monkeypatch.setattr(fhir_invariants, "_selects", lambda *_: True)  # run them all
    assert found == sorted(f.code for f in R4Invariants().check(resource, location="x"))


def test_a_context_through_a_choice_or_a_list_is_still_run() -> None:
    """``component.value.ofType(Quantity)`` is found through the list and the choice name."""
    path = fhir_invariants._context_path(
        "Observation", "Observation.component.value.ofType(Quantity)"
    )
    assert fhir_invariants._selects({"component": [{}, {"valueQuantity": {}}]}, path)
    assert not fhir_invariants._selects({"component": [{"valueString": "x"}]}, path)
