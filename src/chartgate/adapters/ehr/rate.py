# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The outbound rate governor: one token bucket per tenant EHR, shared by all its workers.

Why: Epic and Oracle publish no limits and expect clients to throttle themselves; Medplum
charges quota and reports it in a ``RateLimit`` header (FHIR-FACTS "Rate limits"). A limit
kept in one process's memory is exceeded as soon as a second worker starts, so the bucket
lives in the store (``adapters/storage/rate_buckets.py``): every request of every worker of a
tenant takes a token there first. The EHR's own signals tighten it: a 429/503 with
``Retry-After`` (RFC 9110 §10.2.3), or a ``RateLimit`` header saying nothing is left
(draft-ietf-httpapi-ratelimit-headers), closes the bucket for every worker until then.

The governor waits for a token up to ``max_wait_seconds``; a longer wait raises
``EhrUnreachable`` with ``retry_after`` (nothing was sent, so the executor may simply try
later). Each wait is one line on the ``chartgate.ehr.rate`` log stream (the governor's key
and the seconds, nothing else), which the metrics count as
``chartgate_rate_governor_waits_total`` / ``_wait_seconds_total``. The governor is applied in
``FhirRestGateway._exchange``, before every request, never in the executor.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from chartgate.adapters.ehr.http import parse_retry_after
from chartgate.domain.errors import EhrUnreachable, StoreUnavailable
from chartgate.domain.vendor_profile import RateLimit

__all__ = [
    "RATE_LOGGER",
    "BatchRateBuckets",
    "MemoryRateBuckets",
    "RateBuckets",
    "RateGovernor",
    "StoreRateGovernor",
    "parse_ratelimit",
    "pause_from_answer",
    "refill",
]

_TOO_MANY, _UNAVAILABLE = 429, 503
_DEFAULT_429_PAUSE = 1.0
_RESERVE_SECONDS = 0.5
_INT = re.compile(r"\d+")
RATE_LOGGER = "chartgate.ehr.rate"
_log = logging.getLogger(RATE_LOGGER)


@runtime_checkable
class RateBuckets(Protocol):
    """Where the buckets live; ``take`` and ``block`` are atomic across processes."""

    def take(self, key: str, *, limit: RateLimit, now: float) -> float:
        """Take one token: 0.0 when taken, else the seconds to wait before asking again."""
        ...

    def block(self, key: str, *, until: float) -> None:
        """Hand out no token before ``until`` (epoch seconds); never shortens a block."""
        ...


@runtime_checkable
class BatchRateBuckets(RateBuckets, Protocol):
    """Buckets that hand out several tokens in one atomic step (one transaction, not n)."""

    def take_up_to(
        self, key: str, *, limit: RateLimit, now: float, count: int
    ) -> tuple[int, float]:
        """Take up to ``count`` tokens: (taken, 0.0), or (0, seconds to wait) when none."""
        ...


class RateGovernor(Protocol):
    """What the gateway calls around every request."""

    def acquire(self, what: str) -> None:
        """Wait for a token; raise ``EhrUnreachable`` when the wait would be too long."""
        ...

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one answer (429/503 ``Retry-After``, ``RateLimit``)."""
        ...


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket's state: tokens at ``updated_at``, and a block set by the EHR."""

    tokens: float
    updated_at: float
    blocked_until: float = 0.0


def refill(bucket: Bucket, *, limit: RateLimit, now: float) -> float:
    """The tokens in ``bucket`` at ``now``: refilled at the rate, capped at the burst."""
    elapsed = max(0.0, now - bucket.updated_at)
    return min(float(limit.burst), bucket.tokens + elapsed * limit.requests_per_second)


def take_from(bucket: Bucket | None, *, limit: RateLimit, now: float) -> tuple[Bucket, float]:
    """Take one token: the new state, and 0.0 (taken) or the seconds to wait (not taken)."""
    bucket, taken, wait = take_up_to(bucket, limit=limit, now=now, count=1)
    return bucket, 0.0 if taken else wait


