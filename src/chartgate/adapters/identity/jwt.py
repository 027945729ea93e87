# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Verify bearer tokens (signed JWTs) from the tenants' issuers and turn them into a Principal.

chartgate is an OAuth resource server: it never sees passwords, only tokens its tenants'
identity providers signed. Everything a handler later trusts (tenant, role, launch context,
MFA evidence) comes from here, so every check fails closed and every failure is one
``AuthError`` whose message names the failed check, never a token value.

Role rule (exactly one chartgate role scope; anything else is refused)::

    chartgate/admin           -> ADMIN
    chartgate/audit.read      -> AUDITOR
    chartgate/drafts.approve  -> CLINICIAN, only when the token is a person's:
                                 fhirUser names a Practitioner, sub != client_id,
                                 and the client is not a configured scribe client
    chartgate/drafts.submit   -> SCRIBE, only when the token is a client's (no fhirUser)

A scribe client therefore never becomes a CLINICIAN: its tokens carry no ``fhirUser``
(client credentials), a token holding both submit and approve scopes is refused outright,
and an issuer can list its scribe ``client_id`` values so that even a mis-provisioned
identity provider cannot mint a clinician token for them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from joserfc import jws
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, UnsupportedAlgorithmError
from joserfc.jwt import JWTClaimsRegistry

from chartgate.adapters.identity.jwks import JwksCache
from chartgate.adapters.identity.scopes import (
    PERMISSIONS,
    SCOPE_ADMIN,
    SCOPE_APPROVE,
    SCOPE_AUDIT_READ,
    SCOPE_SUBMIT,
    ScopeSet,
)
from chartgate.domain.errors import AuthError
from chartgate.domain.principal import Principal, Role

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import httpx
    from joserfc.jwa import JWSAlgModel
    from joserfc.jwk import Key

    from chartgate.settings import TenantSettings

ALLOWED_ALGORITHMS: Final = frozenset({"RS256", "ES256", "EdDSA"})
# RFC 9068 access tokens say "at+jwt"; many IdPs still say "JWT". Anything else (logout
# tokens, DPoP proofs, ...) is another kind of JWT and must not be accepted as a bearer token.
ACCEPTED_TYPES: Final = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
DEFAULT_MAX_TOKEN_BYTES: Final = 8 * 1024

