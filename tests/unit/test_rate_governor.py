"""The outbound rate governor: token bucket, Retry-After and RateLimit, the wait bound."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from chartgate.adapters.ehr.fhir_rest import FhirRestGateway
from chartgate.adapters.ehr.http import build_client
from chartgate.adapters.ehr.rate import (
    MemoryRateBuckets,
    StoreRateGovernor,
    parse_ratelimit,
    pause_from_answer,
)
from chartgate.adapters.ehr.vendors import get_vendor
from chartgate.domain.errors import EhrUnreachable, StoreUnavailable
from chartgate.domain.vendor_profile import RateLimit
from chartgate.observability import Metrics
from fakes import open_gate

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Clock:
    """Seconds that move only when slept (the governor's now and sleep)."""

    def __init__(self) -> None:
        self.t = 1_000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def governor(clock: Clock, rate: float = 2.0, burst: int = 1, **kwargs: float) -> StoreRateGovernor:
    limit = RateLimit(requests_per_second=rate, burst=burst)
    return StoreRateGovernor(
        MemoryRateBuckets(), "ehr:clinic-a", limit, now=clock.now, sleep=clock.sleep, **kwargs
    )


def test_requests_are_spaced_at_the_rate() -> None:
    """At 2 requests/s with a burst of 1, five requests take two seconds of waiting."""
    clock = Clock()
    pacer = governor(clock)
    for _ in range(5):
        pacer.acquire("read Patient")
    assert clock.slept == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_a_burst_goes_out_at_once_then_the_rate_applies() -> None:
    """With a burst of 3 the first three requests do not wait; the fourth waits 1/rate."""
    clock = Clock()
    pacer = governor(clock, rate=4.0, burst=3)
    for _ in range(4):
        pacer.acquire("read Patient")
    assert clock.slept == pytest.approx([0.25])


def test_retry_after_closes_the_bucket_for_everyone() -> None:
    """A 429 with Retry-After: 3 makes the next request (any worker's) wait three seconds."""
    clock = Clock()
    buckets = MemoryRateBuckets()
    limit = RateLimit(requests_per_second=100.0, burst=10)
    one = StoreRateGovernor(buckets, "ehr:a", limit, now=clock.now, sleep=clock.sleep)
    two = StoreRateGovernor(buckets, "ehr:a", limit, now=clock.now, sleep=clock.sleep)
    one.observe(429, {"retry-after": "3"})
    two.acquire("create DocumentReference")
    assert clock.slept == pytest.approx([3.0])


def test_a_longer_wait_than_the_bound_is_not_sent() -> None:
    """When the wait exceeds max_wait_seconds, EhrUnreachable says nothing was sent."""
    clock = Clock()
    pacer = governor(clock, max_wait_seconds=1.0)
    pacer.observe(503, {"retry-after": "30"})
    with pytest.raises(EhrUnreachable, match="nothing was sent") as raised:
        pacer.acquire("create DocumentReference")
    assert raised.value.retry_after == pytest.approx(30.0)
    assert clock.slept == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"default";r=0;t=30', (0, 30)),
        ('"burst";r=5;t=1, "daily";r=0;t=600', (0, 600)),
        ("limit=100, remaining=0, reset=12", (0, 12)),
        ("limit=100, remaining=42, reset=12", (42, 12)),
        ("nonsense", None),
        (None, None),
    ],
)
def test_ratelimit_header_shapes(value: str | None, expected: tuple[int, int] | None) -> None:
    """Both drafts' RateLimit shapes are read; the tightest policy wins; junk is ignored."""
    assert parse_ratelimit(value) == expected


def test_an_exhausted_ratelimit_pauses_even_on_success() -> None:
    """A 2xx whose RateLimit says nothing remains pauses until the reset."""
    assert pause_from_answer(200, {"ratelimit": '"q";r=0;t=7'}, now=NOW) == 7.0
    assert pause_from_answer(200, {"ratelimit": '"q";r=3;t=7'}, now=NOW) is None
    assert pause_from_answer(429, {}, now=NOW) == 1.0
    assert pause_from_answer(503, {}, now=NOW) is None


def test_the_gateway_takes_a_token_before_every_request() -> None:
    """Each request through the gateway waits for the governor, and its answer is observed."""
    clock = Clock()
    pacer = governor(clock, rate=0.25)
    answers = iter([httpx.Response(429, headers={"retry-after": "2"}), httpx.Response(200)])

    def handler(request: httpx.Request) -> httpx.Response:
        del request
        return next(answers)

    gateway = FhirRestGateway(
        "https://ehr.example/R4",
        client=build_client(gate=open_gate(), transport=httpx.MockTransport(handler)),
        vendor=get_vendor("generic-r4"),
        governor=pacer,
        sleep=clock.sleep,
    )
    answer = gateway.read("Patient", "pat-001", request_id="r-1")
    assert answer.status == 200
    # The read retry sleeps Retry-After (2 s); the governor then waits for its next token,
    # which at one request per 4 s is 2 s further away.
    assert clock.slept == pytest.approx([2.0, 2.0])


