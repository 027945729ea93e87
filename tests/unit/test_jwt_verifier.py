# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Bearer-token verification: signatures, claims, JWKS caching and the role rule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey

from chartgate.adapters.identity.jwks import JwksCache, JwksLimits
from chartgate.adapters.identity.jwt import IssuerConfig, TokenVerifier, issuer_configs
from chartgate.domain.errors import AuthError
from chartgate.domain.principal import Role
from chartgate.settings import EhrSettings, TenantSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from joserfc.jwk import Key

ISSUER = "https://idp.clinic-a.example"
SHARED_ISSUER = "https://idp.shared.example"
AUDIENCE = "chartgate"
NOW = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
LEEWAY = 60
MAX_LIFETIME = 3600
COOLDOWN = 30.0


@dataclass
class FakeClock:
    """A settable clock: tests move time instead of sleeping."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeIdp:
    """Serves JWKS and OpenID metadata for the test issuers and counts requests."""

    keys: list[Key]
    requests: list[str] = field(default_factory=list)
    metadata_issuer: str = ISSUER

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if request.url.path == "/.well-known/openid-configuration":
            body = {"issuer": self.metadata_issuer, "jwks_uri": f"{ISSUER}/keys/discovered"}
            return httpx.Response(200, json=body)
        if request.url.path in {"/jwks", "/keys/discovered"}:
            return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.keys]})
        return httpx.Response(404)

    def jwks_fetches(self) -> int:
        return sum(path != "/.well-known/openid-configuration" for path in self.requests)


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": "rsa-1", "use": "sig"})


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", {"kid": "ec-1"})


@pytest.fixture(scope="module")
def ed_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", {"kid": "ed-1"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def idp(rsa_key: RSAKey, ec_key: ECKey, ed_key: OKPKey) -> FakeIdp:
    return FakeIdp(keys=[rsa_key, ec_key, ed_key])


@pytest.fixture
def http(idp: FakeIdp) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(idp.handle)) as client:
        yield client


def make_verifier(http: httpx.Client, clock: FakeClock, *configs: IssuerConfig) -> TokenVerifier:
    configs = configs or (IssuerConfig(ISSUER, AUDIENCE, frozenset({"clinic-a"})),)
    cache = JwksCache(http, clock=clock, limits=JwksLimits(refetch_cooldown_seconds=COOLDOWN))
    return TokenVerifier(
        {c.issuer: c for c in configs},
        http=http,
        leeway_seconds=LEEWAY,
        max_lifetime_seconds=MAX_LIFETIME,
        clock=clock,
        jwks=cache,
    )


@pytest.fixture
def verifier(http: httpx.Client, clock: FakeClock) -> TokenVerifier:
    return make_verifier(http, clock)


def clinician_claims(**overrides: Any) -> dict[str, Any]:
    iat = int(NOW.timestamp()) - 10
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-17",
        "aud": AUDIENCE,
        "iat": iat,
        "exp": iat + 300,
        "scope": "openid chartgate/drafts.approve user/DocumentReference.cu",
        "fhirUser": "https://fhir.clinic-a.example/R4/Practitioner/prac-1",
        "amr": ["pwd", "otp"],
        "acr": "urn:example:mfa",
        "auth_time": iat - 20,
        "patient": "pat-001",
        "encounter": "enc-001",
        "sid": "sess-9",
        "jti": "tok-1",
        "azp": "reviewer-page",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def scribe_claims(**overrides: Any) -> dict[str, Any]:
    base = clinician_claims(
        sub="scribe-app", scope="chartgate/drafts.submit", client_id="scribe-app", azp=None
    )
    for name in ("fhirUser", "amr", "acr", "auth_time", "patient", "encounter", "sid"):
        base.pop(name)
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(claims: dict[str, Any], key: Key, alg: str = "RS256", **header: Any) -> str:
    with warnings.catch_warnings():  # joserfc flags EdDSA as deprecated by RFC 9864
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode({"alg": alg, "kid": key.kid, **header}, claims, key, algorithms=[alg])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def refused(verifier: TokenVerifier, token: str, reason: str) -> AuthError:
    with pytest.raises(AuthError, match=reason) as caught:
        verifier.verify(token)
    return caught.value


# --- valid tokens -------------------------------------------------------------------------


def test_valid_clinician_token_becomes_a_principal(
    verifier: TokenVerifier, rsa_key: RSAKey
) -> None:
    """A well-formed clinician token yields a CLINICIAN principal with every evidence field."""
    principal = verifier.verify(mint(clinician_claims(), rsa_key))
    assert principal.tenant == "clinic-a"
    assert principal.subject == "user-17"
    assert principal.role is Role.CLINICIAN
    assert "user/DocumentReference.cu" in principal.scopes
    assert principal.fhir_user == "https://fhir.clinic-a.example/R4/Practitioner/prac-1"
    assert principal.amr == ("pwd", "otp")
    assert principal.acr == "urn:example:mfa"
    assert principal.auth_time == NOW - timedelta(seconds=30)
    assert principal.launch_patient == "pat-001"
    assert principal.launch_encounter == "enc-001"
    assert principal.session_id == "sess-9"
    assert principal.token_id == "tok-1"
    assert principal.issuer == ISSUER
    assert principal.client_id == "reviewer-page"


@pytest.mark.parametrize(("alg", "key_name"), [("ES256", "ec_key"), ("EdDSA", "ed_key")])
def test_es256_and_eddsa_tokens_are_accepted(
    verifier: TokenVerifier, request: pytest.FixtureRequest, alg: str, key_name: str
) -> None:
    """The other two allowlisted algorithms verify against their JWKS keys."""
    key = request.getfixturevalue(key_name)
    assert verifier.verify(mint(clinician_claims(), key, alg)).role is Role.CLINICIAN


def test_scribe_client_token_becomes_a_scribe(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """A client token with the submit scope and no fhirUser yields a SCRIBE principal."""
    principal = verifier.verify(mint(scribe_claims(), rsa_key))
    assert principal.role is Role.SCRIBE
    assert principal.client_id == "scribe-app"
    assert principal.fhir_user is None


@pytest.mark.parametrize(
    ("scope", "role"),
    [("chartgate/admin", Role.ADMIN), ("openid chartgate/audit.read", Role.AUDITOR)],
)
def test_admin_and_auditor_scopes_map_to_their_roles(
    verifier: TokenVerifier, rsa_key: RSAKey, scope: str, role: Role
) -> None:
    """The admin scope gives ADMIN and the audit-read scope alone gives AUDITOR."""
    assert verifier.verify(mint(clinician_claims(scope=scope), rsa_key)).role is role


def test_token_without_kid_uses_the_only_key_of_its_type(
    verifier: TokenVerifier, rsa_key: RSAKey
) -> None:
    """A kid-less token verifies when the JWKS holds exactly one key for its algorithm."""
    token = jwt.encode({"alg": "RS256"}, clinician_claims(), rsa_key, algorithms=["RS256"])
    assert verifier.verify(token).role is Role.CLINICIAN


def test_scp_list_is_read_as_scopes(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """Scopes given as an ``scp`` list (some identity providers) are understood too."""
    claims = clinician_claims(scope=None, scp=["chartgate/drafts.approve"])
    assert verifier.verify(mint(claims, rsa_key)).role is Role.CLINICIAN


# --- algorithms and signatures ---------------------------------------------------------------


def test_alg_none_is_refused(verifier: TokenVerifier, idp: FakeIdp) -> None:
    """An unsigned token (``alg: none``) is refused before any key is fetched."""
    token = unsigned({"alg": "none", "typ": "JWT"}, clinician_claims()) + "."
    refused(verifier, token, "algorithm not allowed")
    assert idp.requests == []


def test_hs256_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, rsa_key: RSAKey
) -> None:
    """The algorithm-confusion attack (HMAC keyed with the RSA public key) is refused."""
    signing_input = unsigned({"alg": "HS256", "kid": "rsa-1"}, clinician_claims())
    secret = rsa_key.as_pem(private=False)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    refused(verifier, f"{signing_input}.{b64(signature)}", "algorithm not allowed")


def test_algorithm_off_the_allowlist_is_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """A correctly signed RS384 token is refused: only RS256, ES256 and EdDSA are allowed."""
    refused(verifier, mint(clinician_claims(), rsa_key, "RS384"), "algorithm not allowed")


def test_header_alg_that_does_not_fit_the_key_is_refused(
    verifier: TokenVerifier, rsa_key: RSAKey
) -> None:
    """A token claiming ES256 but naming the RSA key's kid is refused."""
    forged = mint(clinician_claims(), rsa_key)
    header, payload, signature = forged.split(".")
    header = b64(json.dumps({"alg": "ES256", "kid": "rsa-1", "typ": "JWT"}).encode())
    refused(verifier, f"{header}.{payload}.{signature}", "signing key not found")


