# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The gateway's own EHR credentials: a SMART Backend Services client (a ``TokenSource``).

SMART App Launch 2.2.0, Backend Services
(https://hl7.org/fhir/smart-app-launch/backend-services.html): chartgate asks the EHR's token
endpoint for an access token with ``grant_type=client_credentials``, authenticating with a
``private_key_jwt`` client assertion (RFC 7523) signed RS384 or ES384, whose claims are
``iss`` = ``sub`` = client id, ``aud`` = the token URL, ``exp`` at most five minutes out and a
fresh ``jti`` every time (the EHR keeps a replay cache; ``ECOSYSTEM.md`` records the authlib
trap of reusing one). The access token is cached until shortly before it expires and dropped
when the EHR answers 401 (``invalidate()``; ``FhirRestGateway`` then retries once).

Nothing secret is ever logged or put in an error: not the key, not the assertion, not the
token. A failure to get a token means no FHIR request left, so it is ``EhrUnreachable``
(safe to retry later), never ``EhrAmbiguous``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from chartgate.adapters.keys.secrets import SecretError, SecretProvider
from chartgate.domain.errors import EhrUnreachable

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from chartgate.settings import EhrSettings

AssertionAlg = Literal["RS384", "ES384"]

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_SECONDS: Final = 300  # SMART: exp no more than five minutes out
_MAX_RESPONSE_BYTES: Final = 64 * 1024
_ERROR_CODE: Final = re.compile(r"^[a-z_]{1,64}$")
_MIN_RSA_BITS: Final = 2048


class BackendKeyError(ValueError):
    """The configured private key cannot sign SMART client assertions (RS384 / ES384)."""


def load_signing_key(pem: bytes, *, kid: str | None = None) -> tuple[RSAKey | ECKey, AssertionAlg]:
    """Import a PEM private key and pick its SMART algorithm: RSA -> RS384, EC P-384 -> ES384.

    The ``kid`` defaults to the key's RFC 7638 thumbprint, which is what a JWKS published for
    the EHR (``chartgate keys``) names it.
    """
    key: RSAKey | ECKey
    alg: AssertionAlg
    try:
        key = RSAKey.import_key(pem)
        alg = "RS384"
    except (JoseError, ValueError, TypeError):
        try:
            key = ECKey.import_key(pem)
        except (JoseError, ValueError, TypeError) as e:
            raise BackendKeyError("the EHR key is neither an RSA nor an EC private key") from e
        alg = "ES384"
    if not key.is_private:
        raise BackendKeyError("the EHR key must be a private key")
    if isinstance(key, RSAKey) and key.raw_value.key_size < _MIN_RSA_BITS:
        raise BackendKeyError("the EHR RSA key must have at least 2048 bits")
    if isinstance(key, ECKey) and key.curve_name != "P-384":
        raise BackendKeyError("an EC key for ES384 must be on curve P-384")
    key_id = kid or key.thumbprint()
    key = type(key).import_key(key.as_dict(private=True), {"kid": key_id})
    return key, alg


@dataclass(frozen=True, slots=True)
class _Cached:
    value: str
    refresh_at: float


class SmartBackendTokenSource:
    """``TokenSource`` for one tenant's EHR: client credentials with a signed assertion.

    Args:
        token_url: The EHR's token endpoint (also the assertion's ``aud``).
        client_id: The registered client id (``iss`` and ``sub`` of the assertion).
        key: The private signing key (from ``load_signing_key``).
        alg: ``RS384`` or ``ES384``.
        http: The HTTP client (no redirects: a 3xx is a failure, the assertion goes nowhere else).
        clock: The time source.
        scope: Scopes to ask for; ``None`` sends none (Epic wants none: read ``scope`` back).
        assertion_lifetime_seconds: ``exp - iat`` of each assertion (at most 300).
        refresh_margin_seconds: Fetch a new token this long before the cached one expires.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        key: RSAKey | ECKey,
        alg: AssertionAlg,
        http: httpx.Client,
        clock: Callable[[], datetime],
        scope: str | None = None,
        assertion_lifetime_seconds: int = MAX_ASSERTION_LIFETIME_SECONDS,
        refresh_margin_seconds: float = 30.0,
    ) -> None:
        if not 0 < assertion_lifetime_seconds <= MAX_ASSERTION_LIFETIME_SECONDS:
            msg = "a client assertion lives at most 300 seconds (SMART Backend Services)"
            raise ValueError(msg)
        if alg not in {"RS384", "ES384"}:
            msg = "SMART Backend Services assertions are signed RS384 or ES384"
            raise ValueError(msg)
        self._token_url = token_url
        self._client_id = client_id
        self._key = key
        self._alg = alg
        self._http = http
        self._clock = clock
        self._scope = scope
        self._assertion_lifetime = assertion_lifetime_seconds
        self._margin = refresh_margin_seconds
        self._cached: _Cached | None = None
        self._lock = threading.Lock()
        self.granted_scope: str | None = None

    def __repr__(self) -> str:
        return (
            f"SmartBackendTokenSource(client_id={self._client_id!r}, token_url={self._token_url!r})"
        )

    def token(self) -> str:
        """Return a valid access token, fetching a new one when none is cached or it is due."""
        with self._lock:
            now = self._clock().timestamp()
            if self._cached is None or now >= self._cached.refresh_at:
                self._cached = self._fetch(now)
            return self._cached.value

    def invalidate(self) -> None:
        """Forget the cached token: the EHR refused it."""
        with self._lock:
            self._cached = None

    def client_assertion(self) -> str:
        """A new signed client assertion (fresh ``jti``, ``exp`` at most five minutes out)."""
        now = int(self._clock().timestamp())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._token_url,
            "iat": now,
            "exp": now + self._assertion_lifetime,
            "jti": secrets.token_urlsafe(32),  # 43 characters: under Epic's 151
        }
        header = {"alg": self._alg, "kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._key, algorithms=[self._alg])

    def _fetch(self, now: float) -> _Cached:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
        }
        if self._scope:
            form["scope"] = self._scope
        try:
            answer = self._http.post(
                self._token_url, data=form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as e:
            raise EhrUnreachable("the EHR token endpoint could not be reached") from e
        if answer.status_code != httpx.codes.OK:
            raise EhrUnreachable(
                f"the EHR token endpoint refused the client: HTTP {answer.status_code}"
                f"{_error_code(answer)}"
            )
        if len(answer.content) > _MAX_RESPONSE_BYTES:
            raise EhrUnreachable("the EHR token endpoint answered too much")
        try:
            body = json.loads(answer.content)
        except ValueError as e:
            raise EhrUnreachable("the EHR token endpoint did not answer JSON") from e
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = body.get("token_type") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(token_type, str):
            raise EhrUnreachable("the EHR token endpoint answered without an access token")
        if token_type.lower() != "bearer":
            raise EhrUnreachable("the EHR token endpoint issued a token that is not a bearer one")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            expires_in = MAX_ASSERTION_LIFETIME_SECONDS  # SMART's SHOULD; assume no longer
        scope = body.get("scope")
        self.granted_scope = scope if isinstance(scope, str) else None
        margin = min(self._margin, expires_in / 5)
        return _Cached(token, now + expires_in - margin)


def _error_code(answer: httpx.Response) -> str:
    """The OAuth ``error`` code of a refusal, when it is a plain code (never free text)."""
    try:
        body = json.loads(answer.content[:_MAX_RESPONSE_BYTES])
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return f" ({code})" if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else ""


def token_source_for(
    ehr: EhrSettings,
    *,
    secrets_provider: SecretProvider,
    http: httpx.Client,
    clock: Callable[[], datetime],
) -> SmartBackendTokenSource | None:
    """The tenant's ``TokenSource`` when its EHR uses SMART Backend Services, else ``None``.

    The private key is read through the secret provider now, when the gateway is built, and
    kept only inside the signing key object.
    """
    if ehr.auth != "smart-backend":
        return None
    if not (ehr.client_id and ehr.token_url and ehr.private_key):
        raise EhrUnreachable("smart-backend needs client_id, token_url and private_key")
    try:
        key, alg = load_signing_key(
            secrets_provider.resolve(ehr.private_key).reveal(), kid=ehr.key_id
        )
    except (SecretError, BackendKeyError) as e:
        raise EhrUnreachable(f"the tenant's EHR signing key cannot be loaded: {e}") from e
    return SmartBackendTokenSource(
        token_url=ehr.token_url,
        client_id=ehr.client_id,
        key=key,
        alg=alg,
        http=http,
        clock=clock,
        scope=ehr.scope,
    )
