"""The approval-time values' probe runs only the invariants those values can reach (ADR 0032).

With a schema stamp, approval judges the approver's reference, the time and the write-back id
in a small Provenance probe. The FHIR invariants it runs there are the ones whose elements the
probe has (``APPROVAL_VALUE_INVARIANTS``); these tests prove, over the rules file, that every
other Provenance error invariant looks at an element the probe never has, and that a bad
approval-time value is refused as it was when every invariant ran.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from chartgate.adapters.fhir_invariants import INVARIANTS, R4Invariants
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.domain.errors import ValidationFailed
from chartgate.service.validation import APPROVAL_VALUE_INVARIANTS, approval_values_probe
from unit.test_use_cases import META, desk

AT = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)
WRITEBACK = "3f1c2a9e-0000-4000-8000-000000000001"
BAD_AUTHORS = ("#not-contained", "#", "Practitioner/p-1", "urn:uuid:1", "#p 1")


def _selects(node: Any, path: list[str]) -> bool:
    """Whether the dotted ``path`` (``ofType`` dropped) selects anything in ``node``."""
    if not path:
        return True
    if isinstance(node, list):
        return any(_selects(item, path) for item in node)
    if not isinstance(node, dict):
        return False
    return path[0] in node and _selects(node[path[0]], path[1:])


def _contained_only(expression: str) -> bool:
    """Whether every clause of ``expression`` reads ``contained`` and nothing else."""
    return all(c.strip().startswith("contained.") for c in re.split(r"\band\b", expression))


def test_every_other_provenance_invariant_looks_where_the_probe_has_nothing() -> None:
    """Each Provenance error invariant outside the set selects nothing in the probe.

    Its context is an element the probe lacks (extensions, onBehalfOf, occurred...), or it is
    a resource-level rule over ``contained`` (dom-2..dom-5), which the probe never has.
    """
    probe = approval_values_probe(author="#x", at=AT, writeback_id=WRITEBACK)
    assert "contained" not in probe
    skipped = []
    for kind, context, key, severity, _human, expression in INVARIANTS:
        if kind != "Provenance" or severity != "error" or key in APPROVAL_VALUE_INVARIANTS:
            continue
        path = re.sub(r"\.ofType\((\w+)\)", r"\1", context).split(".")[1:]
        if path:
            assert not _selects(probe, path), (key, context)
        else:
            assert _contained_only(expression) or key == "dom-3", (key, expression)
        skipped.append(key)
    assert {"dom-2", "dom-4", "dom-5", "ext-1", "per-1"} <= set(skipped)


def test_the_probe_still_reaches_ref_1_where_the_values_are() -> None:
    """The approver and the target are References in the probe: ref-1's contexts select them."""
    probe = approval_values_probe(author="#x", at=AT, writeback_id=WRITEBACK)
    contexts = {c for k, c, key, *_ in INVARIANTS if k == "Provenance" and key == "ref-1"}
    assert {"Provenance.target", "Provenance.agent.who"} <= contexts
    assert _selects(probe, ["target"])
    assert _selects(probe, ["agent", "who"])


@pytest.mark.parametrize("author", BAD_AUTHORS)
def test_the_restricted_check_finds_what_every_invariant_finds(author: str) -> None:
    """Over the probe, the few invariants give the same findings as all of them."""
    probe = approval_values_probe(author=author, at=AT, writeback_id=WRITEBACK)
    full = R4Invariants().check(probe, location="approval")
    some = R4Invariants().check(probe, location="approval", keys=APPROVAL_VALUE_INVARIANTS)
    assert some == full


def test_an_approver_reference_to_nothing_contained_is_still_refused_with_a_stamp() -> None:
    """A fhirUser of ``#not-contained`` breaks ref-1: the stamped approval is refused, unqueued."""
    d = desk(schema=R4BSchema(), invariants=R4Invariants())
    draft_id = d.submit()
    with pytest.raises(ValidationFailed) as refused:
        d.approvals.approve(
            d.clinician(fhir_user="#not-contained"), draft_id, expected_version=1, meta=META
        )
    found = {(f.code, f.location) for f in refused.value.findings}
    assert ("invariant.ref-1", "approval.agent.who") in found  # the stamped path's probe
    assert d.store.tables.writebacks == {}
