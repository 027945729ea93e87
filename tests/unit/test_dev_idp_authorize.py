"""The dev IdP's authorization code flow: PKCE S256, single-use codes, step-up on request."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from chartgate.sandbox.authorize import SSO_COOKIE, s256
from chartgate.sandbox.idp import MFA_ACR, DevIdentityProvider
from chartgate.sandbox.idp_http import create_idp_router

pytestmark = pytest.mark.anyio

ISSUER = "http://testserver/idp"
REDIRECT = "http://127.0.0.1:8080/review/callback"
VERIFIER = "v" * 20 + "-synthetic-verifier-for-tests-0123456789"


@pytest.fixture
def idp() -> DevIdentityProvider:
    return DevIdentityProvider(ISSUER, default_tenant="clinic-a")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def client(idp: DevIdentityProvider):
    app = FastAPI()
    app.include_router(create_idp_router(idp), prefix="/idp")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "chartgate-reviewer",
        "redirect_uri": REDIRECT,
        "scope": "openid fhirUser",
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


async def press_the_button(client, **overrides: str) -> str:
    """Sign in on the dev page; return the code the redirect carries."""
    answer = await client.post("/idp/authorize", data=authorize_params(**overrides))
    assert answer.status_code == 303, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == [overrides.get("state", "state-1")]
    return query["code"][0]


async def redeem(client, code: str, verifier: str = VERIFIER, **overrides: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "chartgate-reviewer",
        "code_verifier": verifier,
    }
    data.update(overrides)
    return await client.post("/idp/token", data=data)


async def claims_of(client, token: str) -> dict:
    keys = KeySet.import_key_set((await client.get("/idp/jwks")).json())
    return jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims


async def test_discovery_advertises_the_code_flow_with_s256(client) -> None:
    """The metadata names the authorization endpoint, the code grant and S256 only."""
    meta = (await client.get("/idp/.well-known/openid-configuration")).json()
    assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert "authorization_code" in meta["grant_types_supported"]
    assert meta["code_challenge_methods_supported"] == ["S256"]


async def test_first_visit_shows_the_sign_in_button(client) -> None:
    """Without an IdP session the page asks, with one button."""
    answer = await client.get("/idp/authorize", params=authorize_params())
    assert answer.status_code == 200
    assert "Sign in as demo clinician" in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


async def test_code_exchange_returns_an_id_token_and_an_access_token(client) -> None:
    """The code buys an ID token for the client and an access token for chartgate."""
    answer = await redeem(client, await press_the_button(client))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    id_token = await claims_of(client, body["id_token"])
    access = await claims_of(client, body["access_token"])
    assert id_token["aud"] == "chartgate-reviewer"
    assert id_token["nonce"] == "nonce-1"
    assert access["aud"] == "chartgate"
    assert access["sub"] == id_token["sub"] == "clinician-dana"
    assert access["sid"] == id_token["sid"]
    assert access["tenant"] == "clinic-a"
    assert access["acr"] == MFA_ACR
    assert abs(access["auth_time"] - time.time()) < 5
    assert "chartgate/drafts.approve" in access["scope"].split()


async def test_a_wrong_code_verifier_is_refused(client) -> None:
    """PKCE: the verifier must hash to the challenge."""
    answer = await redeem(client, await press_the_button(client), verifier="w" * 60)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_a_code_works_once(client) -> None:
    """A replayed code is refused."""
    code = await press_the_button(client)
    assert (await redeem(client, code)).status_code == 200
    assert (await redeem(client, code)).status_code == 400


async def test_the_code_is_bound_to_its_client_and_redirect_uri(client) -> None:
    """Another client id or redirect URI cannot redeem it."""
    refused = await redeem(client, await press_the_button(client), client_id="other")
    assert refused.status_code == 400
    other = "http://127.0.0.1:9/elsewhere"
    refused = await redeem(client, await press_the_button(client), redirect_uri=other)
    assert refused.status_code == 400


async def test_plain_pkce_and_missing_challenge_are_refused(client) -> None:
    """Only S256: plain or no challenge goes back as an OAuth error."""
    for overrides in ({"code_challenge_method": "plain"}, {"code_challenge": ""}):
        answer = await client.get("/idp/authorize", params=authorize_params(**overrides))
        assert answer.status_code == 303
        assert "error=invalid_request" in answer.headers["location"]


async def test_only_loopback_redirect_uris_are_served(client) -> None:
    """The dev IdP never redirects off the machine."""
    answer = await client.get(
        "/idp/authorize", params=authorize_params(redirect_uri="https://evil.example/cb")
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers


async def test_a_signed_in_browser_is_approved_at_once_unless_asked_to_log_in(client) -> None:
    """SSO: the second visit redirects straight back; prompt=login asks again."""
    await press_the_button(client)
    assert client.cookies.get(SSO_COOKIE)
    again = await client.get("/idp/authorize", params=authorize_params())
    assert again.status_code == 303
    assert "code=" in again.headers["location"]
    forced = await client.get("/idp/authorize", params=authorize_params(prompt="login"))
    assert forced.status_code == 200
    assert "Re-authentication requested" in forced.text


async def test_step_up_gives_the_requested_acr_and_a_fresh_auth_time_in_the_same_session(
    client,
) -> None:
    """acr_values the sign-in did not reach make the IdP ask; the new token carries them."""
    tokens = (await redeem(client, await press_the_button(client))).json()
    first = await claims_of(client, tokens["access_token"])
    asked = await client.get(
        "/idp/authorize",
        params=authorize_params(acr_values="urn:chartgate:acr:step-up", max_age="300"),
    )
    assert asked.status_code == 200
    code = await press_the_button(client, acr_values="urn:chartgate:acr:step-up", max_age="300")
    second = await claims_of(client, (await redeem(client, code)).json()["access_token"])
    assert second["acr"] == "urn:chartgate:acr:step-up"
    assert second["sid"] == first["sid"]
    assert second["auth_time"] >= first["auth_time"]


async def test_prompt_none_without_a_session_answers_login_required(client) -> None:
    """prompt=none never shows a page."""
    answer = await client.get("/idp/authorize", params=authorize_params(prompt="none"))
    assert answer.status_code == 303
    assert "error=login_required" in answer.headers["location"]
