"""SMART EHR launch and identity-provider logout, below the browser (issue 16 item 1).

The EHR's SMART configuration and the identity provider are fakes (``httpx.MockTransport``);
the browser-level story runs in tests/e2e/test_ehr_launch.py against oidc-provider.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from chartgate.settings import EhrLaunchSettings, EhrSettings, Settings, TenantSettings
from chartgate.web import smart_launch
from chartgate.web.oidc import BACKCHANNEL_EVENT, OidcClient, SignInFailed, Tokens
from chartgate.web.security import FramePolicy
from chartgate.web.session import SessionLimits, SessionStore

ISSUER = "https://idp.ehr.example"
FHIR = "https://fhir.ehr.example/r4"
CLIENT = "chartgate-reviewer"
KEY = RSAKey.generate_key(2048)


def _settings(**launch: Any) -> Settings:
    return Settings(
        tenants=[
            TenantSettings(
                id="clinic-a",
                issuers=[ISSUER],
                ehr=EhrSettings(base_url=FHIR),
                ehr_launch=EhrLaunchSettings(**launch),
            ),
            TenantSettings(
                id="clinic-b", issuers=[ISSUER], ehr=EhrSettings(base_url="https://b.example/r4")
            ),
        ]
    )


def _smart(**overrides: Any) -> dict[str, Any]:
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["launch-ehr", "client-public"],
    }
    document.update(overrides)
    return document


def _client(smart: dict[str, Any]) -> OidcClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/r4/.well-known/smart-configuration":
            return httpx.Response(200, json=smart)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if request.url.path == "/jwks":
            public = {**KEY.as_dict(private=False), "kid": "k1", "use": "sig"}
            return httpx.Response(200, content=json.dumps({"keys": [public]}).encode())
        return httpx.Response(404)

    transport = httpx.MockTransport(handle)
    return OidcClient(CLIENT, http=lambda: httpx.Client(transport=transport))


def test_a_launch_is_matched_to_the_tenant_by_iss_and_unknown_ones_are_refused() -> None:
    """``iss`` names the tenant (final slash ignored); another EHR's iss or no launch: refused."""
    settings = _settings()
    assert smart_launch.tenant_for(settings, FHIR + "/", "abc").id == "clinic-a"
    with pytest.raises(smart_launch.LaunchRefused, match="unknown iss"):
        smart_launch.tenant_for(settings, "https://b.example/r4", "abc")  # no ehr_launch there
    with pytest.raises(smart_launch.LaunchRefused, match="both"):
        smart_launch.tenant_for(settings, FHIR, None)
    with pytest.raises(smart_launch.LaunchRefused, match="not readable"):
        smart_launch.tenant_for(settings, FHIR, "has space")


def test_the_smart_configuration_must_name_a_trusted_issuer_and_agree_with_it() -> None:
    """Another issuer, no S256, no launch-ehr, or other endpoints than discovery: refused."""
    tenant = _settings().tenants[0]
    found = smart_launch.discover(_client(_smart()), tenant, FHIR, "L1")
    assert found.meta.issuer == ISSUER
    assert found.iss == FHIR
    refusals = {
        "does not trust": _smart(issuer="https://evil.example"),
        "PKCE": _smart(code_challenge_methods_supported=["plain"]),
        "EHR launch": _smart(capabilities=["launch-standalone"]),
        "disagree": _smart(token_endpoint="https://evil.example/token"),
    }
    for words, document in refusals.items():
        with pytest.raises(SignInFailed, match=words):
            smart_launch.discover(_client(document), tenant, FHIR, "L1")


def test_the_authorization_request_carries_launch_aud_and_the_launch_scope() -> None:
    """SMART App Launch 2.2: scope has launch, ``launch`` and ``aud`` = iss are passed."""
    client = _client(_smart())
    meta = client.metadata(ISSUER)
    url = client.authorization_url(
        meta,
        redirect_uri="https://cg.example/review/callback",
        state="s",
        nonce="n",
        verifier="v" * 50,
        max_age=None,
        launch=("L1", FHIR),
        extra_scopes=("chartgate/drafts.approve",),
    )
    query = httpx.URL(url).params
    assert query["scope"] == "openid fhirUser launch chartgate/drafts.approve"
    assert query["launch"] == "L1"
    assert query["aud"] == FHIR
    assert query["code_challenge_method"] == "S256"
    assert "max_age" not in query


