"""The SMART Backend Services client: assertions, caching, refresh on 401, secrets, wiring."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory
from chartgate.adapters.ehr.fhir_rest import FhirRestGateway, TokenSource
from chartgate.adapters.ehr.http import build_client
from chartgate.adapters.ehr.vendors import get_vendor
from chartgate.adapters.identity.smart_backend import (
    CLIENT_ASSERTION_TYPE,
    BackendKeyError,
    SmartBackendTokenSource,
    load_signing_key,
    token_source_for,
)
from chartgate.adapters.keys.secrets import SecretProvider
from chartgate.domain.errors import EhrUnreachable
from chartgate.policy import load_default_policy
from chartgate.sandbox.idp import DevIdentityProvider
from chartgate.settings import EhrSettings, TenantSettings
from fakes import open_gate

if TYPE_CHECKING:
    from pathlib import Path

TOKEN_URL = "https://ehr.example/oauth2/token"
CLIENT_ID = "chartgate-writeback"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class TokenEndpoint:
    """A scripted token endpoint that records the form of every request."""

    expires_in: int = 300
    status: int = 200
    forms: list[dict[str, str]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "invalid_client"})
        body = {
            "access_token": f"token-{len(self.forms)}",
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": "system/DocumentReference.c",
        }
        return httpx.Response(200, json=body)


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-384")


def source(key, endpoint: TokenEndpoint, clock: Clock, **kwargs) -> SmartBackendTokenSource:
    signing, alg = load_signing_key(key.as_pem(private=True))
    client = httpx.Client(transport=httpx.MockTransport(endpoint.handle))
    return SmartBackendTokenSource(
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        key=signing,
        alg=alg,
        http=client,
        clock=clock,
        **kwargs,
    )


def test_the_source_is_a_token_source(rsa_key):
    """The gateway recognises it as a TokenSource (refresh-once on 401)."""
    assert isinstance(source(rsa_key, TokenEndpoint(), Clock()), TokenSource)


@pytest.mark.parametrize(("key_name", "alg"), [("rsa_key", "RS384"), ("ec_key", "ES384")])
def test_the_assertion_follows_smart_backend_services(request, key_name, alg):
    """The assertion: iss = sub = client id, aud = token URL, exp <= 5 min, RS384/ES384, kid."""
    key = request.getfixturevalue(key_name)
    endpoint = TokenEndpoint()
    src = source(key, endpoint, Clock())
    assert src.token() == "token-1"
    form = endpoint.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert "scope" not in form  # Epic wants none unless configured
    public = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    decoded = jwt.decode(form["client_assertion"], public, algorithms=[alg])
    assert decoded.header["alg"] == alg
    assert decoded.header["kid"] == key.thumbprint()
    claims = decoded.claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["iat"] == int(NOW.timestamp())
    assert len(claims["jti"]) <= 151


def test_every_assertion_has_a_fresh_jti(rsa_key):
    """Each token request signs a new assertion with a new jti (no replay)."""
    endpoint = TokenEndpoint()
    src = source(rsa_key, endpoint, Clock())
    for _ in range(3):
        src.invalidate()
        src.token()
    public = KeySet.import_key_set({"keys": [rsa_key.as_dict(private=False)]})
    jtis = {
        jwt.decode(f["client_assertion"], public, algorithms=["RS384"]).claims["jti"]
        for f in endpoint.forms
    }
    assert len(jtis) == 3


def test_the_token_is_cached_until_shortly_before_expiry(rsa_key):
    """One fetch serves until (expiry - margin); then a new token is fetched."""
    endpoint = TokenEndpoint(expires_in=300)
    clock = Clock()
    src = source(rsa_key, endpoint, clock)
    assert src.token() == "token-1"
    clock.now += timedelta(seconds=260)
    assert src.token() == "token-1"
    clock.now += timedelta(seconds=15)  # 275 s: inside the 30 s margin
    assert src.token() == "token-2"
    assert len(endpoint.forms) == 2


def test_invalidate_forces_a_new_token(rsa_key):
    """After the EHR refused the token, the next call fetches a new one."""
    endpoint = TokenEndpoint()
    src = source(rsa_key, endpoint, Clock())
    src.token()
    src.invalidate()
    assert src.token() == "token-2"


def test_a_configured_scope_is_sent(rsa_key):
    """A tenant that asks for scopes sends them."""
    endpoint = TokenEndpoint()
    source(rsa_key, endpoint, Clock(), scope="system/DocumentReference.c").token()
    assert endpoint.forms[0]["scope"] == "system/DocumentReference.c"


def test_a_refusal_is_unreachable_and_names_only_the_error_code(rsa_key):
    """A refused client is EhrUnreachable (nothing was sent to the EHR); no secret in text."""
    endpoint = TokenEndpoint(status=401)
    with pytest.raises(EhrUnreachable, match=r"HTTP 401 \(invalid_client\)") as caught:
        source(rsa_key, endpoint, Clock()).token()
    assert "eyJ" not in caught.value.message


def test_an_assertion_longer_than_five_minutes_cannot_be_configured(rsa_key):
    """SMART: exp at most five minutes out (authlib's default is an hour)."""
    with pytest.raises(ValueError, match="300"):
        source(rsa_key, TokenEndpoint(), Clock(), assertion_lifetime_seconds=3600)


def test_keys_that_cannot_sign_rs384_or_es384_are_refused():
    """A P-256 key (ES256) or a public key is not a SMART backend key."""
    with pytest.raises(BackendKeyError):
        load_signing_key(ECKey.generate_key("P-256").as_pem(private=True))
    with pytest.raises(BackendKeyError):
        load_signing_key(RSAKey.generate_key(2048).as_pem(private=False))
    with pytest.raises(BackendKeyError):
        load_signing_key(b"not a key")


def test_the_gateway_refreshes_once_on_401(rsa_key):
    """A 401 from the EHR drops the cached token; the request is retried once with a new one."""
    endpoint = TokenEndpoint()
    src = source(rsa_key, endpoint, Clock())
    seen: list[str] = []

    def ehr(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if len(seen) == 1:
            return httpx.Response(401)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    client = build_client(gate=open_gate(), transport=httpx.MockTransport(ehr))
    gateway = FhirRestGateway(
        "https://ehr.example/R4", client=client, vendor=get_vendor("generic-r4"), token_provider=src
    )
    answer = gateway.read("Patient", "p1", request_id="r1")
    assert answer.status == 200
    assert seen == ["Bearer token-1", "Bearer token-2"]


def test_the_dev_idp_checks_the_assertion_and_refuses_replays(rsa_key):
    """The sandbox IdP verifies signature, aud and lifetime, and refuses a replayed jti."""
    idp = DevIdentityProvider("http://idp.test")
    signing, alg = load_signing_key(rsa_key.as_pem(private=True))
    idp.register_backend_client(
        CLIENT_ID, {"keys": [signing.as_dict(private=False)]}, scopes=["system/DocumentReference.c"]
    )
    src = SmartBackendTokenSource(
        token_url="http://idp.test/token",
        client_id=CLIENT_ID,
        key=signing,
        alg=alg,
        http=httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(500))),
        clock=lambda: datetime.now(UTC),
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": src.client_assertion(),
    }
    issued = idp.client_credentials(form, token_url="http://idp.test/token")
    assert issued["scope"] == "system/DocumentReference.c"
    with pytest.raises(PermissionError, match="replayed"):
        idp.client_credentials(form, token_url="http://idp.test/token")
    with pytest.raises(PermissionError, match="aud"):
        idp.client_credentials(
            form | {"client_assertion": src.client_assertion()}, token_url="http://other/token"
        )
    stranger = ECKey.generate_key("P-384")
    forged, forged_alg = load_signing_key(stranger.as_pem(private=True))
    forger = SmartBackendTokenSource(
        token_url="http://idp.test/token",
        client_id=CLIENT_ID,
        key=forged,
        alg=forged_alg,
        http=src._http,
        clock=lambda: datetime.now(UTC),
    )
    with pytest.raises(PermissionError, match="signature"):
        idp.client_credentials(
            form | {"client_assertion": forger.client_assertion()},
            token_url="http://idp.test/token",
        )