# A clock skew larger than this would make "expired" meaningless; settings cap it too.
MAX_LEEWAY_SECONDS: Final = 300
ROLE_SCOPES: Final = {
    SCOPE_ADMIN: Role.ADMIN,
    SCOPE_AUDIT_READ: Role.AUDITOR,
    SCOPE_APPROVE: Role.CLINICIAN,
    SCOPE_SUBMIT: Role.SCRIBE,
}
TENANT_CLAIM: Final = "tenant"
_LATEST_NUMERIC_DATE: Final = 253402300799  # 9999-12-31T23:59:59Z; later is not a date
# fhirUser: relative "Practitioner/<id>" or an absolute URL ending so (SMART App Launch 2.x).
_PRACTITIONER = re.compile(r"(?:^|/)Practitioner/[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """One trusted token issuer and the tenant(s) its tokens may act for.

    ``jwks_uri`` wins when set; else ``discover`` reads it from the issuer's OpenID
    metadata; else ``<issuer>/jwks`` is used.
    """

    issuer: str
    audience: str
    tenants: frozenset[str]
    jwks_uri: str | None = None
    discover: bool = False
    scribe_client_ids: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        """Refuse a config that could never verify a token (fail closed at start-up)."""
        if not self.issuer or not self.audience or not self.tenants:
            msg = "an issuer needs a URL, an audience and at least one tenant"
            raise ValueError(msg)


def issuer_configs(tenants: Iterable[TenantSettings]) -> dict[str, IssuerConfig]:
    """Group the configured tenants by issuer (one issuer may serve several tenants).

    Raises ``ValueError`` when tenants sharing an issuer disagree on the audience, since a
    token's audience could then not tell which of them it was meant for.
    """
    grouped: dict[str, IssuerConfig] = {}
    for tenant in tenants:
        for issuer in tenant.issuers:
            known = grouped.get(issuer)
            if known is None:
                grouped[issuer] = IssuerConfig(
                    issuer,
                    tenant.audience,
                    frozenset({tenant.id}),
                    scribe_client_ids=frozenset(tenant.scribe_clients),
                )
                continue
            if known.audience != tenant.audience:
                msg = "tenants sharing an issuer must share its audience"
                raise ValueError(msg)
            grouped[issuer] = IssuerConfig(
                issuer,
                known.audience,
                known.tenants | {tenant.id},
                scribe_client_ids=known.scribe_client_ids | frozenset(tenant.scribe_clients),
            )
    return grouped


class _AllowlistRegistry(jws.JWSRegistry):
    """A JWS registry that knows only the allowlisted algorithms and never warns.

    joserfc's stock registry emits a ``SecurityWarning`` for ``EdDSA`` (RFC 9864 prefers
    ``Ed25519``); the allowlist is our decision, made once here.
    """

    def get_alg(self, name: str) -> JWSAlgModel:
        """Return the algorithm only when it is on the allowlist."""
        if name not in ALLOWED_ALGORITHMS or name not in self.algorithms:
            raise UnsupportedAlgorithmError("algorithm not allowed")
        return self.algorithms[name]


class TokenVerifier:
    """Turns a bearer token into a ``Principal``, or raises ``AuthError``.

    ``clock`` is injected so that expiry is testable and the service has one time source.
    """

    def __init__(
        self,
        issuers: Mapping[str, IssuerConfig],
        *,
        http: httpx.Client,
        leeway_seconds: int,
        max_lifetime_seconds: int,
        clock: Callable[[], datetime],
        jwks: JwksCache | None = None,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
    ) -> None:
        if any(name != config.issuer for name, config in issuers.items()):
            msg = "issuers must be keyed by their own issuer URL"
            raise ValueError(msg)
        if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS or max_lifetime_seconds <= 0:
            msg = f"leeway must be 0..{MAX_LEEWAY_SECONDS} s and the maximum lifetime > 0"
            raise ValueError(msg)
        self._issuers = dict(issuers)
        self._leeway = leeway_seconds
        self._max_lifetime = max_lifetime_seconds
        self._clock = clock
        self._jwks = jwks or JwksCache(http, clock=clock)
        self._max_token_bytes = max_token_bytes
        self._registry = _AllowlistRegistry(strict_check_header=False)

    def verify(self, token: str) -> Principal:
        """Verify signature and claims of ``token`` and return who is calling."""
        signed = self._parse(token)
        header = signed.headers()
        claims = _payload(signed)
        config = self._issuers.get(_opt_str(claims, "iss") or "")
        if config is None:
            raise AuthError("untrusted issuer")
        key = self._key(config, header)
        try:
            valid = jws.validate_compact(signed, key, registry=self._registry)
        except JoseError as e:
            raise AuthError("bad signature") from e
        if not valid:
            raise AuthError("bad signature")
        self._check_claims(claims, config.audience)
        if "cnf" in claims:
            # RFC 7800 / 9449 / 8705: a key-bound token is only as good as the proof of that
            # key (DPoP, mTLS), which this resource server does not check: never a bearer.
            raise AuthError("sender-constrained token (cnf) not accepted as a bearer token")
        return _principal(claims, config)

    def _parse(self, token: str) -> jws.CompactSignature:
        """Split the compact JWS and check its header before any key is looked up."""
        if not isinstance(token, str) or not token or len(token) > self._max_token_bytes:
            raise AuthError("token missing or too large")
        try:
            signed = jws.extract_compact(token.encode("ascii"), registry=self._registry)
        except (JoseError, ValueError, TypeError) as e:
            raise AuthError("malformed token") from e
        header = signed.headers()
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise AuthError("algorithm not allowed")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES):
            raise AuthError("not an access token")
        if "crit" in header or "b64" in header:
            raise AuthError("unsupported token header")
        return signed

    def _key(self, config: IssuerConfig, header: Mapping[str, Any]) -> Key:
        """Find the issuer's key named by the header (refetching the JWKS if needed)."""
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("malformed token header")
        if config.jwks_uri is not None:
            jwks_uri = config.jwks_uri
        elif config.discover:
            jwks_uri = self._jwks.jwks_uri_for(config.issuer)
        else:
            jwks_uri = config.issuer.rstrip("/") + "/jwks"
        return self._jwks.key_for(jwks_uri, kid=kid, alg=str(header["alg"]))

    def _check_claims(self, claims: Mapping[str, Any], audience: str) -> None:
        """Check exp, nbf, iat and aud (joserfc's claims registry), the lifetime, auth_time.

        The registry compares the times with the leeway (RFC 7519: now must be before
        ``exp``) and the audience; our own code first refuses NumericDates that are not
        finite numbers in 0..9999 (so no ``datetime`` conversion can misbehave later) and
        afterwards bounds what the registry does not know: the token's total lifetime and
        a future ``auth_time``. ``iat`` is required: without it the lifetime cannot be
        bounded, and a long-lived token stolen from a log would stay useful.
        """
        exp = _numeric(claims, "exp")
        iat = _numeric(claims, "iat")
        for optional in ("nbf", "auth_time"):
            _numeric(claims, optional)
        if exp is None or iat is None:
            raise AuthError("token lacks exp or iat")
        registry = JWTClaimsRegistry(
            now=int(self._clock().timestamp()),
            leeway=self._leeway,
            exp={"essential": True},
            iat={"essential": True},
            aud={"essential": True, "value": audience},
        )
        try:
            registry.validate(dict(claims))
        except ExpiredTokenError:
            raise AuthError("token expired") from None
        except ClaimError as e:
            raise AuthError(_CLAIM_REFUSALS.get(e.claim, f"malformed claim: {e.claim}")) from None
        if not 0 < exp - iat <= self._max_lifetime:
            raise AuthError("token lifetime not allowed")
        auth_time = _numeric(claims, "auth_time")
        now = self._clock().timestamp()
        if auth_time is not None and now + self._leeway < auth_time:
            raise AuthError("authentication time in the future")


