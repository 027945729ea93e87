"""The reviewer page as an OpenID Connect relying party: authorization code + PKCE (S256).

The flow is OpenID Connect Core 1.0 §3.1 with RFC 7636 PKCE: the browser is sent to the
tenant's ``authorization_endpoint`` (found by discovery) with ``state``, ``nonce`` and an
S256 ``code_challenge``; the code comes back to ``/review/callback`` and is exchanged at the
``token_endpoint`` with the ``code_verifier``. The access token is then verified by
chartgate's own ``TokenVerifier`` (``Application.authenticate``), exactly as the API verifies
bearer tokens; the ID token is checked here (signature against the issuer's JWKS, ``iss``,
``aud``, ``exp``, ``nonce``: https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
and must name the same ``sub`` and ``sid`` as the access token.

The issuer's keys come from the same ``JwksCache`` the API's verifier uses (one OIDC/JWKS
stack): bounded reads, no symmetric or short RSA keys, a cache with a refetch cooldown, and
the algorithm allowlist checked against the token's header before any key is looked up.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from joserfc import jws, jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from chartgate.adapters.identity.jwks import JwksCache
from chartgate.domain.errors import AuthError

if TYPE_CHECKING:
    from joserfc.jwt import ClaimsOption

ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "EdDSA")
_LEEWAY_SECONDS = 60
_DISCOVERY_SECONDS = 300
_MAX_DOCUMENT_BYTES = 64 * 1024  # discovery documents and token answers: far beyond real ones
_MAX_ID_TOKEN_BYTES = 16 * 1024


class SignInFailed(Exception):
    """The identity provider or its answer cannot be used; the message names no secret."""


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What discovery told us about one issuer."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True, slots=True)
class Tokens:
    """The token endpoint's answer (``patient``/``encounter``: a SMART launch context)."""

    access_token: str
    id_token: str
    patient: str | None = None
    encounter: str | None = None


BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def code_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 S256: ``BASE64URL(SHA256(ASCII(code_verifier)))``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """A public OpenID client (PKCE, no client secret) for the configured issuers.

    ``http`` makes a fresh client per exchange (``Application.identity_client``: the one
    client factory, gated by the processor registry): sign-ins are rare, and nothing is
    left open between requests.
    """

    def __init__(
        self,
        client_id: str,
        *,
        http: Callable[[], httpx.Client],
        clock: Callable[[], float] = time.time,
        keys: JwksCache | None = None,
    ) -> None:
        self.client_id = client_id
        self._http = http
        self._clock = clock
        self._keys = keys or JwksCache(
            self._http(), clock=lambda: datetime.fromtimestamp(self._clock(), tz=UTC)
        )
        self._discovered: dict[str, tuple[float, ProviderMetadata]] = {}
        self._lock = threading.Lock()

    def metadata(self, issuer: str) -> ProviderMetadata:
        """The issuer's endpoints from ``/.well-known/openid-configuration`` (cached)."""
        now = self._clock()
        with self._lock:
            cached = self._discovered.get(issuer)
        if cached is not None and now - cached[0] < _DISCOVERY_SECONDS:
            return cached[1]
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(url)
        try:
            meta = ProviderMetadata(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
            )
        except KeyError as e:
            raise SignInFailed("the identity provider does not offer the code flow") from e
        if meta.issuer != issuer:  # OpenID Connect Discovery 1.0 §4.3
            raise SignInFailed("the identity provider's metadata names another issuer")
        with self._lock:
            self._discovered[issuer] = (now, meta)
        return meta

    def authorization_url(
        self,
        meta: ProviderMetadata,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        verifier: str,
        max_age: int | None,
        prompt: str | None = None,
        acr_values: str | None = None,
        scope: str = "openid fhirUser",
        launch: tuple[str, str] | None = None,
        extra_scopes: tuple[str, ...] = (),
    ) -> str:
        """Where to send the browser to sign in (``scope``: an admin asks for its own).

        ``launch`` is a SMART EHR launch: ``(launch, iss)``; the request then asks for the
        ``launch`` scope, passes the EHR's opaque ``launch`` and names the FHIR server as ``aud``
        (SMART App Launch 2.2 §2.0.5). ``extra_scopes`` are the tenant's (its authorization
        server decides what it grants).
        """
        scopes = [*scope.split(), *(["launch"] if launch else []), *extra_scopes]
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if max_age is not None:
            query["max_age"] = str(max_age)
        if prompt:
            query["prompt"] = prompt
        if acr_values:
            query["acr_values"] = acr_values
        if launch is not None:
            query["launch"], query["aud"] = launch
        return f"{meta.authorization_endpoint}?{urlencode(query)}"

    def exchange(
        self, meta: ProviderMetadata, *, code: str, redirect_uri: str, verifier: str
    ) -> Tokens:
        """Redeem the code (RFC 6749 §4.1.3 with the PKCE verifier)."""
        try:
            with self._http() as http:
                answer = http.post(
                    meta.token_endpoint,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": redirect_uri,
                        "client_id": self.client_id,
                        "code_verifier": verifier,
                    },
                    headers={"Accept": "application/json"},
                )
        except httpx.HTTPError as e:
            raise SignInFailed("the identity provider could not be reached") from e
        if answer.status_code != 200:  # noqa: PLR2004
            raise SignInFailed(f"the identity provider refused the code ({answer.status_code})")
        body = _json_object(answer)
        access, id_token = body.get("access_token"), body.get("id_token")
        if not isinstance(access, str) or not isinstance(id_token, str):
            raise SignInFailed("the identity provider sent no access token or ID token")
        patient, encounter = body.get("patient"), body.get("encounter")
        if not isinstance(patient, str | None) or not isinstance(encounter, str | None):
            raise SignInFailed("the identity provider's launch context is not readable")
        return Tokens(access_token=access, id_token=id_token, patient=patient, encounter=encounter)

    def id_token_claims(
        self, meta: ProviderMetadata, id_token: str, *, nonce: str
    ) -> dict[str, Any]:
        """Verify the ID token's signature and claims; return its claims.

        OpenID Connect Core 3.1.3.7 through joserfc's claims registry: ``iss``, ``aud``,
        ``exp`` (now must be before it, with the leeway), ``iat`` not in the future, this
        sign-in's ``nonce`` and a ``sub``.
        """
        claims = self._signed_for_us(meta, id_token, what="ID token")
        registry = self._registry(
            meta,
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
        )
        _validate(registry, claims, _ID_TOKEN_REFUSALS, what="ID token")
        return claims

    def logout_token_claims(self, meta: ProviderMetadata, logout_token: str) -> dict[str, Any]:
        """A back-channel logout token, checked as OpenID Connect Back-Channel Logout 1.0 §2.6.

        Signature, ``iss``, ``aud``, ``iat`` (and ``exp`` when present), the logout event, a
        ``sid`` or ``sub``, and no ``nonce`` (so an ID token cannot be replayed as one).
        """
        claims = self._signed_for_us(meta, logout_token, what="logout token")
        registry = self._registry(meta, iat={"essential": True})
        _validate(registry, claims, _LOGOUT_TOKEN_REFUSALS, what="logout token")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise SignInFailed("the logout token carries no back-channel logout event")
        if "nonce" in claims:
            raise SignInFailed("a logout token never carries a nonce")
        sid, sub = claims.get("sid"), claims.get("sub")
        if not isinstance(sid, str | None) or not isinstance(sub, str | None):
            raise SignInFailed("the logout token's sid or sub is not a string")
        if sid is None and sub is None:
            raise SignInFailed("the logout token names neither a session nor a subject")
        return claims

    def _registry(self, meta: ProviderMetadata, **options: ClaimsOption) -> JWTClaimsRegistry:
        """The claims registry (joserfc) for a token of ``meta``'s issuer meant for this page."""
        return JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=_LEEWAY_SECONDS,
            iss={"essential": True, "value": meta.issuer},
            aud={"essential": True, "value": self.client_id},
            **options,
        )

    def _signed_for_us(
        self, meta: ProviderMetadata, token_text: str, *, what: str
    ) -> dict[str, Any]:
        """A JWT from ``meta``'s issuer, signed with its key, for chartgate's client id."""
        try:
            if len(token_text) > _MAX_ID_TOKEN_BYTES:
                raise ValueError("token too large")  # noqa: TRY301 - one refusal below
            header = jws.extract_compact(token_text.encode("ascii")).headers()
            alg, kid = header.get("alg"), header.get("kid")
            if alg not in ID_TOKEN_ALGORITHMS or not isinstance(kid, str | None):
                raise ValueError("algorithm not allowed")  # noqa: TRY301
            key = self._keys.key_for(meta.jwks_uri, kid=kid, alg=str(alg))
            token = jwt.decode(token_text, key, algorithms=[str(alg)])
        except (JoseError, ValueError, UnicodeError, AuthError) as e:
            raise SignInFailed(f"the {what}'s signature does not verify") from e
        claims = dict(token.claims)
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        issued_for: dict[str, Any] = {k: claims[k] for k in ("iss", "aud") if k in claims}
        _validate(self._registry(meta), issued_for, {}, what=what)  # whose token, for whom
        if (
            isinstance(audiences, list)
            and len(audiences) > 1
            and claims.get("azp") != self.client_id
        ):
            raise SignInFailed(f"the {what}'s authorized party is not the reviewer page")
        return claims

    def document(self, url: str) -> dict[str, Any]:
        """GET a JSON document (a SMART configuration), at most 64 KiB."""
        return self._get_json(url)

    def _get_json(self, url: str) -> dict[str, Any]:
        """GET a JSON object, reading at most 64 KiB."""
        body = bytearray()
        try:
            with (
                self._http() as http,
                http.stream("GET", url, headers={"Accept": "application/json"}) as answer,
            ):
                if answer.status_code != 200:  # noqa: PLR2004
                    raise SignInFailed(f"the identity provider answered {answer.status_code}")
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_DOCUMENT_BYTES:
                        raise SignInFailed("the identity provider's answer is too large")
        except httpx.HTTPError as e:
            raise SignInFailed("the identity provider could not be reached") from e
        return _json_object(httpx.Response(200, content=bytes(body)))


