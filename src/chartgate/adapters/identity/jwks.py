# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""A small, bounded cache of issuers' signing keys (JWKS), and OIDC discovery.

Keys are fetched over an injected ``httpx.Client`` and kept for a TTL. A token naming an
unknown ``kid`` (the issuer rotated its keys) triggers at most one refetch per cooldown
window per JWKS URI, so a flood of tokens with invented ``kid`` values cannot turn chartgate
into an amplifier against the identity provider. Everything is bounded: response size,
keys per set, cached sets. A failed fetch fails closed (``AuthError``) and also counts
against the cooldown.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, OctKey, RSAKey

from chartgate.domain.errors import AuthError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
MIN_RSA_BITS: Final = 2048
# Which JWK key type each JWS algorithm family signs with (RFC 7518 section 3.1, RFC 8037).
_KEY_TYPES: Final = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


@dataclass(frozen=True, slots=True)
class JwksLimits:
    """How long keys live and how hard the cache may lean on an identity provider."""

    ttl_seconds: float = 300.0
    refetch_cooldown_seconds: float = 30.0
    max_response_bytes: int = 64 * 1024
    max_keys: int = 32
    max_sets: int = 64


@dataclass(slots=True)
class _Entry:
    """One cached document: its value, when it was fetched, when a fetch was last tried."""

    value: Any
    fetched_at: float | None
    attempted_at: float


