"""The one ``Access`` object every use case asks: who may do what to which draft.

Role, tenant, encounter binding, strength of authentication and note permission, in one
place, built once in bootstrap from the tenants' rules (ADR 0011). The checks themselves
are ``service/authz.py``'s; this object holds what they need (the clock, each tenant's
step-up rule and care-team grants) so that no use case carries those around itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from chartgate.domain.access import STEP_UP_MAX_AGE, Basis, TenantAccess
from chartgate.domain.drafts import Draft
from chartgate.domain.principal import Principal, Role
from chartgate.service import authz
from chartgate.service.ports import Clock

DRAFT_MISSING = "draft not found"  # the store's message for an unknown draft id


class Access:
    """Role, tenant, encounter binding, strength of authentication and note permission."""

    def __init__(
        self,
        *,
        clock: Clock,
        tenants: Mapping[str, TenantAccess] | None = None,
        step_up_acr: str | None = None,
        step_up_max_age: timedelta = STEP_UP_MAX_AGE,
    ) -> None:
        self._clock = clock
        # Per-tenant step-up level/window and care-team grants; the two arguments after
        # ``tenants`` are the defaults for a tenant without its own rules.
        self._tenants = dict(tenants or {})
        self._default = TenantAccess(step_up_acr=step_up_acr, step_up_max_age=step_up_max_age)

    def rules(self, tenant: str) -> TenantAccess:
        """The tenant's access rules, or the defaults this object was built with."""
        return self._tenants.get(tenant, self._default)

    @staticmethod
    def require_role(principal: Principal, *roles: Role) -> None:
        """Refuse a principal whose role is not one of ``roles`` (403)."""
        authz.require_role(principal, *roles)

    def bind(self, principal: Principal, draft: Draft, *, missing: str = DRAFT_MISSING) -> Basis:
        """Encounter binding: the launch context or a care-team grant must name the draft's.

        The draft was loaded under ``principal.tenant``, so the tenant matches already. A
        refusal answers exactly as an unknown id would (``missing``): no existence oracle.
        """
        rules = self.rules(principal.tenant)
        return authz.require_encounter(
            principal,
            draft.encounter,
            patient=draft.patient,
            grants=rules.grants,
            now=self._clock.now(),
            base=rules.ehr_base,
            missing=missing,
        )

    @staticmethod
    def require_mfa(principal: Principal) -> None:
        """A second factor in ``amr`` (every action that changes what reaches the chart)."""
        authz.require_mfa(principal)

    def require_strength(self, principal: Principal, auth: str | None) -> None:
        """MFA always; a recent authentication at the tenant's level for step-up actions."""
        authz.require_mfa(principal)
        if auth == "step-up":
            rules = self.rules(principal.tenant)
            authz.require_recent_auth(
                principal,
                now=self._clock.now(),
                acr=rules.step_up_acr,
                max_age=rules.step_up_max_age,
            )

    @staticmethod
    def require_note_permission(principal: Principal, permission: str) -> None:
        """A token whose SMART scopes speak about notes must allow this write (``c``/``u``)."""
        authz.require_note_permission(principal, permission)
