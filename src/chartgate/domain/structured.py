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


# -- amendment: what changes in the chart ---------------------------------------------------

_SUBJECT_OF: Final[Mapping[str, str]] = {
    # The element that says *what* a proposal is about: two versions' proposals with the
    # same type and this element are the same clinical statement (changed or not).
    "Condition": "code",
    "AllergyIntolerance": "code",
    "Observation": "code",
    "MedicationRequest": "medicationCodeableConcept",
}

_NOT_CONTENT: Final[frozenset[str]] = frozenset({"id", "meta", "identifier", "text"})
"""Elements that say nothing clinical (ours, or the server's): never a change by themselves."""


def identity(resource: Mapping[str, Any]) -> tuple[str, str]:
    """``(type, what it is about)``: the codings of its code (sorted), else the code's text.

    A MedicationRequest that names its medication by reference is about that reference.
    """
    kind = str(resource.get("resourceType"))
    element = resource.get(_SUBJECT_OF.get(kind, "code"))
    if element is None and kind == "MedicationRequest":
        element = resource.get("medicationReference")
    if not isinstance(element, Mapping):
        return kind, ""
    codings = sorted(
        f"{c.get('system', '')}|{c.get('code', '')}"
        for c in element.get("coding", [])
        if isinstance(c, Mapping)
    )
    if codings:
        return kind, " ".join(codings)
    return kind, str(element.get("text") or element.get("reference") or "")


def clinical_content(resource: Mapping[str, Any]) -> dict[str, Any]:
    """What the clinician approved of a resource: all but ids, meta, text and owned elements.

    Two resources with the same clinical content are the same to an amendment: one that
    differs only in who approved it (recorder, asserter, requester) is not rewritten.
    """
    owned = OWNED.get(str(resource.get("resourceType")), {})
    return {k: v for k, v in resource.items() if k not in _NOT_CONTENT and k not in owned}


@dataclass(frozen=True, slots=True)
class AmendPlan:
    """What an amendment does to the structured resources in the chart (indexes, keys).

    ``created``: proposal indexes with nothing of theirs in the chart; ``updated``:
    ``(proposal index, chart key)`` whose clinical content changed; ``unchanged``:
    ``(proposal index, chart key)`` left as they are; ``removed``: chart keys no proposal
    names any more.
    """

    created: tuple[int, ...]
    updated: tuple[tuple[int, str], ...]
    unchanged: tuple[tuple[int, str], ...]
    removed: tuple[str, ...]


def plan_amendment(
    proposals: Sequence[Mapping[str, Any]],
    written: Sequence[int],
    chart: Sequence[tuple[str, Mapping[str, Any]]],
) -> AmendPlan:
    """Pair the amended version's written proposals with the chart's resources by identity.

    ``written``: the indexes of the proposals the amendment writes, in write order;
    ``chart``: ``(key, resource as written)`` for each structured resource of this note in
    the chart now, in the order they were written. Same identity pairs first with first
    (two proposals about the same code pair in order).
    """
    waiting: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = {}
    for key, resource in chart:
        waiting.setdefault(identity(resource), []).append((key, resource))
    created: list[int] = []
    updated: list[tuple[int, str]] = []
    unchanged: list[tuple[int, str]] = []
    for index in written:
        proposal = proposals[index]
        matches = waiting.get(identity(proposal), [])
        if not matches:
            created.append(index)
            continue
        key, resource = matches.pop(0)
        same = clinical_content(_with_fixed(proposal)) == clinical_content(resource)
        (unchanged if same else updated).append((index, key))
    left = {key for entries in waiting.values() for key, _ in entries}
    removed = [key for key, _ in chart if key in left]
    return AmendPlan(tuple(created), tuple(updated), tuple(unchanged), tuple(removed))


def _with_fixed(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The proposal with the values chartgate fixes (as ``build_structured`` sends it)."""
    out = dict(resource)
    out.update(_FIXED.get(str(out.get("resourceType")), {}))
    return out


def update_of_structured(
    resource: Mapping[str, Any], write: StructuredWrite, *, resource_id: str, version_id: str
) -> dict[str, Any]:
    """An amended proposal as the new version of the resource in the chart (PUT, If-Match).

    ``write.writeback_id`` is the write-back that created the resource: its business
    identifier stays, so the resource is found by it as before; the update's own mark
    (``meta.tag``) is added when it is queued.
    """
    out = build_structured(resource, write)
    out["id"] = resource_id
    out["meta"] = {**out["meta"], "versionId": version_id}
    return out