_CLAIM_REFUSALS: Final = {
    "nbf": "token not yet valid",
    "iat": "token issued in the future",
    "aud": "token not meant for this audience",
}
"""The registry's refusal of a claim, in the words every ``AuthError`` reason code keeps."""


def _payload(signed: jws.CompactSignature) -> dict[str, Any]:
    """Decode the JWS payload as a JSON object of claims."""
    try:
        claims = json.loads(signed.payload)
    except (ValueError, TypeError) as e:
        raise AuthError("malformed token claims") from e
    if not isinstance(claims, dict):
        raise AuthError("malformed token claims")
    return claims


def _principal(claims: Mapping[str, Any], config: IssuerConfig) -> Principal:
    """Build the principal from verified claims: tenant, role, then the evidence fields."""
    subject = _opt_str(claims, "sub")
    if not subject:
        raise AuthError("token lacks a subject")
    scopes = _scopes(claims)
    parsed = ScopeSet.parse(scopes)
    if parsed.malformed:
        raise AuthError("token carries a malformed or unknown scope")
    fhir_user = _opt_str(claims, "fhirUser")
    client_id = _opt_str(claims, "client_id") or _opt_str(claims, "azp")
    auth_time = _numeric(claims, "auth_time") if "auth_time" in claims else None
    return Principal(
        tenant=_tenant(claims, config),
        subject=subject,
        role=_role(
            scopes, subject=subject, fhir_user=fhir_user, client_id=client_id, config=config
        ),
        scopes=scopes,
        fhir_user=fhir_user,
        amr=_amr(claims),
        acr=_opt_str(claims, "acr"),
        auth_time=None if auth_time is None else datetime.fromtimestamp(auth_time, tz=UTC),
        launch_patient=_opt_str(claims, "patient"),
        launch_encounter=_opt_str(claims, "encounter"),
        session_id=_opt_str(claims, "sid"),
        token_id=_opt_str(claims, "jti"),
        issuer=config.issuer,
        client_id=client_id,
        note_permissions=_note_permissions(parsed),
        expires_at=datetime.fromtimestamp(_numeric(claims, "exp") or 0, tz=UTC),
        audiences=_audiences(claims),
    )


