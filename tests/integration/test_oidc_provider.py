"""Against an independent OpenID provider (npm oidc-provider): our verifier and our backend client.

Our own dev IdP must not be the only issuer we test against. Here oidc-provider issues the
scribe's client-credentials tokens and the clinician's authorization-code tokens (JWT access
tokens for a resource indicator), and checks the ``private_key_jwt`` assertions of chartgate's
SMART Backend Services client for real (signature, ``aud``, ``jti`` replay).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from builders import submission
from chartgate.adapters.identity.jwt import IssuerConfig, TokenVerifier
from chartgate.adapters.identity.smart_backend import SmartBackendTokenSource, load_signing_key
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.domain.errors import AuthError, EhrUnreachable
from chartgate.domain.principal import Role
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from idp_oidc_provider import (
    CLINICIAN_FHIR_USER,
    RESOURCE,
    SCRIBE_CLIENT,
    TENANT,
    WRITEBACK_ES384,
    WRITEBACK_RS384,
    OidcProvider,
)


@dataclass
class Clock:
    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def verifier(
    op: OidcProvider, clock: Clock | None = None, audience: str = RESOURCE
) -> TokenVerifier:
    config = IssuerConfig(
        op.issuer,
        audience,
        frozenset({TENANT}),
        discover=True,
        scribe_client_ids=frozenset({SCRIBE_CLIENT}),
    )
    return TokenVerifier(
        {op.issuer: config},
        http=httpx.Client(timeout=5),
        leeway_seconds=30,
        max_lifetime_seconds=3600,
        clock=clock or Clock(),
    )


def backend(op: OidcProvider, client_id: str, **kwargs: Any) -> SmartBackendTokenSource:
    key, alg = load_signing_key(op.keys[client_id].as_pem(private=True), kid=op.keys[client_id].kid)
    return SmartBackendTokenSource(
        token_url=op.token_url,
        client_id=client_id,
        key=key,
        alg=alg,
        http=httpx.Client(timeout=10),
        clock=lambda: datetime.now(UTC),
        **kwargs,
    )


def scribe_token(op: OidcProvider, scope: str = "chartgate/drafts.submit") -> str:
    answer = op.client_credentials(scope, assertion=backend(op, SCRIBE_CLIENT).client_assertion())
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    result: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return result


# -- token verification ------------------------------------------------------------------------


def test_the_provider_advertises_smart_backend_client_authentication(oidc_provider):
    """Discovery names private_key_jwt with RS384/ES384, as SMART asks servers to."""
    metadata = oidc_provider.discovery()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert {"RS384", "ES384"} <= set(metadata["token_endpoint_auth_signing_alg_values_supported"])


def test_a_scribe_client_credentials_token_verifies_as_a_scribe(oidc_provider):
    """A client-credentials JWT access token from oidc-provider becomes a SCRIBE principal."""
    principal = verifier(oidc_provider).verify(scribe_token(oidc_provider))
    assert principal.role is Role.SCRIBE
    assert principal.tenant == TENANT
    assert principal.subject == SCRIBE_CLIENT
    assert principal.issuer == oidc_provider.issuer


def test_a_clinician_login_verifies_with_its_evidence(oidc_provider):
    """Authorization code + PKCE: role, fhirUser, launch context, amr/acr/auth_time survive."""
    auth_time = int(time.time()) - 20
    token = oidc_provider.clinician_token(acr="urn:chartgate:acr:mfa", auth_time=auth_time)
    principal = verifier(oidc_provider).verify(token)
    assert principal.role is Role.CLINICIAN
    assert principal.tenant == TENANT
    assert principal.fhir_user == CLINICIAN_FHIR_USER
    assert principal.launch_encounter == "enc-001"
    assert principal.amr == ("pwd", "otp")
    assert principal.acr == "urn:chartgate:acr:mfa"
    assert principal.auth_time is not None
    assert int(principal.auth_time.timestamp()) == auth_time
    assert principal.note_permissions == frozenset("cu")


def test_a_misprovisioned_scribe_client_still_cannot_approve(oidc_provider):
    """The provider grants the scribe an approve scope; chartgate refuses the token anyway."""
    token = scribe_token(oidc_provider, "chartgate/drafts.approve")
    assert "chartgate/drafts.approve" in claims_of(token)["scope"]
    with pytest.raises(AuthError, match="scribe client"):
        verifier(oidc_provider).verify(token)


@pytest.mark.parametrize(
    "attack",
    ["tampered-payload", "wrong-audience", "expired", "foreign-key", "alg-none"],
)
def test_bad_tokens_from_the_independent_issuer_are_refused(oidc_provider, attack):
    """Tampering, another audience, expiry, a foreign key or alg none: AuthError."""
    token = oidc_provider.clinician_token()
    check = verifier(oidc_provider)
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    if attack == "tampered-payload":
        claims["sub"] = "someone-else"
        token = ".".join([header, _segment(claims), signature])
    elif attack == "wrong-audience":
        check = verifier(oidc_provider, audience="https://other.test/api")
    elif attack == "expired":
        check = verifier(oidc_provider, Clock(timedelta(hours=2)))
    elif attack == "foreign-key":
        kid = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
        attacker = RSAKey.generate_key(2048, {"kid": kid})
        token = jwt.encode({"alg": "RS256", "kid": kid, "typ": "at+jwt"}, claims, attacker)
    else:
        token = f"{_segment({'alg': 'none', 'typ': 'at+jwt'})}.{payload}."
    with pytest.raises(AuthError):
        check.verify(token)


def _segment(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# -- SMART Backend Services client -------------------------------------------------------------


@pytest.mark.parametrize("client_id", [WRITEBACK_RS384, WRITEBACK_ES384])
def test_the_backend_client_gets_a_token(oidc_provider, client_id):
    """RS384 and ES384 assertions are accepted by a real private_key_jwt verifier."""
    source = backend(oidc_provider, client_id)
    token = source.token()
    claims = claims_of(token)
    assert claims["client_id"] == client_id
    assert claims["aud"] == RESOURCE
    assert claims["exp"] - claims["iat"] <= 300
    source.invalidate()
    assert source.token() != token  # a second assertion (fresh jti) is accepted too


def test_a_replayed_assertion_is_refused(oidc_provider):
    """The provider's replay detection refuses a second use of one assertion (same jti)."""
    assertion = backend(oidc_provider, WRITEBACK_RS384).client_assertion()
    first = oidc_provider.client_credentials("system/DocumentReference.c", assertion=assertion)
    second = oidc_provider.client_credentials("system/DocumentReference.c", assertion=assertion)
    assert first.status_code == 200, first.text
    assert second.status_code in {400, 401}
    assert second.json()["error"] == "invalid_client"


