"""Forged, broken and misused bearer tokens: every one is a 401, and nothing changes.

Each attack token is sent twice, to a read (``GET /v1/drafts/{id}``) and to the most
dangerous mutation (``POST /v1/drafts/{id}/approve``); both must be refused with 401 and a
``WWW-Authenticate: Bearer`` challenge, and the world must be unchanged (``unchanged``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from joserfc.jwk import ECKey, RSAKey

from security.conftest import TENANT_A, TENANT_B, TwoTenants, refused

pytestmark = pytest.mark.usefixtures("unchanged")

Attack = Callable[[TwoTenants], str]


# -- crafting -------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: Any) -> str:
    return b64(json.dumps(obj).encode())


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def rsa_sign(
    key: RSAKey,
    header: dict[str, Any],
    claims: dict[str, Any],
    *,
    pss: bool = False,
    digest: hashes.HashAlgorithm | None = None,
) -> str:
    """Sign any header/claims with an RSA key, bypassing the library's own checks."""
    signing_input = f"{segment(header)}.{segment(claims)}".encode()
    pad = (
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        if pss
        else padding.PKCS1v15()
    )
    signature = key.raw_value.sign(signing_input, pad, digest or hashes.SHA256())
    return f"{signing_input.decode()}.{b64(signature)}"


def real_key(stack: TwoTenants, tenant: str = TENANT_A) -> RSAKey:
    key = stack.sandbox(tenant).idp._keys["RS256"]
    assert isinstance(key, RSAKey)
    return key


def good_claims(stack: TwoTenants, **changes: Any) -> dict[str, Any]:
    """The claims of a valid clinician token, with ``changes`` (None deletes a claim)."""
    _, claims, _ = parts(stack.clinician_token())
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def signed(stack: TwoTenants, header_changes: dict[str, Any] | None = None, **changes: Any) -> str:
    """A token signed by tenant A's real key, with changed claims/header."""
    key = real_key(stack)
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT", **(header_changes or {})}
    return rsa_sign(key, header, good_claims(stack, **changes))


def foreign(kid: str | None, **header_extra: Any) -> Attack:
    """A well-formed token signed by a key the issuer never published."""

    def attack(stack: TwoTenants) -> str:
        attacker = RSAKey.generate_key(2048)
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", **header_extra}
        if kid == "real":
            header["kid"] = real_key(stack).kid
        elif kid is not None:
            header["kid"] = kid
        if header_extra.get("jwk") == "attacker":
            header["jwk"] = attacker.as_dict(private=False)
        return rsa_sign(attacker, header, good_claims(stack))

    return attack


def alg_none(alg: str) -> Attack:
    def attack(stack: TwoTenants) -> str:
        return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(good_claims(stack))}."

    return attack


def hs256_with(secret_of: Callable[[TwoTenants], bytes]) -> Attack:
    """Algorithm confusion: HMAC keyed with public material the attacker can read."""

    def attack(stack: TwoTenants) -> str:
        header = {"alg": "HS256", "typ": "JWT", "kid": real_key(stack).kid}
        signing_input = f"{segment(header)}.{segment(good_claims(stack))}".encode()
        mac = hmac.new(secret_of(stack), signing_input, hashlib.sha256).digest()
        return f"{signing_input.decode()}.{b64(mac)}"

    return attack


def tampered(change: Callable[[dict[str, Any], dict[str, Any]], None]) -> Attack:
    """A valid token whose header or payload was edited after signing."""

    def attack(stack: TwoTenants) -> str:
        token = stack.clinician_token()
        header, claims, signature = parts(token)
        change(header, claims)
        return f"{segment(header)}.{segment(claims)}.{signature}"

    return attack


def minted(issuer_of: str = TENANT_A, **overrides: Any) -> Attack:
    """A token a real issuer signed, with claims that must still be refused."""
    return lambda stack: stack.clinician_token(issuer_of, **overrides)


