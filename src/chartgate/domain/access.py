"""Encounter binding and per-tenant authentication rules, as data (see ADR 0011).

A clinician may touch a draft only when something names the draft's encounter for them:

* the SMART launch context of the token (``encounter`` claim, and ``patient`` when present),
  which the tenant's identity provider or the EHR's authorization server put there; or
* an explicit care-team grant in the tenant's settings: "practitioner P may act on these
  encounters / on every encounter of these patients (until this time)".

No launch context and no grant means no access, whatever the role scope says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from chartgate.domain.principal import Principal

STEP_UP_MAX_AGE: Final = timedelta(minutes=5)

Basis = Literal["launch", "grant"]


def _reference(kind: str, value: str) -> str:
    """``enc-1`` and ``Encounter/enc-1`` name the same encounter; a URL keeps its tail."""
    tail = value.rstrip("/").split("/")
    if len(tail) >= 2 and tail[-2] == kind:  # noqa: PLR2004 - Type/id
        return f"{kind}/{tail[-1]}"
    return f"{kind}/{value}"


@dataclass(frozen=True, slots=True)
class EncounterGrant:
    """An operator's explicit grant: one practitioner, some encounters and/or patients.

    ``subject`` (optional) pins the grant to one login as well as to the ``fhirUser``;
    ``expires_at`` (optional) ends it.
    """

    fhir_user: str
    encounters: frozenset[str] = frozenset()
    patients: frozenset[str] = frozenset()
    subject: str | None = None
    expires_at: datetime | None = None

    def covers(self, principal: Principal, *, patient: str, encounter: str, now: datetime) -> bool:
        """True when this grant lets ``principal`` act on the draft of ``encounter``."""
        if principal.fhir_user is None or not _same_practitioner(self.fhir_user, principal):
            return False
        if self.subject is not None and self.subject != principal.subject:
            return False
        if self.expires_at is not None and now >= self.expires_at:
            return False
        encounters = {_reference("Encounter", e) for e in self.encounters}
        patients = {_reference("Patient", p) for p in self.patients}
        return (
            _reference("Encounter", encounter) in encounters
            or _reference("Patient", patient) in patients
        )


def _same_practitioner(granted: str, principal: Principal) -> bool:
    return _reference("Practitioner", granted) == _reference(
        "Practitioner", principal.fhir_user or ""
    )


def launch_covers(principal: Principal, *, patient: str, encounter: str) -> bool:
    """True when the token's launch context names this encounter (and patient, if any)."""
    if principal.launch_encounter is None:
        return False
    if _reference("Encounter", principal.launch_encounter) != _reference("Encounter", encounter):
        return False
    return principal.launch_patient is None or _reference(
        "Patient", principal.launch_patient
    ) == _reference("Patient", patient)


def binding_basis(
    principal: Principal,
    *,
    patient: str,
    encounter: str,
    grants: tuple[EncounterGrant, ...],
    now: datetime,
) -> Basis | None:
    """What lets the principal act on this encounter: its launch context, a grant, or nothing."""
    if launch_covers(principal, patient=patient, encounter=encounter):
        return "launch"
    if any(g.covers(principal, patient=patient, encounter=encounter, now=now) for g in grants):
        return "grant"
    return None


@dataclass(frozen=True, slots=True)
class TenantAccess:
    """One tenant's access rules: the step-up level and window, and its care-team grants."""

    step_up_acr: str | None = None
    step_up_max_age: timedelta = STEP_UP_MAX_AGE
    grants: tuple[EncounterGrant, ...] = field(default_factory=tuple)