def test_the_launch_context_comes_from_the_token_answer_and_must_match_the_token() -> None:
    """patient/encounter from the token answer; an access token naming others is refused."""
    tokens = Tokens("at", "it", patient="pat-1", encounter="Encounter/enc-1")
    found = smart_launch.launch_context(tokens, token_patient=None, token_encounter=None, base=FHIR)
    assert (found.patient, found.encounter) == ("Patient/pat-1", "Encounter/enc-1")
    same = smart_launch.launch_context(
        tokens, token_patient="Patient/pat-1", token_encounter=f"{FHIR}/Encounter/enc-1", base=FHIR
    )
    assert same == found
    with pytest.raises(SignInFailed, match="disagree"):
        smart_launch.launch_context(tokens, token_patient=None, token_encounter="enc-2", base=FHIR)
    with pytest.raises(SignInFailed, match="not a reference"):
        smart_launch.launch_context(
            Tokens("at", "it", encounter="https://other.example/Encounter/enc-1"),
            token_patient=None,
            token_encounter=None,
            base=FHIR,
        )


def _logout_token(**claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": int(time.time()),
        "jti": "j1",
        "sid": "sid-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, body, KEY)


def test_a_logout_token_is_checked_like_the_spec_says() -> None:
    """Back-Channel Logout §2.6: event, sid/sub, no nonce, for us, signed by the issuer."""
    client = _client(_smart())
    meta = client.metadata(ISSUER)
    assert client.logout_token_claims(meta, _logout_token())["sid"] == "sid-1"
    bad = {
        "back-channel logout event": _logout_token(events={"other": {}}),
        "nonce": _logout_token(nonce="n"),
        "neither": _logout_token(sid=None),
        "not meant": _logout_token(aud="someone-else"),
        "another issuer": _logout_token(iss="https://evil.example"),
    }
    for words, token in bad.items():
        with pytest.raises(SignInFailed, match=words):
            client.logout_token_claims(meta, token)
    forged = jwt.encode(
        {"alg": "RS256", "kid": "k1"},
        {"iss": ISSUER, "aud": CLIENT, "iat": 1, "sid": "x", "events": {BACKCHANNEL_EVENT: {}}},
        RSAKey.generate_key(2048),
    )
    with pytest.raises(SignInFailed, match="signature"):
        client.logout_token_claims(meta, forged)


def test_a_logout_ends_the_sessions_of_that_sign_in_only() -> None:
    """By sid: that sign-in's sessions; by sub: that person's at that issuer; nothing else."""
    store = SessionStore(SessionLimits(idle=900, absolute=3600))

    def new(sub: str, sid: str, issuer: str = ISSUER) -> str:
        return store.create(tenant="t", subject=sub, sid=sid, issuer=issuer, access_token="a").id

    one, two, other, elsewhere = (
        new("dr", "s1"),
        new("dr", "s2"),
        new("dr2", "s3"),
        new("dr", "s1", "x"),
    )
    assert store.end_for(ISSUER, sid="s1", subject=None) == 1
    assert store.peek(one) is None
    assert store.peek(two) is not None
    assert store.peek(elsewhere) is not None
    assert store.end_for(ISSUER, sid=None, subject="dr") == 1
    assert store.peek(two) is None
    assert store.peek(other) is not None
    assert store.end_for(ISSUER, sid=None, subject=None) == 0


def test_frame_ancestors_are_per_tenant() -> None:
    """Tenant A's EHR may frame A's pages; B's pages and pages of no tenant: not framed."""
    policy = FramePolicy(
        issuers=[ISSUER], default=[], tenants={"a": ["https://ehr-a.example"], "b": []}
    )
    a = policy.headers_for(tenant="a")["Content-Security-Policy"]
    assert "frame-ancestors https://ehr-a.example;" in a
    assert "X-Frame-Options" not in policy.headers_for(tenant="a")
    for headers in (policy.headers_for(tenant="b"), policy.headers_for()):
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
    idp = policy.headers_for(origins=["https://idp.example"])["Content-Security-Policy"]
    assert "frame-ancestors https://idp.example;" in idp


def test_launch_settings_take_origins_and_scopes_only() -> None:
    """frame_ancestors are origins (no path); scopes are OAuth scope tokens."""
    with pytest.raises(ValueError, match="origins"):
        EhrLaunchSettings(frame_ancestors=["https://ehr.example/path"])
    with pytest.raises(ValueError, match="scope"):
        EhrLaunchSettings(scopes=['bad"scope'])
    assert _settings(iss=FHIR + "/other").tenants[0].launch_iss() == FHIR + "/other"


def test_two_tenants_cannot_launch_with_the_same_iss() -> None:
    """An iss naming two tenants would make a launch ambiguous: refused at start-up."""
    launch = EhrLaunchSettings()
    with pytest.raises(ValueError, match="same iss"):
        Settings(
            tenants=[
                TenantSettings(
                    id=t, issuers=[ISSUER], ehr=EhrSettings(base_url=FHIR), ehr_launch=launch
                )
                for t in ("a", "b")
            ]
        )
