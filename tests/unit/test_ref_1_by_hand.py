"""ref-1 by hand finds exactly what the FHIRPath engine finds (issue 20).

``ref-1`` (a ``#id`` reference needs a contained resource with that id) ran through
``fhirpathpy`` on every approval's probe and on every save: ~7 % of an approval's CPU. It is
now evaluated by a JSON walk where the JSON is plain and by the engine where it is not
(``fhir_invariants._unresolved_local_reference``). These tests run both over every resource
the corpus drafts make chartgate check (``tests/data``), what is built from them, the approval
probe, and generated variants of every ref-1 context, and require the same findings, in the
same order, with the same locations and texts.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from bad_drafts import BAD_DRAFTS, GOOD_DRAFTS
from chartgate.adapters import fhir_invariants
from chartgate.adapters.fhir_invariants import INVARIANTS, R4Invariants, invariant_types
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.domain.findings import Finding
from chartgate.domain.submission import DraftSubmission
from chartgate.policy import load_default_policy
from chartgate.service.validation import (
    APPROVAL_VALUE_INVARIANTS,
    DraftValidator,
    Preview,
    approval_values_probe,
)

AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
WRITEBACK = "3f1c2a9e-0000-4000-8000-000000000001"

REF_1_CONTEXTS = [(row[0], row[1]) for row in INVARIANTS if row[2] == "ref-1"]

REFERENCE_VALUES: list[Any] = [
    "#c1",
    "#c2",
    "#missing",
    "#",
    "##c1",
    "#C1",
    "# c1",
    "#c1 ",
    "Patient/pat-001",
    "urn:uuid:1",
    "",
    "c1",
    None,
    5,
    True,
    ["#c1"],
    {"reference": "#c1"},
]

REFERENCES: list[Any] = [
    *({"reference": value} for value in REFERENCE_VALUES),
    {"identifier": {"system": "urn:s", "value": "1"}},
    {"display": "Dr. Synthetic"},
    {"reference": "#missing", "display": "Dr. Synthetic"},
    {"reference": "#c1", "identifier": {"value": "1"}, "type": "Practitioner"},
    {},
    {"id": "r1"},
    {"extension": [{"url": "urn:e", "valueString": "x"}]},
    {"_reference": {"extension": [{"url": "urn:e", "valueString": "x"}]}},
    {"reference": "#missing", "_reference": {"id": "x"}},
    {"reference": "#c1", "_reference": {"id": "x"}},
    "#c1",
    None,
    7,
]

CONTAINED: list[Any] = [
    None,
    [],
    [{"resourceType": "Practitioner", "id": "c1"}],
    [{"resourceType": "Practitioner", "id": "c1"}, {"resourceType": "Patient", "id": "c2"}],
    [{"resourceType": "Practitioner"}],
    [{"resourceType": "Practitioner", "id": "C1"}],
    [{"resourceType": "Practitioner", "id": 5}],
    [{"resourceType": "Practitioner", "id": None}],
    [{"resourceType": "Practitioner", "_id": {"extension": [{"url": "urn:e"}]}}],
    [{"resourceType": "Practitioner", "id": "c1", "_id": {"id": "x"}}],
    {"resourceType": "Practitioner", "id": "c1"},
    ["c1"],
    [{}],
]


def _findings(resource: Mapping[str, Any], *, keys: frozenset[str] | None) -> list[Finding]:
    return R4Invariants().check(resource, location="x", keys=keys)


def _both(
    resource: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch, *, keys: frozenset[str] | None
) -> tuple[list[Finding], list[Finding]]:
    """(by hand where plain, engine only) findings of one resource."""
    by_hand = _findings(resource, keys=keys)
    with monkeypatch.context() as patched:
        patched.setattr(fhir_invariants, "_BY_HAND", {})
        engine = _findings(resource, keys=keys)
    return by_hand, engine


def _place(steps: list[str], value: Any, *, as_list: bool) -> dict[str, Any]:
    """``{steps[0]: ... {steps[-1]: value}}``, every level a list of two when ``as_list``."""
    node: Any = value
    for step in reversed(steps):
        node = {step: [node, copy.deepcopy(node)] if as_list else node}
    return node  # type: ignore[no-any-return]


FULL_PRODUCT = {
    "Provenance.agent.who",  # through a list
    "MedicationRequest.reported.ofType(Reference)",  # a choice
    "DocumentReference.context.related",  # a list under an object
}
"""Contexts run with every reference and contained shape; the others with the two usual ones."""


def _generated() -> Iterator[dict[str, Any]]:
    """Every ref-1 context of every type, with each reference shape and contained list."""
    for kind, context in REF_1_CONTEXTS:
        steps = [name for name, _ in fhir_invariants._context_path(kind, context)]
        contained_shapes = CONTAINED if context in FULL_PRODUCT else CONTAINED[:3]
        for reference, contained, as_list in itertools.product(
            REFERENCES, contained_shapes, (False, True)
        ):
            resource = {"resourceType": kind, **_place(steps, reference, as_list=as_list)}
            if contained is not None:
                resource["contained"] = copy.deepcopy(contained)
            yield resource
        # An extension-only step on the way, a null step, a step that is a string.
        underscored = [f"_{steps[0]}", *steps[1:]]
        yield {"resourceType": kind, **_place(underscored, {"reference": "#x"}, as_list=False)}
        yield {"resourceType": kind, steps[0]: None}
        yield {"resourceType": kind, steps[0]: "#x"}
        yield {"resourceType": kind, steps[0]: [[{"reference": "#x"}]]}


class _Recording:
    """An invariants check that keeps every resource it is asked about."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self._inner = R4Invariants()

    @property
    def version(self) -> str:
        return self._inner.version

    def check(
        self, resource: Mapping[str, Any], *, location: str, keys: frozenset[str] | None = None
    ) -> list[Finding]:
        self.seen.append(copy.deepcopy(dict(resource)))
        return self._inner.check(resource, location=location, keys=keys)


