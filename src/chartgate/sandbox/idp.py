"""A development OpenID provider for the demo and the tests: signs tokens, asks nothing.

Its HTTP face (discovery, JWKS, ``POST /token`` and the authorization code flow) is
``idp_http.py``; this module is the provider itself and imports no web framework.

DEV ONLY. It trusts its caller completely: ``POST /token`` mints a signed access token for
any demo principal, with whatever claims the form asks for, without a password, a client
secret or a redirect. That is the point: tests and ``chartgate demo`` need tokens with
exactly the claims (``amr``, ``acr``, ``auth_time``, scopes, tenant, launch context) a real
tenant IdP would put there, so that chartgate's identity adapter verifies them the same way
through discovery and the JWKS. Never expose it beyond 127.0.0.1.

Keys (one RS256, one ES256) are generated at start-up and live only in memory; a restart
invalidates every token it issued.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

JsonObject = dict[str, Any]
Algorithm = Literal["RS256", "ES256"]

MFA_ACR = "urn:chartgate:acr:mfa"
"""The ``acr`` chartgate's dev setup treats as "multi-factor authentication happened"."""

DEFAULT_AUDIENCE = "chartgate"
DEFAULT_TENANT = "demo"


@dataclass(frozen=True, slots=True)
class DemoPrincipal:
    """A canned identity ``POST /token`` can mint for (every field can be overridden)."""

    subject: str
    role: str
    scopes: tuple[str, ...]
    fhir_user: str | None = None
    amr: tuple[str, ...] = ("pwd", "otp")
    acr: str | None = MFA_ACR
    client_id: str | None = None


DEMO_PRINCIPALS: Mapping[str, DemoPrincipal] = MappingProxyType(
    {
        "clinician": DemoPrincipal(
            subject="clinician-dana",
            role="clinician",
            fhir_user="Practitioner/prac-001",
            scopes=(
                "openid",
                "fhirUser",
                "launch/encounter",
                "chartgate/drafts.approve",
                "user/DocumentReference.cu?category=clinical-note",
                "user/DocumentReference.rs",
                "user/Encounter.rs",
                "user/Patient.r",
            ),
        ),
        "scribe": DemoPrincipal(
            subject="scribe-demo-client",
            role="scribe",
            client_id="scribe-demo-client",
            amr=(),
            acr=None,
            scopes=("chartgate/drafts.submit", "chartgate/context.read"),
        ),
        "admin": DemoPrincipal(
            subject="admin-alex",
            role="admin",
            scopes=("openid", "chartgate/admin"),
        ),
        "auditor": DemoPrincipal(
            subject="auditor-robin",
            role="auditor",
            scopes=("openid", "chartgate/audit.read"),
        ),
    }
)
"""Demo identities by name. The role travels in chartgate's role scopes (see
``chartgate.adapters.identity.jwt``); the ``role`` claim is informational only."""

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BACKEND_ASSERTION_ALGS = ("RS384", "ES384")
_MAX_ASSERTION_SECONDS = 300
_JTI_CACHE_SIZE = 10_000


def generate_signing_keys() -> dict[Algorithm, RSAKey | ECKey]:
    """Fresh RS256 (RSA 2048) and ES256 (P-256) signing keys with ``kid``s, for one IdP."""
    return {
        "RS256": RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, auto_kid=True),
        "ES256": ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True),
    }