def test_tampered_payload_is_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """Changing the claims after signing breaks the signature."""
    header, _, signature = mint(scribe_claims(), rsa_key).split(".")
    payload = b64(json.dumps(clinician_claims()).encode())
    refused(verifier, f"{header}.{payload}.{signature}", "bad signature")


def test_key_not_in_the_jwks_is_refused(verifier: TokenVerifier) -> None:
    """A token signed by a key the issuer never published is refused."""
    stranger = RSAKey.generate_key(2048, {"kid": "rsa-1"})
    refused(verifier, mint(clinician_claims(), stranger), "bad signature")


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d.e", "eyJ.eyJ.sig", "é.é.é"],
)
def test_malformed_tokens_are_refused(verifier: TokenVerifier, token: str) -> None:
    """Garbage, JWE-shaped and non-ASCII strings are refused as AuthError, not crashes."""
    with pytest.raises(AuthError):
        verifier.verify(token)


def test_oversized_token_is_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """A token larger than the limit is refused before parsing."""
    refused(verifier, mint(clinician_claims(pad="x" * 9000), rsa_key), "too large")


def test_other_kinds_of_jwt_are_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """A JWT typed as something else (a logout token) is not accepted as a bearer token."""
    refused(verifier, mint(clinician_claims(), rsa_key, typ="logout+jwt"), "not an access token")