class UnavailableBuckets:
    """Buckets whose store has gone away (a database restart)."""

    def take(self, key: str, *, limit: RateLimit, now: float) -> float:
        del key, limit, now
        raise StoreUnavailable("down")

    def block(self, key: str, *, until: float) -> None:
        del key, until
        raise StoreUnavailable("down")


def test_a_store_outage_before_sending_means_nothing_was_sent() -> None:
    """No token because the store is down: EhrUnreachable, so the executor simply retries."""
    pacer = StoreRateGovernor(UnavailableBuckets(), "ehr:a", RateLimit(requests_per_second=1.0))
    with pytest.raises(EhrUnreachable, match="nothing was sent"):
        pacer.acquire("create DocumentReference")


def test_a_store_outage_after_the_answer_never_loses_the_answer() -> None:
    """Recording a 429's pause is best effort: the EHR's answer is returned regardless."""
    pacer = StoreRateGovernor(UnavailableBuckets(), "ehr:a", RateLimit(requests_per_second=1.0))
    pacer.observe(429, {"retry-after": "5"})  # does not raise


class CountingBuckets(MemoryRateBuckets):
    """Memory buckets that count round trips (each is one transaction in the store)."""

    def __init__(self) -> None:
        super().__init__()
        self.trips = 0

    def take_up_to(
        self, key: str, *, limit: RateLimit, now: float, count: int
    ) -> tuple[int, float]:
        self.trips += 1
        return super().take_up_to(key, limit=limit, now=now, count=count)


class SlowBuckets(CountingBuckets):
    """A store round trip that takes long enough for every thread to arrive meanwhile."""

    def take_up_to(
        self, key: str, *, limit: RateLimit, now: float, count: int
    ) -> tuple[int, float]:
        time.sleep(0.05)
        return super().take_up_to(key, limit=limit, now=now, count=count)


def test_tokens_taken_in_batches_cost_one_round_trip_per_batch_and_keep_the_rate() -> None:
    """Batch of 4: 8 requests in 2 round trips; past the burst the rate still spaces them."""
    clock = Clock()
    buckets = CountingBuckets()
    limit = RateLimit(requests_per_second=4.0, burst=8)
    pacer = StoreRateGovernor(buckets, "ehr:a", limit, now=clock.now, sleep=clock.sleep, batch=4)
    for _ in range(8):
        pacer.acquire("create")
    assert buckets.trips == 2
    assert clock.slept == []
    pacer.acquire("create")  # the bucket is empty: one token's wait at 4/s
    assert clock.slept == pytest.approx([0.25])


def test_a_pause_asked_by_the_ehr_drops_the_tokens_taken_ahead() -> None:
    """A 429 with Retry-After: tokens held locally are not spent; the next request waits."""
    clock = Clock()
    limit = RateLimit(requests_per_second=4.0, burst=8)
    pacer = StoreRateGovernor(
        CountingBuckets(), "ehr:a", limit, now=clock.now, sleep=clock.sleep, batch=4
    )
    pacer.acquire("create")  # takes 4, spends 1
    pacer.observe(429, {"retry-after": "3"})
    pacer.acquire("create")
    assert clock.slept == pytest.approx([3.0])


def test_every_wait_is_counted_per_tenant_in_the_metrics() -> None:
    """Four waits of 0.5 s on clinic A's governor: 4 waits and 2 s; nothing names a request."""
    metrics = Metrics(profiles={"clinic-a": "sandbox"}, process=False)
    unwatch = metrics.watch_rate_governor()
    clock = Clock()
    try:
        pacer = governor(clock)
        for _ in range(5):
            pacer.acquire("read Patient")
    finally:
        unwatch()
    waits = metrics.registry.get_sample_value(
        "chartgate_rate_governor_waits_total", {"tenant": "clinic-a"}
    )
    seconds = metrics.registry.get_sample_value(
        "chartgate_rate_governor_wait_seconds_total", {"tenant": "clinic-a"}
    )
    assert (waits, seconds) == (4.0, pytest.approx(2.0))
    pacer.acquire("read Patient")  # no longer watched: not counted
    assert (
        metrics.registry.get_sample_value(
            "chartgate_rate_governor_waits_total", {"tenant": "clinic-a"}
        )
        == 4.0
    )


def test_threads_arriving_together_share_one_batch_instead_of_taking_one_each() -> None:
    """Eight threads ask at once with a batch of 8: one store round trip serves all of them."""
    arrived = threading.Barrier(8)

    buckets = SlowBuckets()
    limit = RateLimit(requests_per_second=1_000.0, burst=64)
    pacer = StoreRateGovernor(buckets, "ehr:a", limit, batch=8)

    def ask() -> None:
        arrived.wait()
        pacer.acquire("create")

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert buckets.trips == 1


def test_one_round_trip_brings_a_token_for_every_thread_waiting_behind_it() -> None:
    """Twelve threads ask at once with a batch of 4: still one store round trip serves all."""
    arrived = threading.Barrier(12)
    buckets = SlowBuckets()
    pacer = StoreRateGovernor(
        buckets, "ehr:a", RateLimit(requests_per_second=1_000.0, burst=64), batch=4
    )

    def ask() -> None:
        arrived.wait()
        pacer.acquire("create")

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert buckets.trips <= 2  # the first may leave before the others are counted