def _audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The token's ``aud`` as a tuple of strings (a string or a list, RFC 7519 §4.1.3)."""
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return tuple(value for value in values if isinstance(value, str))


def _tenant(claims: Mapping[str, Any], config: IssuerConfig) -> str:
    """The issuer's tenant; a multi-tenant issuer's token must name one of its tenants."""
    named = _opt_str(claims, TENANT_CLAIM)
    if named is None and len(config.tenants) == 1:
        return next(iter(config.tenants))
    if named is None or named not in config.tenants:
        raise AuthError("token tenant not served by its issuer")
    return named


def _role(
    scopes: frozenset[str],
    *,
    subject: str,
    fhir_user: str | None,
    client_id: str | None,
    config: IssuerConfig,
) -> Role:
    """Apply the role rule of the module docstring; refuse whatever it does not allow."""
    roles = {ROLE_SCOPES[scope] for scope in scopes if scope in ROLE_SCOPES}
    if len(roles) != 1:
        raise AuthError("token must carry exactly one chartgate role scope")
    role = roles.pop()
    is_scribe_client = client_id is not None and client_id in config.scribe_client_ids
    if is_scribe_client and role is not Role.SCRIBE:
        raise AuthError("scribe client may only submit")
    if role is Role.CLINICIAN:
        is_person = fhir_user is not None and _PRACTITIONER.search(fhir_user) is not None
        if not is_person or subject == client_id:
            raise AuthError("approve scope needs a practitioner's own token")
    if role is Role.SCRIBE and fhir_user is not None:
        raise AuthError("submit scope is for client tokens only")
    return role


def _note_permissions(scopes: ScopeSet) -> frozenset[str] | None:
    """What the token's user-context SMART scopes allow on notes; None when they say nothing.

    A token that speaks about DocumentReference is narrowed by what it says (a token holding
    only ``user/DocumentReference.rs`` may not approve a write); one that does not is not.
    """
    if not scopes.has_resource_scopes("DocumentReference"):
        return None
    return frozenset(
        p
        for p in PERMISSIONS
        if scopes.allows("user", "DocumentReference", p)
        or scopes.allows("patient", "DocumentReference", p)
    )


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space-separated, RFC 9068) or ``scp`` (a list, some IdPs)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if scope is None and isinstance(scp, list) and all(isinstance(s, str) for s in scp):
        return frozenset(scp)
    if scope is None and scp is None:
        return frozenset()
    raise AuthError("malformed claim: scope")


def _amr(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """Authentication methods (RFC 8176), a list of strings when present."""
    amr = claims.get("amr")
    if amr is None:
        return ()
    if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
        raise AuthError("malformed claim: amr")
    return tuple(amr)


def _opt_str(claims: Mapping[str, Any], name: str) -> str | None:
    """An optional string claim; any other JSON type is refused, not coerced."""
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise AuthError(f"malformed claim: {name}")


def _numeric(claims: Mapping[str, Any], name: str) -> float | None:
    """An optional NumericDate claim (RFC 7519 2).

    Booleans, NaN, infinities (Python's JSON parser accepts them) and dates outside
    0..9999 are refused, so no comparison or ``datetime`` conversion can misbehave.
    """
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"malformed claim: {name}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= _LATEST_NUMERIC_DATE:
        raise AuthError(f"malformed claim: {name}")
    return number