# --- claims ------------------------------------------------------------------------------------


def test_expired_token_is_refused(
    verifier: TokenVerifier, rsa_key: RSAKey, clock: FakeClock
) -> None:
    """A token at ``exp`` plus the leeway is refused; a second before, it still passes.

    RFC 7519 4.1.4: the current time must be *before* ``exp`` (plus the leeway).
    """
    token = mint(clinician_claims(), rsa_key)
    clock.advance(289 + LEEWAY)
    assert verifier.verify(token).subject == "user-17"
    clock.advance(1)
    refused(verifier, token, "expired")


def test_not_yet_valid_token_is_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """A token whose ``nbf`` lies beyond the leeway in the future is refused."""
    nbf = int(NOW.timestamp()) + LEEWAY + 5
    refused(verifier, mint(clinician_claims(nbf=nbf), rsa_key), "not yet valid")


def test_token_issued_in_the_future_is_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """An ``iat`` beyond the leeway in the future is refused."""
    iat = int(NOW.timestamp()) + LEEWAY + 5
    refused(verifier, mint(clinician_claims(iat=iat, exp=iat + 60), rsa_key), "future")


def test_wrong_audience_is_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """A token for another resource server is refused; a list naming us is accepted."""
    refused(verifier, mint(clinician_claims(aud="other-api"), rsa_key), "audience")
    accepted = mint(clinician_claims(aud=["other-api", AUDIENCE]), rsa_key)
    assert verifier.verify(accepted).role is Role.CLINICIAN


def test_unknown_issuer_is_refused_without_fetching(
    verifier: TokenVerifier, rsa_key: RSAKey, idp: FakeIdp
) -> None:
    """A token from an issuer no tenant trusts is refused and no key is fetched for it."""
    claims = clinician_claims(iss="https://idp.evil.example")
    refused(verifier, mint(claims, rsa_key), "untrusted issuer")
    assert idp.requests == []


