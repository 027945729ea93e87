# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Start the independent OpenID provider (tests/idp_oidc_provider/server.mjs) for tests.

npm ``oidc-provider`` (OpenID Certified, not ours) issues the tokens chartgate verifies and
checks the ``private_key_jwt`` assertions chartgate's SMART backend client signs, so neither
side of those tests is only our own code. Synthetic identities only.

Fixtures:
    oidc_provider (session): an ``OidcProvider`` handle: issuer, registered clients and their
        private keys, and helpers that obtain tokens the standard way (client credentials;
        authorization code + PKCE with a login whose ``amr``/``acr``/``auth_time`` we choose).

Skips when node or node_modules is missing; under CI=true that is a failure (like Medplum).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey

from node_server import NodeServerUnavailableError, missing, node_for, run_node_server

if TYPE_CHECKING:
    from collections.abc import Iterator

IDP_DIR = Path(__file__).resolve().parent / "idp_oidc_provider"
SERVER_SCRIPT = IDP_DIR / "server.mjs"
INSTALL_HINT = "run: npm ci --prefix tests/idp_oidc_provider (or make install)"

RESOURCE = "https://chartgate.test/api"  # RFC 8707: an absolute URI
TENANT = "clinic-op"
RESOURCE_SCOPES = (
    "chartgate/drafts.submit",
    "chartgate/context.read",
    "chartgate/drafts.approve",
    "chartgate/audit.read",
    "chartgate/admin",
    "launch/encounter",
    "user/DocumentReference.cu",
    "user/DocumentReference.rs",
    "system/DocumentReference.c",
    "system/DocumentReference.rs",
)
SCRIBE_CLIENT = "op-scribe"
WRITEBACK_RS384 = "op-writeback-rs384"
WRITEBACK_ES384 = "op-writeback-es384"
REVIEWER_APP = "op-reviewer"
REDIRECT_URI = "http://127.0.0.1:9/callback"
CLINICIAN_LOGIN = "dr-op"
CLINICIAN_FHIR_USER = "Practitioner/prac-op-1"


