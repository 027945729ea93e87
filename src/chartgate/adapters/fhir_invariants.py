"""FHIR R4 invariants (FHIRPath constraints) of what chartgate sends, with ``fhirpathpy``.

The ``fhir.resources`` models check structure and types, not the invariants of the
StructureDefinitions (``ait-1``: an AllergyIntolerance needs a clinicalStatus unless it is
entered-in-error; ``con-4``, ``obs-6``, ``ref-1``, ``per-1``...). Medplum's validator found an
``ait-1`` error in test data that the models passed (issue 13). This adapter evaluates each
invariant of ``fhir_invariants_r4.json`` (copied from the R4 spec, CC0; package data) on its context
(``context.where((expression) = false)``: an element of the context for which the expression
is false breaks it; an absent context, or an expression that comes out empty on an element,
does not, as in the HL7 validators: ``ref-1`` on a Reference with an identifier only),
compiled once per process. ``hasValue()``, which fhirpathpy 2.2.4 lacks, is supplied here
(a single primitive value: true). Two invariants over every element of the resource are JSON
walks instead, where the engine's ``descendants()`` takes 20-50 ms per resource: ``ele-1``
(every element has a value or children: ``_empty_elements``, the same rule) and ``dom-3``
(each contained resource is referred to as ``#id`` from the resource, or refers to ``#``:
``_unreferred_contained``; a ``#id`` string anywhere counts, where the expression asks for a
reference, canonical, uri or url element, so it is at most that much more lenient).

A violated ``error`` invariant is an error finding at ``Stage.APPROVE``: a draft with one is
stored and shown with it, and approval is refused (422, the key in the OperationOutcome).
``warning`` invariants (dom-6, con-3) are not findings: the spec does not make them errors.
An expression the engine cannot evaluate on a resource is itself a finding
(``invariant.unevaluable``): an unchecked invariant is never taken as passed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from fhirpathpy import compile as compile_path
from fhirpathpy.models import models

from chartgate.domain.findings import Finding

UCUM: Final = "http://unitsofmeasure.org"
"""``%ucum`` in the R4 invariants (age-1, drt-1...)."""

_RULES: Final = Path(__file__).with_name("fhir_invariants_r4.json")
"""The invariants, generated from the R4 StructureDefinitions by ``scripts/fhir_invariants.py``
(its ``source`` and ``licence`` fields say where from: HL7, CC0)."""

Invariant = tuple[str, str, str, str, str, str]
"""(resource type, FHIRPath of the context, key, severity, human text, expression)."""


def _load(data: bytes) -> tuple[Invariant, ...]:
    rows = json.loads(data)["invariants"]
    return tuple((r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows)


_RULES_BYTES: Final = _RULES.read_bytes()
INVARIANTS: Final = _load(_RULES_BYTES)
_ELE_1: Final = next(row[4] for row in INVARIANTS if row[2] == "ele-1")
_ENGINE_VERSION: Final = metadata.version("fhirpathpy")
_RULES_DIGEST: Final = hashlib.sha256(Path(__file__).read_bytes() + _RULES_BYTES).hexdigest()[:16]


def _quiet(_label: str, _value: object) -> None:
    """``trace()`` in an invariant (dom-3) would print resource content: it says nothing."""


def _has_value(inputs: list[Any]) -> list[bool]:
    """FHIRPath ``hasValue()``: one primitive with a value (JSON: a string, number or boolean)."""
    return [len(inputs) == 1 and isinstance(inputs[0], str | int | float | bool | Decimal)]


_OPTIONS: Final = {
    "traceFn": _quiet,
    "userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}}},
}

_Path = tuple[tuple[str, ...], ...]
"""A context as JSON keys: per step, the keys that can hold it (``name`` or ``_name``)."""

_Compiled = tuple[str, str, str, _Path, Callable[..., Any]]

_STEP = re.compile(r"([A-Za-z]+)(?:\.ofType\(([A-Za-z]+)\))?")


@cache
def _compiled(kind: str) -> tuple[_Compiled, ...]:
    """The error invariants of ``kind``, compiled once: (context, key, human, path, function)."""
    return tuple(
        (
            context,
            key,
            human,
            _context_path(kind, context),
            compile_path(
                f"{context}.where(({expression}) = false).exists()", models["r4"], _OPTIONS
            ),
        )
        for resource_type, context, key, severity, human, expression in INVARIANTS
        if resource_type == kind and severity == "error" and key not in _WALKED
    )


def _context_path(kind: str, context: str) -> _Path:
    """The JSON keys the context steps through (empty: the resource itself).

    Every context of the rules file is a dotted path, a step perhaps ``.ofType(Type)`` (a
    choice element: ``valueQuantity``). A step is found under its name or, for a primitive
    with only extensions, ``_name``. A context whose path selects nothing in a resource holds
    there (``where`` over nothing is empty), so it is not run: ``_selects``.
    """
    rest = context.removeprefix(kind).lstrip(".")
    steps = []
    for match in _STEP.finditer(rest):
        name = match.group(1) + (match.group(2) or "")
        steps.append((name, f"_{name}"))
    return tuple(steps)


def _selects(node: Any, path: _Path) -> bool:  # noqa: ANN401 - JSON
    """Whether ``path`` may select anything in ``node`` (True when unsure: it is then run)."""
    if not path:
        return True
    if isinstance(node, list):
        return any(_selects(item, path) for item in node)
    if not isinstance(node, Mapping):
        return False
    return any(key in node and _selects(node[key], path[1:]) for key in path[0])


def _empty_elements(node: Any, where: str) -> list[str]:  # noqa: ANN401 - JSON
    """ele-1 over JSON: every element has a value, or children other than ``id``."""
    if isinstance(node, Mapping):
        if not any(k != "id" for k in node):
            return [where]
        return [p for k, v in node.items() for p in _empty_elements(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _empty_elements(v, f"{where}[{i}]")]
    return []


def _contained_ids(resource: Mapping[str, Any]) -> set[str] | None:
    """``%rootResource.contained.id`` as strings; None when not plain JSON (the engine decides)."""
    contained = resource.get("contained", [])
    if not isinstance(contained, list):
        return None
    ids: set[str] = set()
    for inner in contained:
        if not isinstance(inner, Mapping) or "_id" in inner:
            return None
        value = inner.get("id")
        if isinstance(value, str):
            ids.add(value)
        elif value is not None or "id" in inner:
            return None
    return ids


def _selected(resource: Mapping[str, Any], path: _Path) -> list[Mapping[str, Any]] | None:
    """The objects ``path`` selects in ``resource``, through lists; None when not plain JSON.

    Plain: every step found under its own name only (no ``_name``), each value an object or
    a list of objects.
    """
    nodes: list[Mapping[str, Any]] = [resource]
    for name, underscored in path:
        found: list[Mapping[str, Any]] = []
        for node in nodes:
            if underscored in node:
                return None
            if name not in node:
                continue
            value = node[name]
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, Mapping):
                    return None
                found.append(item)
        nodes = found
    return nodes


def _unresolved_local_reference(resource: Mapping[str, Any], path: _Path) -> bool | None:
    """ref-1 without the engine: does a Reference at ``path`` name a ``#id`` not contained?

    The same three-valued logic as the expression (``reference.startsWith('#').not() or
    (reference.substring(1) in %rootResource.contained.id)``, where an empty result holds):
    no ``reference`` holds (identifier or display only), one not starting with ``#`` holds,
    ``#`` alone holds (``substring(1)`` is empty), ``#x`` holds only when a contained resource
    has id ``x`` (compared exactly). None when the JSON is not plain (a ``_reference``, a
    non-string, an element that is not an object): the caller then runs the engine.
    ``tests/unit/test_ref_1_by_hand.py`` proves the same findings as the engine.
    """
    references = _selected(resource, path)
    ids = _contained_ids(resource)
    if references is None or ids is None:
        return None
    broken = False
    for reference in references:
        if "_reference" in reference:
            return None
        if "reference" not in reference:
            continue
        value = reference["reference"]
        if not isinstance(value, str):
            return None
        if len(value) > 1 and value.startswith("#") and value[1:] not in ids:
            broken = True
    return broken


_BY_HAND: Final = {"ref-1": _unresolved_local_reference}
"""Invariants evaluated by hand where the JSON is plain, by the engine where it is not."""

_WALKED: Final = frozenset({"ele-1", "dom-3"})
"""Invariants checked by a JSON walk (``R4Invariants.check``), not by the engine."""

_DOM_3: Final = next(row[4] for row in INVARIANTS if row[2] == "dom-3")


def _strings(node: Any) -> Iterator[str]:  # noqa: ANN401 - JSON
    """Every string value in ``node``, at any depth."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for child in node.values():
            yield from _strings(child)
    elif isinstance(node, list):
        for child in node:
            yield from _strings(child)


