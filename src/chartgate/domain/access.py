"""Encounter binding and per-tenant authentication rules, as data (see ADR 0011).

A clinician may touch a draft only when something names the draft's encounter for them:

* the SMART launch context of the token (``encounter`` claim, and ``patient`` when present),
  which the tenant's identity provider or the EHR's authorization server put there; or
* an explicit care-team grant in the tenant's settings: "practitioner P may act on these
  encounters / on every encounter of these patients (until this time)".

No launch context and no grant means no access, whatever the role scope says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from chartgate.domain.principal import Principal

STEP_UP_MAX_AGE: Final = timedelta(minutes=5)

Basis = Literal["launch", "grant"]


_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def canonical_reference(kind: str, value: str, *, base: str | None = None) -> str | None:
    """``kind/id`` when ``value`` names a ``kind`` on the tenant's EHR, else None.

    ``enc-1``, ``Encounter/enc-1`` and ``<base>/Encounter/enc-1`` name the same encounter.
    Anything else names nothing we can compare: an absolute URL on another server, a path
    with more segments (``enc-2/../Encounter/enc-1``), an id of only dots, another type.
    Whole references are compared, never their last segments.
    """
    if base is not None and "://" in value:
        prefix = base.rstrip("/") + "/"
        if not value.startswith(prefix):
            return None
        value = value[len(prefix) :]
    parts = value.split("/")
    if len(parts) == 1:
        parts = [kind, parts[0]]
    if len(parts) != 2 or parts[0] != kind:  # noqa: PLR2004 - Type/id
        return None
    ident = parts[1]
    if not _FHIR_ID.fullmatch(ident) or not ident.strip("."):
        return None
    return f"{kind}/{ident}"


def _same(kind: str, left: str | None, right: str | None, base: str | None) -> bool:
    """Both name the same ``kind`` on the tenant's EHR (two unreadable references never match)."""
    if left is None or right is None:
        return False
    ours = canonical_reference(kind, left, base=base)
    return ours is not None and ours == canonical_reference(kind, right, base=base)


@dataclass(frozen=True, slots=True)
class EncounterGrant:
    """An operator's explicit grant: one practitioner, some encounters and/or patients.

    ``issuer`` pins the grant to the identity provider that vouches for the practitioner
    (bootstrap fills in the tenant's only issuer; a tenant with several must name one);
    ``subject`` (optional) pins it to one login as well as to the ``fhirUser``;
    ``expires_at`` (optional) ends it.
    """

    fhir_user: str
    encounters: frozenset[str] = frozenset()
    patients: frozenset[str] = frozenset()
    subject: str | None = None
    expires_at: datetime | None = None
    issuer: str | None = None

    def covers(
        self,
        principal: Principal,
        *,
        patient: str,
        encounter: str,
        now: datetime,
        base: str | None = None,
    ) -> bool:
        """True when this grant lets ``principal`` act on the draft of ``encounter``."""
        if not _same("Practitioner", self.fhir_user, principal.fhir_user, base):
            return False
        if self.issuer is None or self.issuer != principal.issuer:
            return False
        if self.subject is not None and self.subject != principal.subject:
            return False
        if self.expires_at is not None and now >= self.expires_at:
            return False
        return any(_same("Encounter", e, encounter, base) for e in self.encounters) or any(
            _same("Patient", p, patient, base) for p in self.patients
        )


def launch_covers(
    principal: Principal, *, patient: str, encounter: str, base: str | None = None
) -> bool:
    """True when the token's launch context names this encounter (and patient, if any)."""
    if not _same("Encounter", principal.launch_encounter, encounter, base):
        return False
    return principal.launch_patient is None or _same(
        "Patient", principal.launch_patient, patient, base
    )


def binding_basis(
    principal: Principal,
    *,
    patient: str,
    encounter: str,
    grants: tuple[EncounterGrant, ...],
    now: datetime,
    base: str | None = None,
) -> Basis | None:
    """What lets the principal act on this encounter: its launch context, a grant, or nothing.

    ``base`` is the tenant's FHIR base URL: an absolute reference counts only on it.
    """
    if launch_covers(principal, patient=patient, encounter=encounter, base=base):
        return "launch"
    if any(
        g.covers(principal, patient=patient, encounter=encounter, now=now, base=base)
        for g in grants
    ):
        return "grant"
    return None


@dataclass(frozen=True, slots=True)
class TenantAccess:
    """One tenant's access rules: the step-up level and window, and its care-team grants."""

    step_up_acr: str | None = None
    step_up_max_age: timedelta = STEP_UP_MAX_AGE
    grants: tuple[EncounterGrant, ...] = field(default_factory=tuple)
    ehr_base: str | None = None  # the tenant's FHIR base: absolute references must be on it
    jurisdiction: str | None = None  # ISO 3166-2: picks the consent and disclosure rules
