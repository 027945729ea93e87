"""The right patient and encounter: what the EHR says about a note's subject, judged.

Why: a clinician cannot check ``Patient/pat-001``, and a scribe can put a note on the wrong
encounter. Before a note is approved (and again before its first send) chartgate reads the
Encounter and the Patient from the EHR, the minimum necessary (the ``*_ELEMENTS`` below), and
refuses when the encounter does not exist, belongs to another patient, or is in a status the
tenant's vendor profile does not allow documentation for. The reviewer page shows the result
as a banner (name, birth date, MRN, encounter date and location); it is read for the page and
never stored.

Pure: the service layer does the reads (``service/patient_context.py``) and hands the JSON
here; ``judge_context`` returns a ``PatientContext`` or the ``ContextProblem`` it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "ENCOUNTER_ELEMENTS",
    "LOCATION_ELEMENTS",
    "MRN_TYPE",
    "PATIENT_ELEMENTS",
    "ContextProblem",
    "PatientContext",
    "judge_context",
    "reference_id",
]

JsonObject = dict[str, Any]

ENCOUNTER_ELEMENTS = ("status", "period", "subject", "location")
"""What chartgate reads of an Encounter (``_elements`` where the EHR supports it)."""

LOCATION_ELEMENTS = ("name",)
"""What chartgate reads of the encounter's Location when the Encounter names it without a
``display``: its name only, for the banner."""

PATIENT_ELEMENTS = ("identifier", "name", "birthDate")
"""What chartgate reads of a Patient: enough for a person to recognise the chart."""

MRN_TYPE = ("http://terminology.hl7.org/CodeSystem/v2-0203", "MR")
"""Identifier type of a medical record number, used where the tenant names no MRN system."""


class ContextProblem(StrEnum):
    """Why the EHR's Patient/Encounter refuse a note (each message names no PHI)."""

    ENCOUNTER_MISSING = "the encounter does not exist in the EHR"
    PATIENT_MISSING = "the patient does not exist in the EHR"
    OTHER_PATIENT = "the encounter belongs to another patient"
    STATUS_NOT_DOCUMENTABLE = "the EHR does not take documentation for an encounter in this status"


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientContext:
    """The patient and encounter a note is about, as the EHR shows them now.

    For display only (the patient banner); never stored, never logged.
    """

    patient: str
    encounter: str
    name: str
    birth_date: str | None
    mrn: str | None
    encounter_status: str
    encounter_start: str | None
    encounter_end: str | None
    location: str | None = None
    """The encounter's location as the Encounter names it (``location[].location.display``)."""
    location_ref: str | None = None
    """``Location/id`` of that location, read for its name when the Encounter has no display."""

    @property
    def encounter_date(self) -> str | None:
        """The encounter's day (``YYYY-MM-DD``), from the start of its period."""
        return self.encounter_start[:10] if self.encounter_start else None

    def banner(self) -> dict[str, str | None]:
        """The facts a clinician checks before approving, for the page."""
        return {
            "name": self.name,
            "birth_date": self.birth_date,
            "mrn": self.mrn,
            "encounter_date": self.encounter_date,
            "encounter_status": self.encounter_status,
            "location": self.location,
        }


def judge_context(
    *,
    patient_ref: str,
    encounter_ref: str,
    patient: JsonObject | None,
    encounter: JsonObject | None,
    documentable: frozenset[str],
    mrn_system: str | None,
) -> PatientContext | ContextProblem:
    """Judge what the EHR returned for the draft's ``patient_ref`` and ``encounter_ref``.

    ``patient``/``encounter`` are the resources read (None: the EHR has no such resource).
    """
    if encounter is None:
        return ContextProblem.ENCOUNTER_MISSING
    subject = encounter.get("subject")
    subject_ref = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(subject_ref, str) or reference_id(subject_ref) != reference_id(patient_ref):
        return ContextProblem.OTHER_PATIENT
    status = encounter.get("status")
    if not isinstance(status, str) or status not in documentable:
        return ContextProblem.STATUS_NOT_DOCUMENTABLE
    if patient is None:
        return ContextProblem.PATIENT_MISSING
    raw_period = encounter.get("period")
    period: JsonObject = raw_period if isinstance(raw_period, dict) else {}
    place = encounter_location(encounter)
    return PatientContext(
        patient=reference_id(patient_ref),
        encounter=reference_id(encounter_ref),
        name=_display_name(patient.get("name")),
        birth_date=_str(patient.get("birthDate")),
        mrn=_mrn(patient.get("identifier"), mrn_system),
        encounter_status=status,
        encounter_start=_str(period.get("start")),
        encounter_end=_str(period.get("end")),
        location=_str(place.get("display")),
        location_ref=_location_ref(place),
    )


_LOCATION_PREFERENCE = ("active", "completed", None)
"""Which of an encounter's locations is *the* location: where it is now, else where it was."""


def encounter_location(encounter: JsonObject) -> JsonObject:
    """The Reference of the encounter's location (``{}`` when it names none).

    An Encounter may list several (``location[]``, each with a status): the active one, else
    the last completed one, else the last one that is not merely planned.
    """
    raw = encounter.get("location")
    entries = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
    for status in _LOCATION_PREFERENCE:
        chosen = [
            e
            for e in entries
            if (e.get("status") == status if status else e.get("status") != "planned")
        ]
        if chosen and isinstance(chosen[-1].get("location"), dict):
            reference: JsonObject = chosen[-1]["location"]
            return reference
    return {}


def _location_ref(place: JsonObject) -> str | None:
    reference = place.get("reference")
    if not isinstance(reference, str):
        return None
    found = reference_id(reference)
    return found if found.startswith("Location/") else None


def reference_id(reference: str) -> str:
    """``Type/id`` of an absolute, relative or versioned reference (``…/_history/n`` dropped)."""
    parts = [p for p in reference.split("?", maxsplit=1)[0].split("/") if p]
    if len(parts) >= 4 and parts[-2] == "_history":  # noqa: PLR2004 - Type/id/_history/vid
        parts = parts[:-2]
    return "/".join(parts[-2:])


def _display_name(names: object) -> str:
    """The ``official`` (else ``usual``, else first) HumanName as "Given Family"."""
    if not isinstance(names, list) or not names:
        return "(no name in the EHR)"
    usable = [n for n in names if isinstance(n, dict)]
    for use in ("official", "usual", None):
        chosen = next((n for n in usable if use is None or n.get("use") == use), None)
        if chosen is not None:
            break
    if chosen is None:
        return "(no name in the EHR)"
    if isinstance(chosen.get("text"), str):
        return str(chosen["text"])
    given = [g for g in chosen.get("given", []) if isinstance(g, str)]
    family = chosen.get("family")
    parts = [*given, family] if isinstance(family, str) else given
    return " ".join(parts).strip() or "(no name in the EHR)"


def _mrn(identifiers: object, system: str | None) -> str | None:
    """The tenant's MRN: the identifier of ``system``, else the one typed ``MR``."""
    if not isinstance(identifiers, list):
        return None
    for identifier in identifiers:
        if not isinstance(identifier, dict):
            continue
        if system is not None and identifier.get("system") == system:
            return _str(identifier.get("value"))
        codings = (identifier.get("type") or {}).get("coding", [])
        if system is None and any(
            isinstance(c, dict) and (c.get("system"), c.get("code")) == MRN_TYPE for c in codings
        ):
            return _str(identifier.get("value"))
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
