"""The reviewer page's ID-token check uses the API's hardened JWKS stack (issue 11/12).

A fake identity provider (``httpx.MockTransport``) serves discovery and a JWKS; before,
the page imported whatever key set the provider sent, read it whole and fetched it on every
sign-in. Now keys come through ``adapters.identity.jwks.JwksCache``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from chartgate.web.oidc import OidcClient, SignInFailed

ISSUER = "https://idp.example"
CLIENT = "chartgate-reviewer"
NONCE = "n-0123456789"


def _provider(keys: list[dict[str, Any]], counter: list[int]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
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
            counter.append(1)
            return httpx.Response(200, content=json.dumps({"keys": keys}).encode())
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def _client(keys: list[dict[str, Any]], counter: list[int]) -> OidcClient:
    transport = _provider(keys, counter)
    return OidcClient(CLIENT, http=lambda: httpx.Client(transport=transport))


def _id_token(key: RSAKey, kid: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "dr-1", "nonce": NONCE, "exp": now + 300}
    return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)


def _public(key: RSAKey, kid: str) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": kid, "use": "sig"}


def test_an_id_token_signed_by_a_published_key_is_accepted_and_keys_are_cached() -> None:
    """Control: a 2048-bit key verifies; a second sign-in does not fetch the JWKS again."""
    key = RSAKey.generate_key(2048)
    fetches: list[int] = []
    client = _client([_public(key, "k1")], fetches)
    meta = client.metadata(ISSUER)
    for _ in range(2):
        claims = client.id_token_claims(meta, _id_token(key, "k1"), nonce=NONCE)
        assert claims["sub"] == "dr-1"
    assert len(fetches) == 1


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")  # the short key is the point
def test_an_id_token_signed_by_a_short_rsa_key_is_refused() -> None:
    """A 1024-bit RSA key in the provider's JWKS is not trusted (RFC 8017 / NIST: >= 2048)."""
    weak = RSAKey.generate_key(1024)
    client = _client([_public(weak, "weak")], [])
    meta = client.metadata(ISSUER)
    with pytest.raises(SignInFailed):
        client.id_token_claims(meta, _id_token(weak, "weak"), nonce=NONCE)


def test_an_oversized_key_set_is_not_read_whole() -> None:
    """A JWKS padded past 64 KiB is refused instead of parsed."""
    key = RSAKey.generate_key(2048)
    padded = [_public(key, "k1"), {"kty": "oct", "k": "A" * 100_000, "kid": "pad"}]
    client = _client(padded, [])
    meta = client.metadata(ISSUER)
    with pytest.raises(SignInFailed):
        client.id_token_claims(meta, _id_token(key, "k1"), nonce=NONCE)


def _token(key: RSAKey, claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    """One provider key for the claim tests."""
    return RSAKey.generate_key(2048)


def changed(claims: dict[str, Any], change: dict[str, Any], now: int) -> dict[str, Any]:
    """``claims`` with ``change``: None drops a claim; ``exp``/``iat`` are offsets from now."""
    out = dict(claims)
    for name, value in change.items():
        if value is None:
            out.pop(name, None)
        elif name in {"exp", "iat"}:
            out[name] = now + value
        else:
            out[name] = value
    return out


ID_CLAIMS: dict[str, Any] = {"iss": ISSUER, "aud": CLIENT, "sub": "dr-1", "nonce": NONCE}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"exp": -61}, "has expired"),  # past exp and the 60 s leeway
        ({"exp": None}, "has expired"),  # no exp at all
        ({"nonce": "another-sign-in"}, "(nonce)"),
        ({"nonce": None}, "(nonce)"),
        ({"sub": None}, "names no subject"),
        ({"iss": "https://idp.evil.example"}, "names another issuer"),
        ({"aud": "another-client"}, "not meant for chartgate's reviewer page"),
        ({"aud": [CLIENT, "another-client"]}, "authorized party"),  # no azp naming us
        ({"iat": 120}, "issued in the future"),  # beyond the leeway
    ],
)
def test_an_id_token_with_a_refused_claim_is_refused(
    signing_key: RSAKey, change: dict[str, Any], refusal: str
) -> None:
    """Each claim OpenID Connect Core 3.1.3.7 requires is checked, and the refusal says which."""
    now = int(time.time())
    claims = changed({**ID_CLAIMS, "exp": now + 300, "iat": now}, change, now)
    client = _client([_public(signing_key, "k1")], [])
    meta = client.metadata(ISSUER)
    with pytest.raises(SignInFailed, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        client.id_token_claims(meta, _token(signing_key, claims), nonce=NONCE)


def test_an_id_token_just_inside_the_leeway_is_accepted(signing_key: RSAKey) -> None:
    """Control: expired 30 s ago (leeway 60 s), several audiences with ``azp`` naming the page."""
    now = int(time.time())
    claims = {**ID_CLAIMS, "exp": now - 30, "iat": now, "aud": [CLIENT, "x"], "azp": CLIENT}
    client = _client([_public(signing_key, "k1")], [])
    meta = client.metadata(ISSUER)
    assert client.id_token_claims(meta, _token(signing_key, claims), nonce=NONCE)["sub"] == "dr-1"


LOGOUT_EVENT: dict[str, Any] = {"http://schemas.openid.net/event/backchannel-logout": {}}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"iat": None}, "no usable iat"),
        ({"iat": 120}, "no usable iat"),
        ({"exp": -61}, "logout token has expired"),
        ({"aud": "another-client"}, "not meant for chartgate's reviewer page"),
        ({"iss": "https://idp.evil.example"}, "names another issuer"),
    ],
)
def test_a_logout_token_with_a_refused_claim_is_refused(
    signing_key: RSAKey, change: dict[str, Any], refusal: str
) -> None:
    """Back-Channel Logout 2.6: iss, aud, iat (and exp when present) are checked."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": now,
        "sid": "s-1",
        "events": LOGOUT_EVENT,
    }
    client = _client([_public(signing_key, "k1")], [])
    meta = client.metadata(ISSUER)
    with pytest.raises(SignInFailed, match=refusal):
        client.logout_token_claims(meta, _token(signing_key, changed(claims, change, now)))
    assert client.logout_token_claims(meta, _token(signing_key, claims))["sid"] == "s-1"  # control