class JwksCache:
    """Signing keys per JWKS URI and ``jwks_uri`` per discovered issuer; thread-safe.

    One lock serialises fetches, so concurrent requests with the same unknown ``kid`` cause
    one fetch, not one each.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        clock: Callable[[], datetime],
        limits: JwksLimits | None = None,
    ) -> None:
        self._http = http
        self._clock = clock
        self._limits = limits or JwksLimits()
        self._keys: OrderedDict[str, _Entry] = OrderedDict()
        self._discovered: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def key_for(self, jwks_uri: str, *, kid: str | None, alg: str) -> Key:
        """Return the issuer's signing key for ``kid`` usable with ``alg``.

        Without a ``kid`` the set must hold exactly one such key. Refetches once (subject to
        the cooldown) when the key is not known; raises ``AuthError`` when it still is not.
        """
        with self._lock:
            now = self._now()
            entry = self._keys.get(jwks_uri)
            if entry is None or self._expired(entry, now):
                entry = self._refresh_keys(jwks_uri, entry, now)
            key = _select(entry.value, kid, alg)
            if key is None and now - entry.attempted_at >= self._limits.refetch_cooldown_seconds:
                entry = self._refresh_keys(jwks_uri, entry, now)
                key = _select(entry.value, kid, alg)
        if key is None and entry.fetched_at is None:
            raise AuthError("issuer keys unavailable")
        if key is None:
            raise AuthError("signing key not found")
        return key

    def jwks_uri_for(self, issuer: str) -> str:
        """Return the ``jwks_uri`` from the issuer's OpenID Provider metadata (cached).

        Per OpenID Connect Discovery 1.0 section 4.3 the metadata's ``issuer`` must equal the
        configured issuer exactly; the JWKS must be served over https unless the issuer is not.
        """
        with self._lock:
            now = self._now()
            entry = self._discovered.get(issuer)
            if entry is None or self._expired(entry, now):
                entry = self._store(
                    self._discovered, issuer, entry, now, lambda: self._discover(issuer)
                )
            if entry.value is None:
                raise AuthError("issuer metadata unavailable")
            return str(entry.value)

    def _now(self) -> float:
        """Return the clock as POSIX seconds."""
        return self._clock().timestamp()

    def _expired(self, entry: _Entry, now: float) -> bool:
        """True when the entry has no good value or its TTL has passed."""
        if entry.fetched_at is None:  # last fetch failed: retry only after the cooldown
            return now - entry.attempted_at >= self._limits.refetch_cooldown_seconds
        return now - entry.fetched_at >= self._limits.ttl_seconds

    def _refresh_keys(self, jwks_uri: str, previous: _Entry | None, now: float) -> _Entry:
        """Refetch one JWKS into the cache."""
        return self._store(self._keys, jwks_uri, previous, now, lambda: self._fetch_keys(jwks_uri))

    def _store(
        self,
        table: OrderedDict[str, _Entry],
        name: str,
        previous: _Entry | None,
        now: float,
        fetch: Callable[[], object],
    ) -> _Entry:
        """Run ``fetch`` and cache its result; on failure cache the failure (fail closed).

        A failure replaces the previous value: keys we could not re-confirm after their TTL
        are not trusted, and an unknown-kid refetch that fails leaves the old keys in place.
        """
        if (
            previous is not None
            and previous.fetched_at is not None
            and not self._expired(previous, now)
        ):
            fallback: _Entry = _Entry(previous.value, previous.fetched_at, now)
        else:
            fallback = _Entry(None, None, now)
        try:
            entry = _Entry(fetch(), now, now)
        except AuthError:
            entry = fallback
        table[name] = entry
        table.move_to_end(name)
        while len(table) > self._limits.max_sets:
            table.popitem(last=False)
        return entry

    def _get_json(self, url: str) -> dict[str, Any]:
        """GET a JSON object, reading at most ``max_response_bytes``; no redirects."""
        limit = self._limits.max_response_bytes
        try:
            with self._http.stream("GET", url, headers={"Accept": "application/json"}) as answer:
                if answer.status_code != httpx.codes.OK:
                    raise AuthError("issuer keys unavailable")
                body = bytearray()
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise AuthError("issuer document too large")
        except httpx.HTTPError as e:
            raise AuthError("issuer keys unavailable") from e
        try:
            document = json.loads(body)
        except ValueError as e:
            raise AuthError("issuer document is not JSON") from e
        if not isinstance(document, dict):
            raise AuthError("issuer document is not a JSON object")
        return document

    def _fetch_keys(self, jwks_uri: str) -> list[Key]:
        """Fetch and import a JWKS, keeping only asymmetric signing keys.

        Symmetric (``oct``) keys are dropped: a verifier that trusted one would accept HMAC
        tokens forged by anyone who can read the JWKS. RSA keys under 2048 bits, keys not
        for signing and keys of unknown type are skipped (RFC 7517 section 5).
        """
        document = self._get_json(jwks_uri)
        raw_keys = document.get("keys")
        if not isinstance(raw_keys, list) or len(raw_keys) > self._limits.max_keys:
            raise AuthError("issuer key set malformed")
        keys: list[Key] = []
        for raw in raw_keys:
            if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
                continue
            try:
                key = JWKRegistry.import_key(raw)
            except (JoseError, ValueError, TypeError):
                continue
            if isinstance(key, OctKey):
                continue
            if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
                continue
            keys.append(key)
        return keys

    def _discover(self, issuer: str) -> str:
        """Fetch the issuer's metadata and return its checked ``jwks_uri``."""
        document = self._get_json(issuer.rstrip("/") + DISCOVERY_PATH)
        jwks_uri = document.get("jwks_uri")
        if document.get("issuer") != issuer or not isinstance(jwks_uri, str):
            raise AuthError("issuer metadata does not match the issuer")
        if issuer.startswith("https://") and not jwks_uri.startswith("https://"):
            raise AuthError("issuer metadata names an insecure key set")
        return jwks_uri


def _select(keys: list[Key] | None, kid: str | None, alg: str) -> Key | None:
    """Pick the key for ``kid`` (or the only key) of the algorithm's type and declared ``alg``."""
    if not keys:
        return None
    key_type = _KEY_TYPES.get(alg[:2])
    usable = [k for k in keys if k.key_type == key_type and k.get("alg") in (None, alg)]
    if kid is None:
        return usable[0] if len(usable) == 1 else None
    return next((key for key in usable if key.get("kid") == kid), None)
