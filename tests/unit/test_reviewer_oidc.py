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