def _assertion(op: OidcProvider, key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": WRITEBACK_RS384,
        "sub": WRITEBACK_RS384,
        "aud": op.token_url,
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{time.monotonic_ns()}",
        **claims,
    }
    return jwt.encode({"alg": "RS384", "kid": key.kid}, body, key, algorithms=["RS384"])


@pytest.mark.parametrize("attack", ["long-lived", "wrong-aud", "unregistered-key", "no-jti"])
def test_bad_assertions_are_refused(oidc_provider, attack):
    """Assertions living > 5 min, for another audience, by another key or without jti fail."""
    key = oidc_provider.keys[WRITEBACK_RS384]
    assert isinstance(key, RSAKey)
    if attack == "long-lived":
        assertion = _assertion(oidc_provider, key, exp=int(time.time()) + 3600)
    elif attack == "wrong-aud":
        assertion = _assertion(oidc_provider, key, aud="https://ehr.other/token")
    elif attack == "unregistered-key":
        assertion = _assertion(oidc_provider, RSAKey.generate_key(2048, {"kid": key.kid}))
    else:
        assertion = _assertion(oidc_provider, key, jti=None)
    answer = oidc_provider.client_credentials("system/DocumentReference.c", assertion=assertion)
    assert answer.status_code in {400, 401}, answer.text
    assert answer.json()["error"] == "invalid_client"