def _json_object(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError as e:
        raise SignInFailed("the identity provider's answer is not JSON") from e
    if not isinstance(body, dict):
        raise SignInFailed("the identity provider's answer is not a JSON object")
    return body


_ID_TOKEN_REFUSALS = {
    "exp": "the ID token has expired",
    "nonce": "the ID token does not answer this sign-in (nonce)",
    "sub": "the ID token names no subject",
    "iat": "the ID token was issued in the future (iat)",
}
_LOGOUT_TOKEN_REFUSALS = {
    "exp": "the logout token has expired",
    "iat": "the logout token has no usable iat",
}


def _validate(
    registry: JWTClaimsRegistry, claims: dict[str, Any], refusals: dict[str, str], *, what: str
) -> None:
    """``registry.validate(claims)``, its refusal said as a ``SignInFailed`` in our words."""
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise SignInFailed(refusals.get("exp", f"the {what} has expired")) from None
    except ClaimError as e:
        claim = e.claim.split(",")[0]  # a missing-claims error names them all
        if claim == "iss":
            raise SignInFailed(f"the {what} names another issuer") from None
        if claim == "aud":
            raise SignInFailed(f"the {what} is not meant for chartgate's reviewer page") from None
        raise SignInFailed(refusals.get(claim, f"the {what}'s {claim} claim is refused")) from None
