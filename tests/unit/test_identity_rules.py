"""Issue 4 additions to token verification: scribe clients per tenant, scopes, bounded skew."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from chartgate.adapters.identity.jwt import IssuerConfig, TokenVerifier, issuer_configs
from chartgate.settings import EhrSettings, TenantSettings

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def tenant(tenant_id: str, issuers: list[str], scribes: list[str]) -> TenantSettings:
    return TenantSettings(
        id=tenant_id,
        issuers=issuers,
        scribe_clients=scribes,
        ehr=EhrSettings(base_url="https://ehr.example/R4"),
    )


def test_scribe_clients_of_every_tenant_sharing_an_issuer_are_kept():
    """An issuer serving two tenants knows both tenants' scribe clients."""
    configs = issuer_configs(
        [
            tenant("clinic-a", ["https://idp.shared", "https://idp.a"], ["scribe-a"]),
            tenant("clinic-b", ["https://idp.shared"], ["scribe-b"]),
        ]
    )
    assert configs["https://idp.shared"].scribe_client_ids == {"scribe-a", "scribe-b"}
    assert configs["https://idp.shared"].tenants == {"clinic-a", "clinic-b"}
    assert configs["https://idp.a"].scribe_client_ids == {"scribe-a"}


@pytest.mark.parametrize("leeway", [-1, 301, 3600])
def test_the_clock_skew_is_bounded(leeway):
    """A leeway over five minutes would make expiry meaningless: refused at start-up."""
    config = IssuerConfig("https://idp.a", "chartgate", frozenset({"clinic-a"}))
    with pytest.raises(ValueError, match="leeway"):
        TokenVerifier(
            {config.issuer: config},
            http=httpx.Client(),
            leeway_seconds=leeway,
            max_lifetime_seconds=3600,
            clock=lambda: NOW,
        )


def test_step_up_settings_are_bounded():
    """The step-up window is between 1 s and an hour, globally and per tenant."""
    from chartgate.settings import Settings  # noqa: PLC0415 - local to the test

    with pytest.raises(ValueError, match="step_up_max_age_seconds"):
        Settings(step_up_max_age_seconds=0)
    with pytest.raises(ValueError, match="step_up_max_age_seconds"):
        TenantSettings(
            id="clinic-a",
            issuers=["https://idp.a"],
            ehr=EhrSettings(base_url="https://ehr.example/R4"),
            step_up_max_age_seconds=7200,
        )


def test_a_care_team_grant_must_name_something_and_carry_a_timezone():
    """Grants fail closed at load: no empty grant, no naive expiry."""
    from chartgate.settings import CareTeamGrant  # noqa: PLC0415 - local to the test

    with pytest.raises(ValueError, match="at least one"):
        CareTeamGrant(fhir_user="Practitioner/p1")
    with pytest.raises(ValueError, match="timezone"):
        CareTeamGrant(
            fhir_user="Practitioner/p1",
            encounters=["enc-1"],
            expires_at=datetime(2026, 12, 1),  # noqa: DTZ001
        )
    with pytest.raises(ValueError, match="fhir_user"):
        CareTeamGrant(fhir_user="Patient/p1", encounters=["enc-1"])