def test_too_long_lifetime_is_refused(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """A token whose ``exp - iat`` exceeds the configured maximum is refused."""
    iat = int(NOW.timestamp())
    refused(verifier, mint(clinician_claims(iat=iat, exp=iat + MAX_LIFETIME + 1), rsa_key), "life")


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_required_claims_are_enforced(
    verifier: TokenVerifier, rsa_key: RSAKey, missing: str
) -> None:
    """Tokens without ``exp``, ``iat`` or ``sub`` are refused."""
    with pytest.raises(AuthError):
        verifier.verify(mint(clinician_claims(**{missing: None}), rsa_key))


@pytest.mark.parametrize(
    "overrides",
    [{"amr": "otp"}, {"auth_time": True}, {"sid": 7}, {"exp": float("inf")}, {"scope": 3}],
)
def test_malformed_claims_are_refused(
    verifier: TokenVerifier, rsa_key: RSAKey, overrides: dict[str, Any]
) -> None:
    """Claims of the wrong JSON type (or non-finite dates) are refused rather than coerced."""
    refused(verifier, mint(clinician_claims(**overrides), rsa_key), "malformed claim")


def test_failure_messages_carry_no_token_contents(verifier: TokenVerifier, rsa_key: RSAKey) -> None:
    """An AuthError names the failed check only: no subject, issuer or patient from the token."""
    claims = clinician_claims(iss="https://idp.evil.example/pat-001", aud="user-17")
    error = refused(verifier, mint(claims, rsa_key), "untrusted issuer")
    for secret in ("pat-001", "user-17", "evil", "prac-1"):
        assert secret not in str(error)


# --- tenants -----------------------------------------------------------------------------------


def shared_verifier(http: httpx.Client, clock: FakeClock) -> TokenVerifier:
    shared = IssuerConfig(
        SHARED_ISSUER, AUDIENCE, frozenset({"clinic-b", "clinic-c"}), jwks_uri=f"{ISSUER}/jwks"
    )
    return make_verifier(http, clock, shared)


def test_multi_tenant_issuer_needs_a_tenant_claim(
    http: httpx.Client, clock: FakeClock, rsa_key: RSAKey
) -> None:
    """An issuer serving several tenants must name one of them in the ``tenant`` claim."""
    verifier = shared_verifier(http, clock)
    ok = mint(clinician_claims(iss=SHARED_ISSUER, tenant="clinic-c"), rsa_key)
    assert verifier.verify(ok).tenant == "clinic-c"
    refused(verifier, mint(clinician_claims(iss=SHARED_ISSUER), rsa_key), "tenant")
    other = mint(clinician_claims(iss=SHARED_ISSUER, tenant="clinic-a"), rsa_key)
    refused(verifier, other, "tenant")


def test_single_tenant_issuer_refuses_a_foreign_tenant_claim(
    verifier: TokenVerifier, rsa_key: RSAKey
) -> None:
    """A token naming a tenant its issuer does not serve is refused."""
    refused(verifier, mint(clinician_claims(tenant="clinic-b"), rsa_key), "tenant")


def test_issuer_configs_group_tenants_by_issuer() -> None:
    """Tenants sharing an issuer become one IssuerConfig serving all of them."""
    ehr = EhrSettings(base_url="http://127.0.0.1:1/fhir")
    configs = issuer_configs(
        [
            TenantSettings(id="clinic-a", issuers=[ISSUER, SHARED_ISSUER], ehr=ehr),
            TenantSettings(id="clinic-b", issuers=[SHARED_ISSUER], ehr=ehr),
        ]
    )
    assert configs[ISSUER].tenants == {"clinic-a"}
    assert configs[SHARED_ISSUER].tenants == {"clinic-a", "clinic-b"}


# --- JWKS cache --------------------------------------------------------------------------------


def test_unknown_kid_triggers_one_refetch(
    verifier: TokenVerifier, idp: FakeIdp, rsa_key: RSAKey, clock: FakeClock
) -> None:
    """After a key rotation, the first token with the new kid causes exactly one refetch."""
    verifier.verify(mint(clinician_claims(), rsa_key))
    assert idp.jwks_fetches() == 1
    rotated = RSAKey.generate_key(2048, {"kid": "rsa-2"})
    idp.keys.append(rotated)
    clock.advance(COOLDOWN)
    assert verifier.verify(mint(clinician_claims(), rotated)).role is Role.CLINICIAN
    assert idp.jwks_fetches() == 2
    verifier.verify(mint(clinician_claims(), rotated))
    assert idp.jwks_fetches() == 2


def test_refetch_rate_is_bounded(
    verifier: TokenVerifier, idp: FakeIdp, rsa_key: RSAKey, clock: FakeClock
) -> None:
    """A flood of invented kids causes at most one JWKS fetch per cooldown window."""
    verifier.verify(mint(clinician_claims(), rsa_key))
    clock.advance(COOLDOWN)
    for n in range(50):
        with pytest.raises(AuthError, match="signing key not found"):
            verifier.verify(mint(clinician_claims(), rsa_key, kid=f"invented-{n}"))
    assert idp.jwks_fetches() == 2
    clock.advance(COOLDOWN)
    with pytest.raises(AuthError):
        verifier.verify(mint(clinician_claims(), rsa_key, kid="invented-again"))
    assert idp.jwks_fetches() == 3


def test_keys_are_refetched_after_the_ttl(
    verifier: TokenVerifier, idp: FakeIdp, rsa_key: RSAKey, clock: FakeClock
) -> None:
    """Cached keys are reused within the TTL and fetched again once it has passed."""
    verifier.verify(mint(clinician_claims(), rsa_key))
    clock.advance(100)
    verifier.verify(mint(clinician_claims(), rsa_key))
    assert idp.jwks_fetches() == 1
    clock.advance(JwksLimits().ttl_seconds)
    now = int(clock.now.timestamp())
    verifier.verify(mint(clinician_claims(iat=now, exp=now + 60), rsa_key))
    assert idp.jwks_fetches() == 2


def test_unreachable_jwks_fails_closed(clock: FakeClock, rsa_key: RSAKey) -> None:
    """When the JWKS cannot be fetched, tokens are refused (and not refetched at once)."""
    calls: list[str] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(down)) as client:
        verifier = make_verifier(client, clock)
        for _ in range(3):
            refused(verifier, mint(clinician_claims(), rsa_key), "issuer keys unavailable")
    assert len(calls) == 1