def es256_under_rs256_header(stack: TwoTenants) -> str:
    """The issuer's EC key signs, but the header claims RS256 and the RSA kid."""
    ec_key = stack.a.idp._keys["ES256"]
    assert isinstance(ec_key, ECKey)
    header = {"alg": "RS256", "kid": real_key(stack).kid, "typ": "JWT"}
    signing_input = f"{segment(header)}.{segment(good_claims(stack))}".encode()
    signature = ec_key.raw_value.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    return f"{signing_input.decode()}.{b64(signature)}"


now = lambda: int(time.time())  # noqa: E731

ATTACKS: dict[str, Attack] = {
    "alg-none": alg_none("none"),
    "alg-None": alg_none("None"),
    "alg-empty": alg_none(""),
    "hs256-keyed-with-public-pem": hs256_with(lambda s: real_key(s).as_pem(private=False)),
    "hs256-keyed-with-public-jwk": hs256_with(
        lambda s: json.dumps(real_key(s).as_dict(private=False)).encode()
    ),
    "unknown-kid": foreign("attacker-key-1"),
    "key-not-in-jwks-with-real-kid": foreign("real"),
    "key-not-in-jwks-without-kid": foreign(None),
    "embedded-jwk-header": foreign("attacker-key-2", jwk="attacker"),
    "jku-header-to-attacker": foreign("attacker-key-3", jku="http://127.0.0.1:9/jwks"),
    "es256-signature-under-rs256-header": es256_under_rs256_header,
    "ps256-not-allowlisted": lambda s: rsa_sign(
        real_key(s), {"alg": "PS256", "kid": real_key(s).kid}, good_claims(s), pss=True
    ),
    "rs512-not-allowlisted": lambda s: rsa_sign(
        real_key(s),
        {"alg": "RS512", "kid": real_key(s).kid},
        good_claims(s),
        digest=hashes.SHA512(),
    ),
    "expired": minted(issued_at=now() - 900, lifetime_seconds=300, auth_time=now() - 900),
    "expired-past-leeway": minted(issued_at=now() - 400, lifetime_seconds=300),
    "not-yet-valid-nbf": lambda s: signed(s, nbf=now() + 600),
    "issued-in-the-future": lambda s: signed(s, iat=now() + 600, exp=now() + 900),
    "wrong-iss": lambda s: signed(s, iss="https://idp.evil.example"),
    "other-tenants-iss-with-our-key": lambda s: signed(s, iss=s.b.issuer),
    "wrong-aud": minted(audience="some-other-api"),
    "aud-list-without-chartgate": lambda s: signed(s, aud=["api-1", "api-2"]),
    "over-long-lifetime": minted(lifetime_seconds=7200),
    "missing-exp": lambda s: signed(s, exp=None),
    "missing-iat": lambda s: signed(s, iat=None),
    "exp-as-string": lambda s: signed(s, exp=str(now() + 300)),
    "missing-sub": lambda s: signed(s, sub=None),
    "empty-sub": lambda s: signed(s, sub=""),
    "sub-not-a-string": lambda s: signed(s, sub=12345),
    "tampered-payload-sub": tampered(lambda _h, c: c.update(sub="dr-someone-else")),
    "tampered-payload-scope-admin": tampered(
        lambda _h, c: c.update(scope=c["scope"] + " chartgate/admin")
    ),
    "tampered-payload-tenant": tampered(lambda _h, c: c.update(tenant=TENANT_B)),
    "tampered-header-alg": tampered(lambda h, _c: h.update(alg="RS512")),
    "signature-stripped": lambda s: s.clinician_token().rsplit(".", 1)[0] + ".",
    "signature-of-another-token": lambda s: ".".join(
        [
            *s.clinician_token(subject="dr-x").split(".")[:2],
            s.clinician_token(subject="dr-y").split(".")[2],
        ]
    ),
    "oversized-token": minted(extra_claims={"pad": "x" * 12_000}),
    "typ-dpop-not-access-token": lambda s: signed(s, {"typ": "dpop+jwt"}),
    "crit-header": lambda s: signed(s, {"crit": ["exp"]}),
    "payload-not-json": lambda s: (
        f"{segment({'alg': 'RS256', 'kid': real_key(s).kid})}.{b64(b'not json')}.AAAA"
    ),
    "tenant-claim-not-served-by-issuer": lambda s: s.clinician_token(TENANT_A, issuer_of=TENANT_B),
    "submit-and-approve-scopes": minted(
        scopes=["openid", "chartgate/drafts.submit", "chartgate/drafts.approve"]
    ),
    "approve-scope-without-fhiruser": minted(fhir_user=None),
    "approve-scope-with-patient-fhiruser": minted(fhir_user="Patient/pat-001"),
    "listed-scribe-client-minting-approve": minted(
        subject="dr-scribe", extra_claims={"client_id": "scribe-a"}
    ),
    "no-role-scope": minted(scopes=["openid", "fhirUser"]),
    "unknown-chartgate-scope": minted(
        scopes=["openid", "chartgate/drafts.approve", "chartgate/drafts.approve-all"]
    ),
    "malformed-smart-scope": minted(
        scopes=["openid", "chartgate/drafts.approve", "user/DocumentReference.wc"]
    ),
    "amr-not-a-list": lambda s: signed(s, amr="otp"),
    "auth-time-boolean": lambda s: signed(s, auth_time=True),
}