def _unreferred_contained(resource: Mapping[str, Any]) -> list[int]:
    """dom-3: the contained resources nothing refers to (by ``#id``) and that name no ``#``."""
    contained = resource.get("contained") or []
    if not isinstance(contained, list) or not contained:
        return []
    mentioned = set(_strings(resource))
    return [
        index
        for index, inner in enumerate(contained)
        if isinstance(inner, Mapping)
        and f"#{inner.get('id', '')}" not in mentioned
        and "#" not in set(_strings(inner))
    ]


_TYPES: Final = frozenset(row[0] for row in INVARIANTS)


def invariant_types() -> frozenset[str]:
    """The resource types whose invariants are evaluated."""
    return _TYPES


class R4Invariants:
    """The ``ResourceInvariants`` port: every R4 error invariant of one resource."""

    @property
    def version(self) -> str:
        """The engine's release and the digest of the rules (this module and the invariants).

        Part of every schema stamp (ADR 0032): a stamp made under other invariants or another
        engine is not proof under these.
        """
        return f"fhirpathpy {_ENGINE_VERSION}; invariants {_RULES_DIGEST}"

    def check(
        self, resource: Mapping[str, Any], *, location: str, keys: frozenset[str] | None = None
    ) -> list[Finding]:
        """One ``invariant.<key>`` error finding per violated invariant (none: all hold).

        ``keys``: only the invariants with these keys (None: every one). The approval-time
        values' probe asks for the few its values can reach (``APPROVAL_VALUE_INVARIANTS``).
        """
        kind = str(resource.get("resourceType"))
        if kind not in _TYPES:
            return []
        body = {k: v for k, v in resource.items() if k != "resourceType"}
        findings: list[Finding] = []
        if keys is None or "ele-1" in keys:
            findings.extend(
                Finding.error("invariant.ele-1", where, f"ele-1: {_ELE_1}")
                for where in _empty_elements(body, location)
            )
        if keys is None or "dom-3" in keys:
            findings.extend(
                Finding.error(
                    "invariant.dom-3", f"{location}.contained[{index}]", f"dom-3: {_DOM_3}"
                )
                for index in _unreferred_contained(resource)
            )
        environment = {"resource": resource, "rootResource": resource, "ucum": UCUM}
        for context, key, human, path, evaluate in _compiled(kind):
            if not _selects(resource, path):
                continue
            if keys is not None and key not in keys:
                continue
            where = location + context.removeprefix(kind)
            found = _violation(resource, environment, (key, human), path, evaluate)
            if found is not None:
                findings.append(Finding.error(found[0], where, found[1]))
        return findings


def _violation(
    resource: Mapping[str, Any],
    environment: dict[str, Any],
    rule: tuple[str, str],
    path: _Path,
    evaluate: Callable[..., Any],
) -> tuple[str, str] | None:
    """(code, message) when the invariant ``rule`` (key, text) is broken or cannot be run.

    By hand where ``_BY_HAND`` has it and the JSON is plain, else by the engine.
    """
    key, human = rule
    by_hand = _BY_HAND.get(key)
    broken = None if by_hand is None else by_hand(resource, path)
    if broken is None:
        try:
            broken = evaluate(resource, environment) == [True]
        except Exception as exc:  # noqa: BLE001 - the engine's errors are not typed
            why = f"{key} could not be evaluated ({type(exc).__name__}): not checked"
            return "invariant.unevaluable", why
    return (f"invariant.{key}", f"{key}: {human}") if broken else None
