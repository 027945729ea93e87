"""Security headers of the reviewer page: a strict CSP, no framing but by the EHR, no caching.

The page holds PHI and an approve button, so: scripts and styles only from our own origin
(no ``unsafe-inline``: the page has no inline script or style at all), forms only to
ourselves and to the tenants' identity providers (step-up redirects a form post there), no
framing except by the EHR origins configured for SMART embedded launch, nothing cached,
no referrer leaving for another origin with a draft id in it (``same-origin``, not
``no-referrer``: that would make the browser send ``Origin: null`` on our own form posts).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit


def origin_of(url: str) -> str:
    """``https://idp.example:8443`` of ``https://idp.example:8443/realms/x``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def headers(*, issuers: Iterable[str], frame_ancestors: Iterable[str]) -> dict[str, str]:
    """The headers every ``/review`` response carries."""
    ancestors = sorted(set(frame_ancestors))
    form_targets = " ".join(["'self'", *sorted({origin_of(i) for i in issuers})])
    framing = " ".join(ancestors) if ancestors else "'none'"
    policy = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            f"form-action {form_targets}",
            f"frame-ancestors {framing}",
            "base-uri 'none'",
        )
    )
    out = {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if not ancestors:
        out["X-Frame-Options"] = "DENY"  # for browsers that ignore frame-ancestors
    return out


class FramePolicy:
    """The headers of one response, by who may frame it: per tenant, from configuration.

    Every response may be framed by the global ``reviewer_frame_ancestors``; a response that
    belongs to a tenant (its session's, or the tenant an EHR launch names) also by that
    tenant's ``ehr_launch.frame_ancestors``; a front-channel logout page by the identity
    provider that loads it. Anything else: ``frame-ancestors 'none'``.
    """

    def __init__(
        self,
        *,
        issuers: Iterable[str],
        default: Iterable[str],
        tenants: Mapping[str, Iterable[str]],
    ) -> None:
        self._issuers = sorted(set(issuers))
        self._default = frozenset(default)
        self._tenants = {t: frozenset(o) for t, o in tenants.items()}
        self._cache: dict[frozenset[str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def headers_for(
        self, *, tenant: str | None = None, origins: Iterable[str] = ()
    ) -> dict[str, str]:
        """The security headers for a response of ``tenant`` (framable by ``origins`` too)."""
        ancestors = self._default | self._tenants.get(tenant or "", frozenset()) | set(origins)
        with self._lock:
            found = self._cache.get(ancestors)
            if found is None:
                found = headers(issuers=self._issuers, frame_ancestors=ancestors)
                if len(self._cache) < 1024:  # noqa: PLR2004 - tenants x issuers, bounded
                    self._cache[ancestors] = found
        return found