def test_discovery_finds_the_jwks_uri(
    http: httpx.Client, clock: FakeClock, idp: FakeIdp, rsa_key: RSAKey
) -> None:
    """With discovery on, the JWKS location comes from the issuer's OpenID metadata."""
    config = IssuerConfig(ISSUER, AUDIENCE, frozenset({"clinic-a"}), discover=True)
    verifier = make_verifier(http, clock, config)
    assert verifier.verify(mint(clinician_claims(), rsa_key)).tenant == "clinic-a"
    assert idp.requests == ["/.well-known/openid-configuration", "/keys/discovered"]


def test_discovery_metadata_for_another_issuer_is_refused(
    http: httpx.Client, clock: FakeClock, idp: FakeIdp, rsa_key: RSAKey
) -> None:
    """Metadata whose ``issuer`` differs from the configured issuer is not trusted."""
    idp.metadata_issuer = "https://idp.evil.example"
    config = IssuerConfig(ISSUER, AUDIENCE, frozenset({"clinic-a"}), discover=True)
    verifier = make_verifier(http, clock, config)
    refused(verifier, mint(clinician_claims(), rsa_key), "metadata")


# --- the scribe can never be a clinician -------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"scope": "chartgate/drafts.approve"}, id="client-token-with-approve"),
        pytest.param(
            {"scope": "chartgate/drafts.submit chartgate/drafts.approve"}, id="submit-and-approve"
        ),
        pytest.param(
            {
                "scope": "chartgate/drafts.submit chartgate/drafts.approve",
                "fhirUser": "Practitioner/prac-1",
            },
            id="submit-and-approve-with-fhirUser",
        ),
        pytest.param(
            {"scope": "chartgate/drafts.approve", "fhirUser": "Practitioner/prac-1"},
            id="client-credentials-sub-equals-client-id",
        ),
        pytest.param(
            {"scope": "chartgate/drafts.approve", "fhirUser": "Patient/pat-001"},
            id="fhirUser-not-a-practitioner",
        ),
        pytest.param(
            {"scope": "chartgate/drafts.submit", "fhirUser": "Practitioner/prac-1"},
            id="submit-with-fhirUser",
        ),
        pytest.param({"scope": "openid"}, id="no-role-scope"),
        pytest.param({"scope": "chartgate/admin chartgate/drafts.submit"}, id="admin-and-submit"),
    ],
)
def test_scribe_token_cannot_become_a_clinician(
    verifier: TokenVerifier, rsa_key: RSAKey, overrides: dict[str, Any]
) -> None:
    """Scribe client tokens with approve scopes, mixed scopes or a fhirUser are refused."""
    with pytest.raises(AuthError):
        verifier.verify(mint(scribe_claims(**overrides), rsa_key))


def test_configured_scribe_client_cannot_become_a_clinician(
    http: httpx.Client, clock: FakeClock, rsa_key: RSAKey
) -> None:
    """Even a person-shaped token is refused as clinician when its client is a scribe client."""
    config = IssuerConfig(
        ISSUER, AUDIENCE, frozenset({"clinic-a"}), scribe_client_ids=frozenset({"scribe-app"})
    )
    verifier = make_verifier(http, clock, config)
    person_shaped = clinician_claims(azp="scribe-app")
    refused(verifier, mint(person_shaped, rsa_key), "scribe client may only submit")
    assert verifier.verify(mint(scribe_claims(), rsa_key)).role is Role.SCRIBE