def take_up_to(
    bucket: Bucket | None, *, limit: RateLimit, now: float, count: int
) -> tuple[Bucket, int, float]:
    """Take up to ``count`` whole tokens: the new state, how many, and the wait when none."""
    if bucket is None:
        bucket = Bucket(tokens=float(limit.burst), updated_at=now)
    tokens = refill(bucket, limit=limit, now=now)
    if bucket.blocked_until > now:
        return Bucket(tokens, now, bucket.blocked_until), 0, bucket.blocked_until - now
    if tokens >= 1.0:
        taken = min(count, int(tokens))
        return Bucket(tokens - taken, now, bucket.blocked_until), taken, 0.0
    wait = (1.0 - tokens) / limit.requests_per_second
    return Bucket(tokens, now, bucket.blocked_until), 0, wait


class MemoryRateBuckets:
    """Buckets in this process only (one worker, tests); the store's table is the shared one."""

    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, limit: RateLimit, now: float) -> float:
        """Take one token (see ``RateBuckets.take``)."""
        with self._lock:
            self._buckets[key], wait = take_from(self._buckets.get(key), limit=limit, now=now)
            return wait

    def take_up_to(
        self, key: str, *, limit: RateLimit, now: float, count: int
    ) -> tuple[int, float]:
        """Take up to ``count`` tokens (see ``BatchRateBuckets.take_up_to``)."""
        with self._lock:
            self._buckets[key], taken, wait = take_up_to(
                self._buckets.get(key), limit=limit, now=now, count=count
            )
            return taken, wait

    def block(self, key: str, *, until: float) -> None:
        """Block the bucket until ``until`` (see ``RateBuckets.block``)."""
        with self._lock:
            bucket = self._buckets.get(key) or Bucket(tokens=0.0, updated_at=until)
            if until > bucket.blocked_until:
                self._buckets[key] = Bucket(bucket.tokens, bucket.updated_at, until)


