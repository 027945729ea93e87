"""Structured resources a draft proposes: which are written, in what order, and how.

A draft's Condition / AllergyIntolerance / Observation / MedicationRequest proposals follow
the write-back matrix (``policy/writeback.yaml``). One marked ``clinician-approved`` (and
listed for the tenant's EHR profile, whose ``writable_types`` must take it) is written after
approval as its own write-back: exactly once, with its own Provenance, through the same
outcome table as the note (``domain/outcomes.py``; "the document" of its steps is this
resource). One marked ``draft-only`` is shown to the clinician and never leaves chartgate.

Order (issue 13, "target-first in a defined order"): the note first; then the structured
resources by type (``WRITE_ORDER``: problems, allergies, observations, then orders) and,
within a type, in the draft's order. Each starts only once the one before it is settled
(``Writeback.after_id``); when the note itself is not written, none of them is sent.

The elements chartgate owns (``OWNED``: subject/patient, encounter, recorder, asserter,
requester) are filled from the draft and the approving clinician. A scribe value equal to
ours is accepted; a different one is refused at submission (``domain/validation.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from chartgate.domain import fhir_codes as fc

WRITE_ORDER: Final[tuple[str, ...]] = (
    "Condition",
    "AllergyIntolerance",
    "Observation",
    "MedicationRequest",
)
"""The structured types chartgate can write, in the order they are written after the note."""

SETTLED_STATES: Final[frozenset[str]] = frozenset({"committed", "partial", "rejected", "conflict"})
"""A part is sent only once the write-back before it (``after_id``) is in one of these."""

NOTE_NOT_WRITTEN: Final[frozenset[str]] = frozenset({"rejected", "conflict"})
"""The note's write-back ended without the note in the chart: its parts are never sent."""

PATIENT, ENCOUNTER, CLINICIAN = "patient", "encounter", "clinician"

OWNED: Final[Mapping[str, Mapping[str, str]]] = {
    "Condition": {
        "subject": PATIENT,
        "encounter": ENCOUNTER,
        "recorder": CLINICIAN,
        "asserter": CLINICIAN,
    },
    "AllergyIntolerance": {
        "patient": PATIENT,
        "encounter": ENCOUNTER,
        "recorder": CLINICIAN,
        "asserter": CLINICIAN,
    },
    "Observation": {"subject": PATIENT, "encounter": ENCOUNTER},
    "MedicationRequest": {"subject": PATIENT, "encounter": ENCOUNTER, "requester": CLINICIAN},
}
"""Per type: the reference elements the gateway fills, and from what."""

_FIXED: Final[Mapping[str, Mapping[str, str]]] = {
    # Required by FHIR and protected from the scribe: chartgate's conservative values. An
    # observation heard in a conversation is not a final measurement; an order is a proposal
    # the EHR's own ordering workflow signs (never an active order).
    "Observation": {"status": "preliminary"},
    "MedicationRequest": {"status": "draft", "intent": "proposal"},
}


class Fate(StrEnum):
    """What approval does to one structured proposal (shown on the page and the API)."""

    WRITTEN = "will be written"
    DRAFT_ONLY = "not written to the chart (draft-only by policy)"
    NOT_ALLOWED = "not written to the chart (not allowed by policy)"
    EHR_REFUSES = "not written to the chart (the EHR profile does not take this type)"

    @property
    def written(self) -> bool:
        """True when approval queues a write-back for it."""
        return self is Fate.WRITTEN


def fate_of(*, allowed: bool, may_draft: bool, writable: bool) -> Fate:
    """The fate from the matrix's decision and the vendor profile's writable types."""
    if allowed and writable:
        return Fate.WRITTEN
    if allowed:
        return Fate.EHR_REFUSES
    return Fate.DRAFT_ONLY if may_draft else Fate.NOT_ALLOWED


def write_order(resources: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indexes of the writable-type proposals in the order they are written."""
    ranked = [
        (WRITE_ORDER.index(str(r.get("resourceType"))), index)
        for index, r in enumerate(resources)
        if r.get("resourceType") in WRITE_ORDER
    ]
    return [index for _, index in sorted(ranked)]


def owned_value(source: str, *, patient: str, encounter: str, clinician: str | None) -> str | None:
    """The reference chartgate puts into an owned element (None: not known yet)."""
    return {PATIENT: patient, ENCOUNTER: encounter, CLINICIAN: clinician}[source]


def owned_mismatches(
    resource: Mapping[str, Any], *, patient: str, encounter: str, clinician: str | None
) -> list[tuple[str, bool]]:
    """Owned elements the scribe set to another value: ``(element, known)``.

    ``known`` is False where chartgate's value is not known yet (the clinician before
    approval): such an element can only be judged at approval.
    """
    out: list[tuple[str, bool]] = []
    for element, source in OWNED.get(str(resource.get("resourceType")), {}).items():
        if element not in resource:
            continue
        ours = owned_value(source, patient=patient, encounter=encounter, clinician=clinician)
        if resource[element] != {"reference": ours}:
            out.append((element, ours is not None))
    return out


@dataclass(frozen=True, slots=True)
class StructuredWrite:
    """What one structured write-back sends, all fixed at approval."""

    writeback_id: str
    patient: str
    encounter: str
    clinician: str


def build_structured(resource: Mapping[str, Any], write: StructuredWrite) -> dict[str, Any]:
    """The resource as chartgate sends it: owned elements ours, identifier, AI label.

    Deterministic (it is hashed at approval). The write-back identifier makes the create
    conditional (``If-None-Exist``) and searchable after a lost answer, as for the note.
    """
    out = copy.deepcopy(dict(resource))
    kind = str(out["resourceType"])
    for element, source in OWNED.get(kind, {}).items():
        ours = owned_value(
            source, patient=write.patient, encounter=write.encounter, clinician=write.clinician
        )
        out[element] = {"reference": ours}
    for element, value in _FIXED.get(kind, {}).items():
        out[element] = value
    out.pop("id", None)
    out["meta"] = {"security": fc.ai_security_labels()}
    out["identifier"] = [
        *[i for i in out.get("identifier", []) if i.get("system") != fc.WRITEBACK_SYSTEM],
        {"system": fc.WRITEBACK_SYSTEM, "value": write.writeback_id},
    ]
    return out


_ENTERED_IN_ERROR: Final[Mapping[str, tuple[str, str | None]]] = {
    # type -> (element, CodeSystem of a CodeableConcept, or None for a code)
    "Condition": (
        "verificationStatus",
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    ),
    "AllergyIntolerance": (
        "verificationStatus",
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
    ),
    "Observation": ("status", None),
    "MedicationRequest": ("status", None),
}


def retraction_of_structured(
    resource: Mapping[str, Any], *, resource_id: str, version_id: str
) -> dict[str, Any]:
    """The structured resource chartgate wrote, marked ``entered-in-error``, to PUT with If-Match.

    Its clinical content stays as approved. A Condition or AllergyIntolerance loses its
    ``clinicalStatus``: FHIR forbids one on an entered-in-error record (con-5, ait-2).
    """
    out = copy.deepcopy(dict(resource))
    element, system = _ENTERED_IN_ERROR[str(out["resourceType"])]
    if system is None:
        out[element] = "entered-in-error"
    else:
        out[element] = {"coding": [{"system": system, "code": "entered-in-error"}]}
        out.pop("clinicalStatus", None)
    out["id"] = resource_id
    out["meta"] = {**out.get("meta", {}), "versionId": version_id}
    return out
