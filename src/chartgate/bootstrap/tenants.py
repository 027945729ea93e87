"""Each tenant's access rules and the policy in force, read from the settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from chartgate.domain.access import EncounterGrant, TenantAccess
from chartgate.domain.policy import LoadedPolicy
from chartgate.policy import load_default_policy, load_policy_file
from chartgate.settings import Settings


def tenant_access(settings: Settings) -> dict[str, TenantAccess]:
    """Each tenant's step-up rule (its own or the global one), care-team grants and EHR base.

    A grant is pinned to the issuer that vouches for its practitioner: the one it names, or
    the tenant's only issuer; a tenant with several issuers must name one per grant.
    """
    access = {}
    for tenant in settings.tenants:
        grants = []
        for grant in tenant.care_team_grants:
            issuer = grant.issuer or (tenant.issuers[0] if len(tenant.issuers) == 1 else None)
            if issuer is None or issuer not in tenant.issuers:
                msg = f"tenant {tenant.id}: a care-team grant must name one of its issuers"
                raise ValueError(msg)
            grants.append(
                EncounterGrant(
                    fhir_user=grant.fhir_user,
                    encounters=frozenset(grant.encounters),
                    patients=frozenset(grant.patients),
                    subject=grant.subject,
                    expires_at=grant.expires_at,
                    issuer=issuer,
                )
            )
        access[tenant.id] = TenantAccess(
            step_up_acr=tenant.step_up_acr or settings.step_up_acr,
            step_up_max_age=timedelta(
                seconds=tenant.step_up_max_age_seconds or settings.step_up_max_age_seconds
            ),
            grants=tuple(grants),
            ehr_base=tenant.ehr.base_url,
            jurisdiction=tenant.jurisdiction,
        )
    return access


def load_policy(path: str | None) -> LoadedPolicy:
    """The write-back matrix from ``path``, or the shipped conservative default."""
    return load_policy_file(Path(path)) if path else load_default_policy()