def test_a_refused_backend_client_is_unreachable_not_ambiguous(oidc_provider):
    """A key the provider does not know: EhrUnreachable (nothing was sent to the EHR)."""
    key, alg = load_signing_key(RSAKey.generate_key(2048).as_pem(private=True))
    source = SmartBackendTokenSource(
        token_url=oidc_provider.token_url,
        client_id=WRITEBACK_RS384,
        key=key,
        alg=alg,
        http=httpx.Client(timeout=10),
        clock=lambda: datetime.now(UTC),
    )
    with pytest.raises(EhrUnreachable, match="invalid_client"):
        source.token()


# -- the whole story with the independent issuer ---------------------------------------------


@pytest.fixture
def op_stack(
    oidc_provider: OidcProvider, tmp_path: Path
) -> Iterator[tuple[Application, httpx.Client]]:
    """A chartgate that trusts oidc-provider, writing to the sandbox EHR with SMART backend auth."""
    key_file = tmp_path / "writeback.pem"
    key_file.write_bytes(oidc_provider.keys[WRITEBACK_ES384].as_pem(private=True))
    key_file.chmod(0o600)
    with SandboxServer(tmp_path / "ehr.sqlite3") as sandbox:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'chartgate.sqlite3'}",
            key_file=str(tmp_path / "kek.key"),
            tenants=[
                TenantSettings(
                    id=TENANT,
                    issuers=[oidc_provider.issuer],
                    audience=RESOURCE,
                    scribe_clients=[SCRIBE_CLIENT],
                    ehr=EhrSettings(
                        base_url=sandbox.fhir_base,
                        vendor="sandbox",
                        auth="smart-backend",
                        client_id=WRITEBACK_ES384,
                        token_url=oidc_provider.token_url,
                        private_key=f"secret:file:{key_file}",
                        key_id=oidc_provider.keys[WRITEBACK_ES384].kid,
                        timeout_seconds=3,
                    ),
                )
            ],
        )
        app = build(settings, migrate=True)
        try:
            with (
                ThreadedServer(create_app(app)) as server,
                httpx.Client(base_url=server.base_url, timeout=30) as api,
            ):
                yield app, api
        finally:
            app.close()


def test_the_story_runs_on_independent_tokens(oidc_provider, op_stack):
    """Scribe submits, clinician approves (MFA), the worker writes with a backend token."""
    app, api = op_stack
    submitted = api.post(
        "/v1/drafts",
        json=submission(),
        headers={"Authorization": f"Bearer {scribe_token(oidc_provider)}"},
    )
    assert submitted.status_code == 201, submitted.text
    draft = submitted.json()["id"]
    weak = oidc_provider.clinician_token(amr="pwd")
    refused = api.post(
        f"/v1/drafts/{draft}/approve",
        headers={"Authorization": f"Bearer {weak}", "If-Match": 'W/"1"'},
    )
    assert refused.status_code == 401
    assert "insufficient_user_authentication" in refused.headers["www-authenticate"]
    strong = oidc_provider.clinician_token(amr="pwd otp")
    approved = api.post(
        f"/v1/drafts/{draft}/approve",
        headers={"Authorization": f"Bearer {strong}", "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    executor = app.executor(owner="op-worker")
    while executor.run_once():
        pass
    status = api.get(
        f"/v1/writebacks/{approved.json()['writeback']['id']}",
        headers={"Authorization": f"Bearer {strong}"},
    ).json()
    assert status["state"] == "committed", status
    gateway = app.ehr.gateway(TENANT)
    source = gateway._token_provider  # the backend client the directory wired
    assert isinstance(source, SmartBackendTokenSource)
    assert claims_of(source.token())["client_id"] == WRITEBACK_ES384