class StoreRateGovernor:
    """The governor of one tenant's EHR over a ``RateBuckets`` (the store's, in production)."""

    def __init__(
        self,
        buckets: RateBuckets,
        key: str,
        limit: RateLimit,
        *,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_seconds: float = 30.0,
        batch: int = 1,
    ) -> None:
        self._buckets = buckets
        self._key = key
        self.limit = limit
        self._now = now
        self._sleep = sleep
        self._max_wait = max_wait_seconds
        # Tokens taken from the shared bucket ahead of use (``batch`` per store round trip),
        # spent within ``_RESERVE_SECONDS`` or dropped; a pause the EHR asks for drops them.
        self._batch = batch if isinstance(buckets, BatchRateBuckets) else 1
        self._reserve: list[float] = []
        self._reserve_lock = threading.Lock()
        # One thread takes from the store at a time, for itself and every thread waiting
        # behind it (at least ``batch``): the others spend what it brought instead of each
        # taking a batch of their own (64 threads in flight took ~0.33 store transactions
        # per request), and none waits for a second round trip when one would serve all.
        self._take_lock = threading.Lock()
        self._asking = 0  # threads in ``acquire`` that found no token taken ahead

    def _reserved(self) -> bool:
        """Spend one token taken ahead, if one is left and fresh."""
        with self._reserve_lock:
            now = self._now()
            while self._reserve:
                taken_at = self._reserve.pop()
                if now - taken_at <= _RESERVE_SECONDS:
                    return True
            return False

    def _take(self) -> float:
        if self._batch == 1:
            return self._buckets.take(self._key, limit=self.limit, now=self._now())
        buckets: BatchRateBuckets = self._buckets  # type: ignore[assignment]
        now = self._now()
        count = max(self._batch, min(self._asking, self.limit.burst))
        taken, wait = buckets.take_up_to(self._key, limit=self.limit, now=now, count=count)
        if taken > 1:
            with self._reserve_lock:
                self._reserve.extend([now] * (taken - 1))
        return 0.0 if taken else wait

    def acquire(self, what: str) -> None:
        """Wait for a token; past ``max_wait_seconds`` raise ``EhrUnreachable`` (nothing sent)."""
        if self._reserved():
            return
        with self._reserve_lock:
            self._asking += 1
        try:
            self._acquire(what)
        finally:
            with self._reserve_lock:
                self._asking -= 1

    def _acquire(self, what: str) -> None:
        waited = 0.0
        while True:
            try:
                with self._take_lock:
                    if self._reserved():  # another thread's batch arrived meanwhile
                        return
                    wait = self._take()
            except StoreUnavailable as exc:
                # No token, no request: nothing was sent, so the executor may try later.
                raise EhrUnreachable(
                    f"{what}: the rate governor's store is unavailable; nothing was sent"
                ) from exc
            if wait <= 0.0:
                return
            if waited + wait > self._max_wait:
                raise EhrUnreachable(
                    f"{what}: the EHR's rate limit asks to wait {wait:.1f} s; nothing was sent",
                    retry_after=wait,
                )
            _log.info("ehr.rate_wait", extra={"governor": self._key, "seconds": round(wait, 3)})
            self._sleep(wait)
            waited += wait

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Close the bucket for every worker when the EHR asks for a pause.

        Best effort: the answer has already arrived (a create may have landed), and losing it
        to a store failure here would turn a known outcome into an ambiguous one. The next
        429 asks again.
        """
        now = self._now()
        pause = pause_from_answer(status, headers, now=datetime.fromtimestamp(now, UTC))
        if pause is not None and pause > 0:
            with self._reserve_lock:
                self._reserve.clear()
            with contextlib.suppress(StoreUnavailable):
                self._buckets.block(self._key, until=now + pause)


def pause_from_answer(status: int, headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Seconds the EHR asks every client to pause, from one answer; ``None``: no pause.

    A 429 or 503 with ``Retry-After`` pauses that long (a 429 without it: one second); a
    ``RateLimit`` header with nothing remaining pauses until its reset. Header names are
    lower-case (``http.RawResponse``).
    """
    pauses: list[float] = []
    if status in (_TOO_MANY, _UNAVAILABLE):
        asked = parse_retry_after(headers.get("retry-after"), now=now)
        if asked is not None:
            pauses.append(asked)
        elif status == _TOO_MANY:
            pauses.append(_DEFAULT_429_PAUSE)
    limit = parse_ratelimit(headers.get("ratelimit"))
    if limit is not None and limit[0] <= 0:
        pauses.append(float(limit[1]))
    return max(pauses) if pauses else None


def parse_ratelimit(value: str | None) -> tuple[int, int] | None:
    """``(remaining, reset seconds)`` of a ``RateLimit`` header, the tightest policy first.

    Two shapes are read: the structured field of draft-ietf-httpapi-ratelimit-headers-08 and
    later (``"default";r=0;t=30``, several comma-separated) and the earlier dictionary
    (``limit=100, remaining=0, reset=30``). Anything else gives ``None``.
    """
    if not value:
        return None
    params = [_params(item) for item in value.split(",")]
    if all("remaining" not in p for p in params):
        found = [(p["r"], p.get("t", 0)) for p in params if "r" in p]
        return min(found) if found else None
    merged = {k: v for p in params for k, v in p.items()}
    if "remaining" not in merged:
        return None
    return merged["remaining"], merged.get("reset", 0)


def _params(item: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in item.split(";"):
        name, sep, raw = part.strip().partition("=")
        if sep and _INT.fullmatch(raw.strip()):
            out[name.strip().lower()] = int(raw.strip())
    return out


def token_batch(limit: RateLimit) -> int:
    """Tokens a governor takes per store round trip: an eighth of the burst, 1 to 16.

    A worker with many requests in flight then pays one bucket transaction per several
    requests; a small burst (Epic's 5) keeps taking them one by one.
    """
    return max(1, min(16, limit.burst // 8))