@dataclass
class OidcProvider:
    """A running oidc-provider and the clients registered with it."""

    issuer: str
    keys: dict[str, RSAKey | ECKey] = field(default_factory=dict)

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    def register_launch(self, *, patient: str, encounter: str, iss: str) -> str:
        """What an EHR does before it opens an app: store a launch context, get its opaque id."""
        answer = httpx.post(
            f"{self.issuer}/test/launches",
            json={"patient": patient, "encounter": encounter, "iss": iss},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        launch: str = answer.json()["launch"]
        return launch

    def logout_channels(self, *, backchannel: bool, frontchannel: bool) -> None:
        """Switch the back-channel and front-channel logout of this provider on or off."""
        answer = httpx.post(
            f"{self.issuer}/test/logout-channels",
            json={"backchannel": backchannel, "frontchannel": frontchannel},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def discovery(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def client_credentials(self, scope: str, *, assertion: str) -> httpx.Response:
        """POST a client_credentials request authenticated with ``assertion``."""
        return httpx.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": scope,
                "resource": RESOURCE,
            },
            timeout=10,
        )

    def clinician_token(
        self,
        *,
        scope: str = "openid fhirUser chartgate/drafts.approve user/DocumentReference.cu",
        amr: str | None = "pwd otp",
        acr: str | None = None,
        auth_time: int | None = None,
        login: str = CLINICIAN_LOGIN,
    ) -> str:
        """Log a clinician in (authorization code + PKCE) and return the JWT access token."""
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        with httpx.Client(base_url=self.issuer, timeout=10, follow_redirects=False) as browser:
            answer = browser.get(
                "/auth",
                params={
                    "client_id": REVIEWER_APP,
                    "response_type": "code",
                    "redirect_uri": REDIRECT_URI,
                    "scope": scope,
                    "resource": RESOURCE,
                    "state": secrets.token_urlsafe(8),
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            interaction = _location(answer)
            form = {"login": login}
            form |= {"amr": amr} if amr else {}
            form |= {"acr": acr} if acr else {}
            form |= {"auth_time": str(auth_time)} if auth_time else {}
            answer = browser.post(f"{urlsplit(interaction).path}/login", data=form)
            code = None
            for _ in range(5):
                location = _location(answer)
                if location.startswith(REDIRECT_URI):
                    query = parse_qs(urlsplit(location).query)
                    if "code" not in query:
                        raise AssertionError(f"authorization failed: {query}")
                    code = query["code"][0]
                    break
                answer = browser.get(location)
                if answer.status_code == 200:
                    raise AssertionError(f"the provider asks for more: {answer.text[:500]}")
            assert code is not None, "no authorization code"
            token = browser.post(
                "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "client_id": REVIEWER_APP,
                    "code_verifier": verifier,
                    "resource": RESOURCE,
                },
            )
        assert token.status_code == 200, token.text
        access_token: str = token.json()["access_token"]
        return access_token


def _location(answer: httpx.Response) -> str:
    assert answer.status_code in {302, 303}, (answer.status_code, answer.text[:500])
    return urljoin(str(answer.url), answer.headers["location"])


def _config(
    keys: dict[str, RSAKey | ECKey],
    *,
    host: str | None = None,
    app_clients: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    def public(client_id: str) -> dict[str, Any]:
        return {"keys": [keys[client_id].as_dict(private=False)]}

    return {
        "resource": RESOURCE,
        "resource_scopes": list(RESOURCE_SCOPES),
        "backend_clients": [
            {
                "client_id": SCRIBE_CLIENT,
                "alg": "RS384",
                "jwks": public(SCRIBE_CLIENT),
                "scope": "chartgate/drafts.submit chartgate/context.read chartgate/drafts.approve",
            },
            {
                "client_id": WRITEBACK_RS384,
                "alg": "RS384",
                "jwks": public(WRITEBACK_RS384),
                "scope": "system/DocumentReference.c system/DocumentReference.rs",
            },
            {
                "client_id": WRITEBACK_ES384,
                "alg": "ES384",
                "jwks": public(WRITEBACK_ES384),
                "scope": "system/DocumentReference.c system/DocumentReference.rs",
            },
        ],
        "app_clients": [
            {
                "client_id": REVIEWER_APP,
                "redirect_uri": REDIRECT_URI,
                "scope": " ".join(["openid", "fhirUser", *RESOURCE_SCOPES]),
            },
            *(app_clients or []),
        ],
        "accounts": {
            CLINICIAN_LOGIN: {
                "fhirUser": CLINICIAN_FHIR_USER,
                "patient": "pat-001",
                "encounter": "enc-001",
                "tenant": TENANT,
            }
        },
        **({"host": host} if host else {}),
    }


@contextmanager
def run_oidc_provider(
    *, host: str | None = None, app_clients: list[dict[str, str]] | None = None
) -> Iterator[OidcProvider]:
    """Run oidc-provider with fresh client keys; yield its handle.

    ``host`` names the issuer's host (default 127.0.0.1); ``app_clients`` adds public clients
    (``client_id``, ``redirect_uri``, ``scope``, optional ``backchannel_logout_uri`` and
    ``frontchannel_logout_uri``).
    """
    node = node_for(IDP_DIR, "oidc-provider")
    keys: dict[str, RSAKey | ECKey] = {
        SCRIBE_CLIENT: RSAKey.generate_key(2048, {"alg": "RS384", "use": "sig"}, auto_kid=True),
        WRITEBACK_RS384: RSAKey.generate_key(2048, {"alg": "RS384", "use": "sig"}, auto_kid=True),
        WRITEBACK_ES384: ECKey.generate_key("P-384", {"alg": "ES384", "use": "sig"}, auto_kid=True),
    }
    with tempfile.TemporaryDirectory(prefix="oidc-provider-") as workdir:
        config_path = Path(workdir) / "config.json"
        config_path.write_text(json.dumps(_config(keys, host=host, app_clients=app_clients)))
        command = [node, str(SERVER_SCRIPT), "--config", str(config_path)]
        with run_node_server(command, cwd=IDP_DIR) as port:
            yield OidcProvider(issuer=f"http://{host or '127.0.0.1'}:{port}", keys=keys)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """The independent OpenID provider, shared by the session (skip, or fail under CI=true)."""
    try:
        with run_oidc_provider() as provider:
            yield provider
    except NodeServerUnavailableError as exc:
        missing("oidc-provider", exc, INSTALL_HINT)
