"""SMART App Launch 2.2, EHR launch: from the EHR's ``launch`` + ``iss`` to the sign-in request.

An EHR opens ``/review/launch?iss=<FHIR base>&launch=<opaque>`` (usually in an iframe). The
``iss`` must be the launch ``iss`` of exactly one tenant (``[tenants.ehr_launch]``): an
unknown one is refused before anything is fetched, so the page never talks to a server an
attacker names. Its ``/.well-known/smart-configuration`` (SMART App Launch 2.2 §2.0.2)
must name one of that tenant's issuers, offer PKCE S256 and EHR launch, and agree with the
issuer's own OpenID discovery on the authorization and token endpoints: the sign-in then runs
exactly like the standalone one (state, nonce, PKCE, ID token and access token checks), with
``scope=openid fhirUser launch``, the EHR's ``launch`` and ``aud=<iss>``.

The token answer's ``patient`` and ``encounter`` (§2.0.8) become the session's launch
context; when the access token carries launch claims too they must agree
(``launch_context``), and the encounter binding then comes from the launch (ADR 0011).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from chartgate.domain.access import canonical_reference
from chartgate.domain.principal import Principal
from chartgate.domain.reviewer_sessions import LaunchContext
from chartgate.settings import Settings, TenantSettings
from chartgate.web.oidc import OidcClient, ProviderMetadata, SignInFailed, Tokens
from chartgate.web.session import PendingLogin, ReviewerSession

_LAUNCH = re.compile(r"^[\x21-\x7e]{1,1024}$")  # opaque to us; printable, bounded


class LaunchRefused(Exception):
    """This launch cannot start; the message is for the clinician (it names no secret)."""


@dataclass(frozen=True, slots=True)
class Launch:
    """A checked EHR launch: the tenant, the EHR's values, and where to sign in."""

    tenant: TenantSettings
    iss: str
    launch: str
    meta: ProviderMetadata


def tenant_for(settings: Settings, iss: str | None, launch: str | None) -> TenantSettings:
    """The tenant whose EHR sent this ``iss``; refuse a malformed or unknown launch."""
    if not iss or not launch:
        raise LaunchRefused("The EHR did not send both iss and launch.")
    if not _LAUNCH.fullmatch(launch) or len(iss) > 2048:  # noqa: PLR2004
        raise LaunchRefused("The EHR's launch parameters are not readable.")
    tenant = settings.tenant_for_launch(iss)
    if tenant is None:
        raise LaunchRefused("This EHR is not configured to launch chartgate (unknown iss).")
    return tenant


def discover(oidc: OidcClient, tenant: TenantSettings, iss: str, launch: str) -> Launch:
    """Read the EHR's SMART configuration and check it against the tenant's issuers."""
    base = tenant.launch_iss() or iss.rstrip("/")
    document = oidc.document(base + "/.well-known/smart-configuration")
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or issuer not in tenant.issuers:
        raise SignInFailed(
            "the EHR's SMART configuration names an issuer this tenant does not trust"
        )
    methods = document.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        raise SignInFailed("the EHR's authorization server does not offer PKCE S256")
    capabilities = document.get("capabilities")
    if not isinstance(capabilities, list) or "launch-ehr" not in capabilities:
        raise SignInFailed("the EHR's authorization server does not offer EHR launch")
    meta = oidc.metadata(issuer)
    if (
        document.get("authorization_endpoint") != meta.authorization_endpoint
        or document.get("token_endpoint") != meta.token_endpoint
    ):
        raise SignInFailed("the EHR's SMART configuration and its identity provider disagree")
    return Launch(tenant=tenant, iss=base, launch=launch, meta=meta)


def launch_context(
    tokens: Tokens, *, token_patient: str | None, token_encounter: str | None, base: str | None
) -> LaunchContext:
    """The token answer's launch context; the access token's launch claims must agree.

    A context that names nothing readable on the tenant's EHR is refused rather than
    ignored: the session would otherwise fall back to grants without anyone noticing.
    """
    found: dict[str, str | None] = {}
    for kind, answered, claimed in (
        ("Patient", tokens.patient, token_patient),
        ("Encounter", tokens.encounter, token_encounter),
    ):
        ours = canonical_reference(kind, answered, base=base) if answered else None
        if answered and ours is None:
            raise SignInFailed(f"the launch context's {kind.lower()} is not a reference we read")
        if (
            claimed is not None
            and ours is not None
            and canonical_reference(kind, claimed, base=base) != ours
        ):
            raise SignInFailed("the access token and the launch context disagree")
        found[kind] = ours
    return LaunchContext(patient=found["Patient"], encounter=found["Encounter"])


def context_of_sign_in(
    settings: Settings, pending: PendingLogin, tokens: Tokens, principal: Principal
) -> LaunchContext | None:
    """The launch context a finished sign-in gives its session (None: a standalone one).

    The principal must belong to the tenant whose EHR launched the page.
    """
    if pending.launch_tenant is None:
        return None
    tenant = settings.tenant(pending.launch_tenant)
    if tenant is None or principal.tenant != tenant.id:
        raise SignInFailed("the sign-in belongs to another organisation than the launching EHR")
    return launch_context(
        tokens,
        token_patient=principal.launch_patient,
        token_encounter=principal.launch_encounter,
        base=tenant.ehr.base_url,
    )


def with_launch(principal: Principal, session: ReviewerSession) -> Principal:
    """The principal with the session's launch context (the EHR's), when it has one."""
    if session.launch_patient is None and session.launch_encounter is None:
        return principal
    return dataclasses.replace(
        principal,
        launch_patient=session.launch_patient,
        launch_encounter=session.launch_encounter,
    )