class DevIdentityProvider:
    """An in-memory OpenID provider: an issuer, its signing keys and a token mint.

    Args:
        issuer: The ``iss`` of every token, and the base of the discovery URLs
            (``<issuer>/.well-known/openid-configuration``, ``<issuer>/jwks``,
            ``<issuer>/token``).
        default_tenant: The ``tenant`` claim ``POST /token`` puts in when the form has none.
        signing_keys: The RS256 and ES256 private keys to sign with; new ones (see
            ``generate_signing_keys``) when None. A test suite that starts hundreds of
            sandboxes passes keys it generated once, because RSA key generation dominates the
            cost of starting one.
    """

    def __init__(
        self,
        issuer: str,
        *,
        default_tenant: str | None = DEFAULT_TENANT,
        signing_keys: Mapping[Algorithm, RSAKey | ECKey] | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.default_tenant = default_tenant
        keys = dict(signing_keys) if signing_keys is not None else generate_signing_keys()
        if set(keys) != {"RS256", "ES256"}:
            raise ValueError("signing_keys needs exactly one RS256 and one ES256 key")
        self._keys: dict[Algorithm, RSAKey | ECKey] = keys
        self._backend_clients: dict[str, tuple[KeySet, tuple[str, ...]]] = {}
        self._seen_jtis: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def register_backend_client(
        self, client_id: str, jwks: Mapping[str, Any], *, scopes: Sequence[str] = ()
    ) -> None:
        """Register a SMART Backend Services client by its public JWKS (RS384/ES384 keys).

        ``scopes`` are the most it may be granted; a request asking for more gets the overlap.
        """
        key_set = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
        self._backend_clients[client_id] = (key_set, tuple(scopes))

    def client_credentials(self, fields: Mapping[str, str], *, token_url: str) -> JsonObject:
        """Answer a ``client_credentials`` request authenticated by a ``private_key_jwt``.

        Checks what SMART Backend Services asks a server to check: the assertion type, the
        client's registered key and an RS384/ES384 signature, ``iss`` = ``sub`` = a known
        client, ``aud`` = this token URL, ``exp`` in the future and at most five minutes after
        ``iat``, and a ``jti`` never seen before (a bounded in-memory replay cache).

        Raises:
            PermissionError: The client is not authenticated (``invalid_client``).
        """
        if fields.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise PermissionError("client_assertion_type must be jwt-bearer")
        assertion = fields.get("client_assertion", "")
        try:
            unverified = json.loads(jws.extract_compact(assertion.encode("ascii")).payload)
        except (JoseError, ValueError, UnicodeError) as e:
            raise PermissionError("malformed client assertion") from e
        client_id = unverified.get("iss") if isinstance(unverified, dict) else None
        if not isinstance(client_id, str) or unverified.get("sub") != client_id:
            raise PermissionError("unknown client")
        registered = self._backend_clients.get(client_id)
        if registered is None:
            raise PermissionError("unknown client")
        keys, allowed_scopes = registered
        try:
            token = jwt.decode(assertion, keys, algorithms=list(BACKEND_ASSERTION_ALGS))
        except (JoseError, ValueError) as e:
            raise PermissionError("client assertion signature does not verify") from e
        now = int(time.time())
        jti, exp = _checked_assertion_claims(token.claims, token_url=token_url, now=now)
        with self._lock:
            self._forget_old_jtis(now)
            if (client_id, jti) in self._seen_jtis:
                raise PermissionError("client assertion jti replayed")
            self._seen_jtis[(client_id, jti)] = exp
        asked = fields.get("scope")
        scopes = (
            allowed_scopes
            if asked is None
            else tuple(x for x in asked.split() if x in allowed_scopes)
        )
        lifetime = _MAX_ASSERTION_SECONDS
        access_token = self.mint(
            subject=client_id,
            scopes=scopes,
            tenant=None,
            amr=(),
            acr=None,
            lifetime_seconds=lifetime,
            extra_claims={"client_id": client_id},
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
        }

    def _forget_old_jtis(self, now: int) -> None:
        """Drop expired jtis; past the bound drop the oldest (they expire within 5 min)."""
        for key in [k for k, exp in self._seen_jtis.items() if exp <= now]:
            del self._seen_jtis[key]
        while len(self._seen_jtis) >= _JTI_CACHE_SIZE:
            self._seen_jtis.pop(next(iter(self._seen_jtis)))

    def jwks(self) -> JsonObject:
        """Return the public JSON Web Key Set (RFC 7517) that verifies this issuer's tokens."""
        return {"keys": [key.as_dict(private=False) for key in self._keys.values()]}

    def openid_configuration(self) -> JsonObject:
        """Return the OpenID Connect discovery document for this issuer."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "token_endpoint": f"{self.issuer}/token",
            "authorization_endpoint": f"{self.issuer}/authorize",
            "grant_types_supported": [
                "urn:chartgate:dev",
                "client_credentials",
                "authorization_code",
            ],
            "response_types_supported": ["token", "code"],
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": ["none", "login"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(self._keys),
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(BACKEND_ASSERTION_ALGS),
            "scopes_supported": sorted({s for p in DEMO_PRINCIPALS.values() for s in p.scopes}),
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "nbf",
                "jti",
                "scope",
                "tenant",
                "fhirUser",
                "amr",
                "acr",
                "auth_time",
                "patient",
                "encounter",
                "sid",
                "role",
                "client_id",
            ],
            "acr_values_supported": [MFA_ACR],
        }

    def mint(
        self,
        *,
        subject: str,
        audience: str = DEFAULT_AUDIENCE,
        scopes: Sequence[str],
        tenant: str | None = None,
        fhir_user: str | None = None,
        amr: Sequence[str] = ("pwd", "otp"),
        acr: str | None = MFA_ACR,
        auth_time: int | None = None,
        patient: str | None = None,
        encounter: str | None = None,
        lifetime_seconds: int = 300,
        sid: str | None = None,
        extra_claims: Mapping[str, Any] | None = None,
        alg: Algorithm = "RS256",
        issued_at: int | None = None,
    ) -> str:
        """Sign an access token (a JWT) with this issuer's key for ``alg``.

        A negative ``lifetime_seconds`` makes an already-expired token, and ``extra_claims``
        are applied last and may override any claim (``iss`` included): both are there to
        build the bad tokens the verifier's tests need.

        Args:
            subject: ``sub``.
            audience: ``aud``.
            scopes: Granted scopes, joined with spaces into ``scope``.
            tenant: ``tenant`` claim (left out when None).
            fhir_user: ``fhirUser``, e.g. ``Practitioner/prac-001``.
            amr: Authentication methods (RFC 8176); empty leaves the claim out.
            acr: Authentication context class; None leaves it out.
            auth_time: When the user authenticated (epoch seconds); defaults to ``iat``.
            patient: SMART launch context patient id.
            encounter: SMART launch context encounter id.
            lifetime_seconds: ``exp`` minus ``iat``.
            sid: Session id.
            extra_claims: More claims, applied last.
            alg: ``RS256`` or ``ES256``.
            issued_at: ``iat`` (epoch seconds); defaults to now.

        Returns:
            The compact JWS.
        """
        now = int(time.time()) if issued_at is None else issued_at
        optional: dict[str, Any] = {
            "tenant": tenant,
            "fhirUser": fhir_user,
            "amr": list(amr) or None,
            "acr": acr,
            "patient": patient,
            "encounter": encounter,
            "sid": sid,
        }
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
            "jti": str(uuid.uuid4()),
            "scope": " ".join(scopes),
            "auth_time": now if auth_time is None else auth_time,
            **{k: v for k, v in optional.items() if v is not None},
            **(extra_claims or {}),
        }
        key = self._keys[alg]
        header = {"alg": alg, "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[alg])

    def mint_for(self, principal: str, **overrides: Any) -> str:  # noqa: ANN401 - mint's kwargs
        """Mint a token for a demo principal by name, with ``mint`` keyword overrides.

        Raises:
            KeyError: No demo principal has that name.
        """
        demo = DEMO_PRINCIPALS[principal]
        arguments: dict[str, Any] = {
            "subject": demo.subject,
            "scopes": demo.scopes,
            "tenant": self.default_tenant,
            "fhir_user": demo.fhir_user,
            "amr": demo.amr,
            "acr": demo.acr,
            "extra_claims": {"role": demo.role}
            | ({"client_id": demo.client_id} if demo.client_id else {}),
        }
        arguments.update(overrides)
        return self.mint(**arguments)


def _checked_assertion_claims(
    claims: Mapping[str, Any], *, token_url: str, now: int
) -> tuple[str, int]:
    """Check ``aud``, ``exp`` (future, <= 5 min after ``iat``) and ``jti``; return (jti, exp)."""
    exp, iat, jti = claims.get("exp"), claims.get("iat", now), claims.get("jti")
    aud = claims.get("aud")
    if aud != token_url and not (isinstance(aud, list) and token_url in aud):
        raise PermissionError("client assertion aud must be the token URL")
    if not isinstance(exp, int) or exp <= now or not isinstance(iat, int):
        raise PermissionError("client assertion expired or without exp")
    if exp - min(iat, now) > _MAX_ASSERTION_SECONDS:
        raise PermissionError("client assertion lives longer than five minutes")
    if not isinstance(jti, str) or not jti:
        raise PermissionError("client assertion lacks a jti")
    return jti, exp
