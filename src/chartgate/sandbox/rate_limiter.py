"""The sandbox EHR's rate limit: a token bucket over every FHIR request, and a traffic log.

Split from ``sandbox/fhir.py``: the vendor profile's limit, answered as the vendor would
(``429`` with ``Retry-After``, and a ``RateLimit`` header where the vendor reports quota).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from chartgate.sandbox.store import FhirError
from chartgate.sandbox.vendors import VendorProfile

__all__ = ["RateLimiter"]


class RateLimiter:
    """The vendor's rate limit: a token bucket over every FHIR request, and a traffic log.

    Over the limit, a request is answered ``429`` with ``Retry-After`` (and, for profiles that
    report quota, a ``RateLimit`` header), before anything is processed. The log of accepted
    request times lets a test measure what reached the EHR (``GET /__sandbox/traffic``).
    """

    def __init__(self, profile: VendorProfile) -> None:
        self._profile = profile
        self._lock = threading.Lock()
        self._tokens = float(profile.rate_limit_burst)
        self._updated = time.monotonic()
        self._accepted: deque[float] = deque(maxlen=100_000)
        self._refused = 0

    def __call__(self) -> None:
        """Take a token for one FHIR request, or refuse it with 429."""
        rate = self._profile.rate_limit_per_second
        with self._lock:
            now = time.monotonic()
            if rate is not None:
                burst = float(self._profile.rate_limit_burst)
                self._tokens = min(burst, self._tokens + (now - self._updated) * rate)
                self._updated = now
                if self._tokens < 1.0:
                    self._refused += 1
                    wait = (1.0 - self._tokens) / rate
                    raise FhirError(
                        429, "throttled", "Rate limit exceeded", headers=self._headers(wait)
                    )
                self._tokens -= 1.0
            self._accepted.append(now)

    def _headers(self, wait: float) -> dict[str, str]:
        seconds = max(1, int(wait + 0.999))
        headers = {"retry-after": str(seconds)}
        if self._profile.rate_limit_header:
            headers["ratelimit"] = f'"default";r=0;t={seconds}'
        return headers

    def traffic(self) -> dict[str, Any]:
        """Accepted and refused FHIR requests, and the most accepted in any one second."""
        with self._lock:
            times = list(self._accepted)
            refused = self._refused
        busiest, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= 1.0:
                start += 1
            busiest = max(busiest, end - start + 1)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return {
            "accepted": len(times),
            "refused": refused,
            "max_in_any_second": busiest,
            "span_seconds": round(span, 3),
        }

    def reset(self) -> None:
        """Forget the traffic and refill the bucket."""
        with self._lock:
            self._accepted.clear()
            self._refused = 0
            self._tokens = float(self._profile.rate_limit_burst)
            self._updated = time.monotonic()
