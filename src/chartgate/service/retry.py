"""How long a write-back waits before its next attempt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter.

    The cap bounds how long after an outage ends the last parked write-back is tried again.
    """

    base_seconds: float = 0.5
    cap_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait before attempt ``attempt + 1``; never less than Retry-After."""
        backoff = min(self.cap_seconds, self.base_seconds * 2.0 ** max(attempt - 1, 0))
        return max(backoff * (0.5 + jitter / 2), retry_after or 0.0)