def _resources_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every object with a resourceType the invariants know, at any depth."""
    if isinstance(node, dict):
        if node.get("resourceType") in invariant_types():
            yield node
        for child in node.values():
            yield from _resources_in(child)
    elif isinstance(node, list):
        for child in node:
            yield from _resources_in(child)


def _corpus() -> list[dict[str, Any]]:
    """What the corpus drafts are and make chartgate check: submitted, built, previewed."""
    recorder = _Recording()
    validator = DraftValidator(load_default_policy(), R4BSchema(), recorder)
    out: list[dict[str, Any]] = []
    for path in sorted([*GOOD_DRAFTS.glob("*.json"), *BAD_DRAFTS.glob("*.json")]):
        try:
            body = json.loads(path.read_bytes())
        except ValueError:
            continue  # the non-UTF-8 case: nothing is checked
        out.extend(_resources_in(body))
        try:
            submission = DraftSubmission.model_validate(
                {k: v for k, v in body.items() if not k.startswith("_")}
            )
        except ValidationError:
            continue
        validator.submission_findings(submission, Preview(author="Practitioner/p-1", at=AT))
    out.extend(
        approval_values_probe(author=author, at=AT, writeback_id=WRITEBACK)
        for author in ("Practitioner/prac-001", "#x", "#", "urn:uuid:1", "#p 1")
    )
    return out + recorder.seen


CORPUS = _corpus()


def test_the_corpus_reaches_the_checked_types() -> None:
    """The corpus is not empty: notes, Provenance and the structured types are all in it."""
    kinds = {r["resourceType"] for r in CORPUS}
    assert {"DocumentReference", "Provenance", "Condition", "Observation"} <= kinds
    assert len(CORPUS) > 100


@pytest.mark.parametrize("keys", [None, APPROVAL_VALUE_INVARIANTS])
def test_every_corpus_resource_gets_the_engines_findings(
    keys: frozenset[str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """good_drafts, bad_drafts, what they build and the approval probe: the same findings."""
    for resource in CORPUS:
        by_hand, engine = _both(resource, monkeypatch, keys=keys)
        assert by_hand == engine, resource


def test_every_generated_variant_gets_the_engines_findings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every ref-1 context, every reference and contained shape, single and in lists."""
    variants = list(_generated())
    broken = 0
    for resource in variants:
        by_hand, engine = _both(resource, monkeypatch, keys=frozenset({"ref-1", "ele-1"}))
        assert by_hand == engine, resource
        broken += any(f.code == "invariant.ref-1" for f in engine)
    assert broken > len(REF_1_CONTEXTS)  # the variants do break ref-1, in every context


def test_plain_json_is_decided_without_the_engine() -> None:
    """The corpus's plain resources never reach fhirpathpy for ref-1 (the point of the cut)."""
    paths = [fhir_invariants._context_path(kind, context) for kind, context in REF_1_CONTEXTS]
    for resource in CORPUS:
        for path in paths:
            assert fhir_invariants._unresolved_local_reference(resource, path) is not None


def test_the_approval_probe_runs_no_engine_for_its_invariants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ref-1 on the probe is decided by hand: an engine that fails would show as a finding."""
    probe = approval_values_probe(author="#not-contained", at=AT, writeback_id=WRITEBACK)

    def failing(*_: object) -> list[bool]:
        raise AssertionError("the engine ran")

    compiled = tuple(
        (context, key, human, path, failing)
        for context, key, human, path, _ in fhir_invariants._compiled("Provenance")
    )
    monkeypatch.setattr(fhir_invariants, "_compiled", lambda _kind: compiled)
    codes = [f.code for f in _findings(probe, keys=APPROVAL_VALUE_INVARIANTS)]
    assert codes == ["invariant.ref-1"]
