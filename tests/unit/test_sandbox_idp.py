"""The dev identity provider: its tokens verify against its own JWKS."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from chartgate.sandbox.idp import MFA_ACR, DevIdentityProvider, generate_signing_keys
from chartgate.sandbox.idp_http import create_idp_router

pytestmark = pytest.mark.anyio

ISSUER = "http://testserver/idp"


@pytest.fixture(scope="module")
def idp():
    return DevIdentityProvider(ISSUER)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def client(idp):
    app = FastAPI()
    app.include_router(create_idp_router(idp), prefix="/idp")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client


def verify(token: str, jwks: dict[str, object], algorithms=("RS256", "ES256")) -> dict:
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=list(algorithms))
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": "chartgate"},
        exp={"essential": True},
    ).validate(decoded.claims)
    return decoded.claims


def test_minted_token_verifies_against_the_jwks(idp):
    """An RS256 token carries the asked claims and verifies with the published keys."""
    token = idp.mint(
        subject="clinician-dana",
        scopes=["openid", "user/DocumentReference.cu"],
        tenant="clinic-a",
        fhir_user="Practitioner/prac-001",
        patient="pat-001",
        encounter="enc-001",
        sid="session-1",
    )
    claims = verify(token, idp.jwks())
    assert claims["sub"] == "clinician-dana"
    assert claims["scope"] == "openid user/DocumentReference.cu"
    assert claims["tenant"] == "clinic-a"
    assert claims["fhirUser"] == "Practitioner/prac-001"
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["acr"] == MFA_ACR
    assert claims["auth_time"] == claims["iat"]
    assert (claims["patient"], claims["encounter"], claims["sid"]) == (
        "pat-001",
        "enc-001",
        "session-1",
    )
    assert claims["exp"] - claims["iat"] == 300


def test_es256_tokens_verify_too(idp):
    """The ES256 key signs as well, and its token names that key's kid."""
    token = idp.mint(subject="x", scopes=[], alg="ES256")
    decoded = jwt.decode(token, KeySet.import_key_set(idp.jwks()), algorithms=["ES256"])
    assert decoded.header["alg"] == "ES256"
    assert decoded.header["kid"] in {k["kid"] for k in idp.jwks()["keys"]}


def test_jwks_holds_no_private_key_material(idp):
    """The published key set contains public keys only."""
    for key in idp.jwks()["keys"]:
        assert "d" not in key
        assert key["use"] == "sig"


def test_a_token_from_another_provider_does_not_verify(idp):
    """A token signed by a different dev IdP fails against this JWKS."""
    stranger = DevIdentityProvider(ISSUER)
    token = stranger.mint(subject="x", scopes=[])
    with pytest.raises(JoseError):
        jwt.decode(token, KeySet.import_key_set(idp.jwks()), algorithms=["RS256"])


def test_negative_lifetime_makes_an_expired_token(idp):
    """lifetime_seconds below zero mints a token the verifier rejects as expired."""
    token = idp.mint(subject="x", scopes=[], lifetime_seconds=-10)
    with pytest.raises(ExpiredTokenError):
        verify(token, idp.jwks())


def test_step_up_claims_can_be_set(idp):
    """amr, acr and auth_time are minted exactly as given (for step-up tests)."""
    long_ago = int(time.time()) - 3600
    claims = verify(
        idp.mint(subject="x", scopes=[], amr=["pwd"], acr=None, auth_time=long_ago), idp.jwks()
    )
    assert claims["amr"] == ["pwd"]
    assert "acr" not in claims
    assert claims["auth_time"] == long_ago


async def test_discovery_points_at_the_jwks_and_token_endpoint(client):
    """The discovery document names the issuer and its endpoints under it."""
    document = (await client.get("/idp/.well-known/openid-configuration")).json()
    assert document["issuer"] == ISSUER
    assert document["jwks_uri"] == f"{ISSUER}/jwks"
    assert document["token_endpoint"] == f"{ISSUER}/token"


async def test_token_endpoint_mints_for_a_demo_principal(client):
    """POST /token with form fields returns a bearer token that verifies via GET /jwks."""
    answer = await client.post(
        "/idp/token",
        data={"principal": "clinician", "patient": "pat-001", "tenant": "clinic-a"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["patient"] == "pat-001"
    claims = verify(body["access_token"], (await client.get("/idp/jwks")).json())
    assert claims["role"] == "clinician"
    assert claims["tenant"] == "clinic-a"
    assert claims["fhirUser"] == "Practitioner/prac-001"


async def test_token_endpoint_overrides_scope_and_amr(client):
    """The form's scope and amr fields replace the demo principal's defaults."""
    answer = await client.post(
        "/idp/token", data={"principal": "scribe", "scope": "a b", "amr": "pwd"}
    )
    body = answer.json()
    claims = verify(body["access_token"], (await client.get("/idp/jwks")).json())
    assert claims["scope"] == "a b"
    assert claims["amr"] == ["pwd"]
    assert claims["client_id"] == "scribe-demo-client"


@pytest.mark.parametrize(
    "form",
    [
        {"principal": "nobody"},
        {"principal": "clinician", "colour": "blue"},
        {"principal": "clinician", "alg": "none"},
        {"principal": "clinician", "lifetime_seconds": "soon"},
    ],
)
async def test_token_endpoint_refuses_bad_requests(client, form):
    """An unknown principal, field, algorithm or lifetime answers 400 invalid_request."""
    answer = await client.post("/idp/token", data=form)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_an_idp_given_signing_keys_signs_with_them():
    """Keys passed in are the ones published and used: a token verifies with their public JWKS."""
    keys = generate_signing_keys()
    given = DevIdentityProvider(ISSUER, signing_keys=keys)
    public = {"keys": [key.as_dict(private=False) for key in keys.values()]}
    assert given.jwks() == public
    token = given.mint(subject="scribe", scopes=["chartgate/drafts.submit"], tenant="clinic-a")
    assert verify(token, public)["sub"] == "scribe"


def test_two_idps_without_given_keys_do_not_share_them():
    """Each IdP left to itself generates its own keys, so one issuer's token fails the other's."""
    first, second = DevIdentityProvider(ISSUER), DevIdentityProvider(ISSUER)
    token = first.mint(subject="scribe", scopes=["chartgate/drafts.submit"], tenant="clinic-a")
    with pytest.raises(JoseError):
        verify(token, second.jwks())


def test_signing_keys_without_both_algorithms_are_refused():
    """An RS256 key alone is not a key set the IdP can sign every token with."""
    keys = generate_signing_keys()
    with pytest.raises(ValueError, match="RS256 and one ES256"):
        DevIdentityProvider(ISSUER, signing_keys={"RS256": keys["RS256"]})