def request(stack: TwoTenants, how: str, authorization: str | bytes | None) -> httpx.Response:
    headers: dict[str, str | bytes] = (
        {} if authorization is None else {"Authorization": authorization}
    )
    draft = stack.drafts.a
    if how == "read":
        return stack.api.get(f"/v1/drafts/{draft}", headers=headers)
    return stack.api.post(f"/v1/drafts/{draft}/approve", headers={**headers, "If-Match": 'W/"1"'})


@pytest.mark.parametrize("how", ["read", "approve"])
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_a_forged_or_broken_token_is_a_401(two_tenants: TwoTenants, name: str, how: str) -> None:
    """Every attack token is refused with 401 + WWW-Authenticate; the draft stays in review."""
    token = ATTACKS[name](two_tenants)
    refused(request(two_tenants, how, f"Bearer {token}"), 401)


MALFORMED_HEADERS: dict[str, Callable[[TwoTenants], str | bytes | None]] = {
    "missing": lambda _: None,
    "empty": lambda _: "",
    "basic-scheme": lambda _: "Basic ZHItYTpwYXNzd29yZA==",
    "bearer-without-token": lambda _: "Bearer",
    "bearer-with-comma-only": lambda _: "Bearer ,",
    "token-scheme": lambda s: f"Token {s.clinician_token()}",
    "bearer-token-with-trailer": lambda s: f"Bearer {s.clinician_token()} extra",
    "two-tokens": lambda s: f"Bearer {s.clinician_token()}, Bearer {s.clinician_token()}",
    "two-segments": lambda _: "Bearer abc.def",
    "four-segments": lambda s: f"Bearer {s.clinician_token()}.AAAA",
    "dots-only": lambda _: "Bearer ....",
    "latin1-garbage": lambda _: "Bearer \xe9\xe9\xe9.\xe9\xe9.\xe9".encode("latin-1"),
}


@pytest.mark.parametrize("how", ["read", "approve"])
@pytest.mark.parametrize("name", sorted(MALFORMED_HEADERS))
def test_a_malformed_authorization_header_is_a_401(
    two_tenants: TwoTenants, name: str, how: str
) -> None:
    """No bearer token, another scheme, or garbage: 401 with a Bearer challenge."""
    refused(request(two_tenants, how, MALFORMED_HEADERS[name](two_tenants)), 401)
