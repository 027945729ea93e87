"""Record refused tokens: a security event with reason, client, issuer and request id.

Authentication failures are evidence of an attack or a misconfiguration, so every one is
logged on the ``chartgate.security`` structlog logger — never the token itself: the claims
quoted here (``iss``, ``client_id``/``azp``) are read from the unverified payload, cut to
printable ASCII, and the token is named only by a short SHA-256 prefix for correlation.
No ledger event is written: an unverified token names no tenant we can trust, and writing
into a tenant's ledger for every forged token would let anyone grow it at will.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Final

import structlog

SECURITY_LOGGER: Final = "chartgate.security"
AUTHN_FAILED: Final = "security.authn_failed"
_PRINTABLE = re.compile(r"[^\x21-\x7e]")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_FIELD: Final = 200


def _printable(value: object) -> str | None:
    """A claim as printable ASCII (at most 200 characters), or None when it is not a string."""
    if not isinstance(value, str) or not value:
        return None
    return _PRINTABLE.sub("?", value)[:_MAX_FIELD]


def reason_code(message: str) -> str:
    """The verifier's fixed message as a bounded code (``bad signature`` -> ``bad-signature``).

    The code is what the operators' ``chartgate_auth_failures_total`` counts by.
    """
    return _NOT_SLUG.sub("-", message.lower()).strip("-")[:40].rstrip("-") or "unspecified"


def unverified_claims(token: str | None) -> dict[str, Any]:
    """The payload of a compact JWS, read without verification ({} when unreadable).

    Only for the log of a refusal: nothing read here is trusted for any decision.
    """
    if not token or len(token) > 16 * 1024:
        return {}
    parts = token.split(".")
    if len(parts) != 3:  # noqa: PLR2004 - header.payload.signature
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def record_authn_failure(
    *,
    reason: str,
    token: str | None,
    request_id: str | None,
    route: str,
    method: str,
    peer: str | None = None,
) -> None:
    """Log one refused token (``security.authn_failed``) with what identifies its origin."""
    claims = unverified_claims(token)
    structlog.get_logger(SECURITY_LOGGER).warning(
        AUTHN_FAILED,
        reason=reason_code(reason),
        issuer=_printable(claims.get("iss")),
        client=_printable(claims.get("client_id") or claims.get("azp")),
        peer=_printable(peer),
        request_id=request_id,
        route=route,
        method=method,
        token_sha256=(
            hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16] if token else None
        ),
    )