def test_the_directory_wires_a_backend_client_from_a_secret_file(tmp_path: Path, rsa_key):
    """With smart-backend auth the key comes from a 0600 file and the gateway sends its token."""
    key_file = tmp_path / "ehr.pem"
    key_file.write_bytes(rsa_key.as_pem(private=True))
    key_file.chmod(0o600)
    endpoint = TokenEndpoint()
    seen: list[str | None] = []

    def network(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return endpoint.handle(request)
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    tenant = TenantSettings(
        id="clinic-a",
        issuers=["https://idp.example"],
        ehr=EhrSettings(
            base_url="https://ehr.example/R4",
            auth="smart-backend",
            client_id=CLIENT_ID,
            token_url=TOKEN_URL,
            private_key=f"secret:file:{key_file}",
        ),
    )
    directory = ConfiguredEhrDirectory(
        {"clinic-a": tenant},
        gate=open_gate(),
        clients={
            "clinic-a": build_client(gate=open_gate(), transport=httpx.MockTransport(network))
        },
    )
    directory.gateway("clinic-a").read("Patient", "p1", request_id="r1")
    assert seen == ["Bearer token-1"]
    directory.close()


def test_an_unsafe_key_file_stops_the_gateway_without_showing_the_key(tmp_path: Path, rsa_key):
    """A world-readable key file is refused; the error carries no key material."""
    key_file = tmp_path / "ehr.pem"
    key_file.write_bytes(rsa_key.as_pem(private=True))
    key_file.chmod(0o644)
    ehr = EhrSettings(
        base_url="https://ehr.example/R4",
        auth="smart-backend",
        client_id=CLIENT_ID,
        token_url=TOKEN_URL,
        private_key=f"secret:file:{key_file}",
    )
    with pytest.raises(EhrUnreachable, match="chmod 600") as caught:
        token_source_for(ehr, secrets_provider=SecretProvider(), http=httpx.Client(), clock=Clock())
    assert "PRIVATE KEY" not in caught.value.message


def test_smart_backend_settings_need_client_id_token_url_and_key():
    """Settings fail closed when smart-backend lacks a piece."""
    with pytest.raises(ValueError, match="smart-backend"):
        EhrSettings(base_url="https://ehr.example/R4", auth="smart-backend", client_id="x")


def test_context_reads_use_a_token_narrowed_to_the_read_profile(tmp_path: Path, rsa_key):
    """The reader asks the token endpoint for the profile's types only, write-back keeps its own."""
    key_file = tmp_path / "ehr.pem"
    key_file.write_bytes(rsa_key.as_pem(private=True))
    key_file.chmod(0o600)
    endpoint = TokenEndpoint()

    def network(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return endpoint.handle(request)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    tenant = TenantSettings(
        id="clinic-a",
        issuers=["https://idp.example"],
        ehr=EhrSettings(
            base_url="https://ehr.example/R4",
            auth="smart-backend",
            client_id=CLIENT_ID,
            token_url=TOKEN_URL,
            private_key=f"secret:file:{key_file}",
            scope="system/DocumentReference.cu system/Provenance.c",
        ),
    )
    directory = ConfiguredEhrDirectory(
        {"clinic-a": tenant},
        gate=open_gate(),
        clients={
            "clinic-a": build_client(gate=open_gate(), transport=httpx.MockTransport(network))
        },
    )
    scope = load_default_policy().policy.read_profiles["soap-v3"].smart_scopes()
    reader = directory.reader("clinic-a", scope)
    reader.read("Patient", "p1", request_id="r1")
    directory.gateway("clinic-a").read("Patient", "p1", request_id="r2")
    assert directory.reader("clinic-a", scope) is reader
    assert [form.get("scope") for form in endpoint.forms] == [
        scope,
        "system/DocumentReference.cu system/Provenance.c",
    ]
    assert scope.split() == [
        "system/Patient.rs", "system/Encounter.rs", "system/Condition.rs",
        "system/MedicationRequest.rs", "system/AllergyIntolerance.rs", "system/Observation.rs",
        "system/DocumentReference.rs",
    ]  # fmt: skip
    directory.close()
