"""The AI Transparency IG as it stands now: AIAST label and AI-Provenance, rule by rule."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_documents_provenance import facts, note_write

from chartgate.domain.ai_transparency import check_ai_label, check_ai_provenance
from chartgate.domain.documents import build_document_reference
from chartgate.domain.provenance import build_provenance

REPO = Path(__file__).parents[2]
AIT_CS = "http://hl7.org/fhir/uv/aitransparency/CodeSystem"


def _codes(findings: list[Any]) -> set[str]:
    return {f.code for f in findings}


def test_what_chartgate_builds_passes_every_rule() -> None:
    """The note and its Provenance as built today break no AI Transparency rule."""
    assert check_ai_provenance(build_provenance(facts())) == []
    assert check_ai_label(build_document_reference(note_write()), where="DocumentReference") == []


def _broken(change: Any) -> set[str]:
    provenance = copy.deepcopy(build_provenance(facts()))
    change(provenance)
    return _codes(check_ai_provenance(provenance))


@pytest.mark.parametrize(
    ("rule", "change"),
    [
        ("ai.label-missing", lambda p: p["meta"].pop("security")),
        ("ai.target", lambda p: p.pop("target")),
        ("ai.reason", lambda p: p.pop("reason")),
        ("ai.agent", lambda p: p["contained"][0].pop("type")),
        (
            "ai.agent-type",
            lambda p: p["agent"][0]["type"]["coding"].append(p["agent"][1]["type"]["coding"][0]),
        ),
        ("ai.agent-role", lambda p: p["agent"][0].pop("role")),
        ("ai.verifier", lambda p: p["agent"].pop(1)),
        ("ai.input-prompt", lambda p: p["entity"][2].update(role="source")),
    ],
)
def test_each_ai_provenance_rule_is_checked(rule: str, change: Any) -> None:
    """Breaking one element rule of AI-Provenance gives exactly that rule's finding."""
    assert _broken(change) == {rule}


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (f"{AIT_CS}/AddedProvenanceCS", "CLINAST" + "_AIRPT"),  # split: see the grep test
        (f"{AIT_CS}/AddedProvenanceCS", "AIAST" + "_CLINRPT"),
        ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "AI" + "RPT"),
    ],
)
def test_a_removed_ballot_code_is_refused(system: str, code: str) -> None:
    """A label HL7 removed in reconciliation is a finding wherever it appears."""
    document = build_document_reference(note_write())
    document["meta"]["security"].append({"system": system, "code": code})
    assert _codes(check_ai_label(document, where="DocumentReference")) == {"ai.removed-code"}


def test_no_removed_ai_code_appears_anywhere_in_the_repository() -> None:
    """No tracked file, tests included, spells the removed ballot codes (git grep)."""
    # The needles are built from parts so that this file does not match itself.
    needles = ["CLINAST" + "_AIRPT", "AIAST" + "_CLINRPT"]
    found = subprocess.run(
        ["git", "grep", "-n", "-e", needles[0], "-e", needles[1]],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 1, found.stdout  # 1: no match


def test_a_removed_code_is_located_by_its_path_in_document_order() -> None:
    """Each removed code is named by its element path (lists by index), in document order."""
    system = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
    document = build_document_reference(note_write())
    document["meta"]["security"].append({"system": system, "code": "AI" + "RPT"})
    document["type"]["coding"].append({"system": system, "code": "AI" + "RPT"})
    found = check_ai_label(document, where="DocumentReference")
    assert [f.location for f in found] == [
        "DocumentReference.meta.security[1].code",
        "DocumentReference.type.coding[1].code",
    ]
