"""Who may do what: role, encounter binding and authentication strength.

This is the first slice of the identity work (issue 4 extends it): the checks live here,
called by every handler, so that the API, the CLI and the reviewer page cannot differ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chartgate.domain.access import STEP_UP_MAX_AGE, Basis, EncounterGrant, binding_basis
from chartgate.domain.errors import Forbidden, OutsideBinding, StepUpRequired
from chartgate.domain.principal import Principal, Role

AUTH_TIME_SKEW = timedelta(seconds=60)
"""How far in the future an ``auth_time`` may lie (clock skew) before it proves nothing."""

SECOND_FACTORS = frozenset({"mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "iris", "sc", "pop"})
"""RFC 8176 ``amr`` values that show a factor beyond a password (``mfa`` says it outright)."""

__all__ = [
    "AUTH_TIME_SKEW",
    "SECOND_FACTORS",
    "STEP_UP_MAX_AGE",
    "OutsideBinding",
    "StepUpRequired",
    "require_encounter",
    "require_mfa",
    "require_note_permission",
    "require_recent_auth",
    "require_role",
]


def require_role(principal: Principal, *roles: Role) -> None:
    """Refuse principals whose role is not one of ``roles``."""
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"this action needs role {allowed}", expression="Authorization")


def require_encounter(
    principal: Principal,
    encounter: str,
    *,
    patient: str | None = None,
    grants: tuple[EncounterGrant, ...] = (),
    now: datetime | None = None,
    base: str | None = None,
    missing: str = "draft not found",
) -> Basis:
    """A clinician acts only on an encounter its launch context or a care-team grant covers.

    No launch context and no grant means no access (ADR 0011). Returns what allowed it, for
    the audit trail. Grants are only considered when ``now`` is given (they can expire).
    ``base`` is the tenant's FHIR base URL (absolute references count only on it). The
    refusal is ``OutsideBinding``, a 404 with the ``missing`` message an unknown id gets.
    """
    basis = binding_basis(
        principal,
        patient=patient or principal.launch_patient or "",
        encounter=encounter,
        grants=grants if now is not None else (),
        now=now or datetime.max.replace(tzinfo=UTC),
        base=base,
    )
    if basis is None:
        raise OutsideBinding(missing)
    return basis


def require_note_permission(principal: Principal, permission: str) -> None:
    """A token whose SMART scopes speak about notes must allow this write (``c`` or ``u``)."""
    if principal.note_permissions is not None and permission not in principal.note_permissions:
        raise Forbidden(
            f"your token's SMART scopes do not allow DocumentReference.{permission}",
            expression="Authorization",
        )


def require_mfa(principal: Principal) -> None:
    """Approval needs a second factor in ``amr``."""
    if not SECOND_FACTORS.intersection(principal.amr):
        raise StepUpRequired(
            "approval needs multi-factor authentication", max_age=0, acr_values=None
        )


def require_recent_auth(
    principal: Principal, *, now: datetime, acr: str | None, max_age: timedelta = STEP_UP_MAX_AGE
) -> None:
    """Finalize, retract and step-up actions need a fresh authentication at the right level."""
    require_mfa(principal)
    # An auth_time in the future (beyond clock skew) proves no recent sign-in: refuse it too.
    too_old = (
        principal.auth_time is None
        or now - principal.auth_time > max_age
        or principal.auth_time - now > AUTH_TIME_SKEW
    )
    wrong_level = acr is not None and principal.acr != acr
    if too_old or wrong_level:
        raise StepUpRequired(
            "this action needs a recent re-authentication",
            max_age=int(max_age.total_seconds()),
            acr_values=acr,
        )
