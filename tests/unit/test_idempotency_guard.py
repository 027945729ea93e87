"""Idempotency-Key with fakes: a lost database never becomes a stored answer or a stuck key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chartgate.domain.errors import (
    EhrError,
    IdempotencyInFlight,
    IdempotencyMismatch,
    InputError,
    StoreUnavailable,
)
from chartgate.domain.principal import Principal, Role
from chartgate.service.idempotency import IdempotencyGuard, settle
from fakes import FakeClock, FakeStore

WHO = Principal(tenant="clinic-a", subject="dr-1", role=Role.CLINICIAN)


def _guard() -> tuple[IdempotencyGuard, FakeStore, FakeClock]:
    store, clock = FakeStore(), FakeClock()
    return IdempotencyGuard(store.unit, clock, abandoned_after=timedelta(seconds=60)), store, clock


def _run(guard: IdempotencyGuard, action) -> tuple[tuple[int, dict[str, object]], bool]:
    return guard.run(
        WHO,
        "key-1",
        "sha256:req",
        action,
        error_answer=lambda e: (422, {"error": e.message}),
        authorize=lambda _stored: None,  # the replay's checks are the handlers' (issue 12)
    )


def _ok() -> tuple[int, dict[str, object]]:
    return 202, {"ok": True}


def test_a_lost_database_is_not_stored_as_the_answer() -> None:
    """A 503 from the store lets the same key run again once the database is back."""
    guard, _, _ = _guard()

    def down() -> tuple[int, dict[str, object]]:
        raise StoreUnavailable("the database is unavailable")

    with pytest.raises(StoreUnavailable):
        _run(guard, down)
    assert _run(guard, _ok) == ((202, {"ok": True}), False)
    assert _run(guard, _ok) == ((202, {"ok": True}), True)  # now replayed


def test_a_key_left_in_flight_is_refused_until_it_is_abandoned() -> None:
    """A request that died mid-way blocks its key for a minute, then a retry takes it over."""
    guard, store, clock = _guard()
    with store.unit() as uow:  # as left by a process killed during the request
        uow.idempotency.begin("clinic-a", _owner(), "key-1", "sha256:req", clock.now())
    with pytest.raises(IdempotencyInFlight):
        _run(guard, _ok)
    clock.advance(61)
    assert _run(guard, _ok) == ((202, {"ok": True}), False)


def _owner() -> str:
    """The owner column the guard uses for WHO (whatever form the guard gives it)."""
    guard, store, _ = _guard()
    _run(guard, _ok)
    [(_, owner, _)] = store.tables.idempotency
    return owner


def test_an_ehr_failure_answer_is_not_stored_as_the_answer() -> None:
    """A 502 (the EHR read failed, nothing done) is answered, and the same key may run again."""
    guard, _, _ = _guard()

    def ehr_down() -> tuple[int, dict[str, object]]:
        raise EhrError("Encounter read answered 503")

    def answer(error: Exception) -> tuple[int, dict[str, object]]:
        return (502 if isinstance(error, EhrError) else 422), {"error": str(error)}

    first = guard.run(
        WHO, "key-1", "sha256:req", ehr_down, error_answer=answer, authorize=lambda _s: None
    )
    assert first[0][0] == 502
    assert not first[1]
    assert _run(guard, _ok) == ((202, {"ok": True}), False)  # ran again, not a replayed 502


def test_a_refusal_of_the_request_is_replayed() -> None:
    """A 4xx refusal is the key's answer: the same key gets it again, without running."""
    guard, _, _ = _guard()

    def refused() -> tuple[int, dict[str, object]]:
        raise InputError("bad", expression="x")

    assert _run(guard, refused) == ((422, {"error": "bad"}), False)
    assert _run(guard, _ok) == ((422, {"error": "bad"}), True)


def _effect_run(guard: IdempotencyGuard, effect) -> tuple[tuple[int, dict[str, object]], bool]:
    return guard.run_effect(
        WHO,
        "key-1",
        "sha256:req",
        effect,
        lambda count: (202, {"effects": count}),
        error_answer=lambda e: (409, {"error": e.message}),
        authorize=lambda _stored: None,
    )


def test_an_effect_that_committed_keeps_its_answer_when_the_database_goes_right_after() -> None:
    """The answer is stored in the effect's own transaction: nothing is left to store after it.

    Before, the answer was stored in a transaction of its own after the effect: a database
    lost in between answered 503 and left the key in flight, and the retry (once the key was
    abandoned) ran the effect a second time — a second draft, or a 409 for an approval that
    had in fact been accepted (CI, tests/integration/test_database_restart.py).
    """
    store, clock = FakeStore(), FakeClock()
    database = {"up": True}

    def unit(*, read_only: bool = False):
        if not database["up"]:
            raise StoreUnavailable("the database is unavailable")
        return store.unit(read_only=read_only)

    guard = IdempotencyGuard(unit, clock, abandoned_after=timedelta(seconds=60))

    def effect() -> int:
        with store.unit() as uow:
            store.tables.epoch += 1  # the effect
            settle(uow, store.tables.epoch)
        database["up"] = False  # gone right after the commit
        return store.tables.epoch

    assert _effect_run(guard, effect) == ((202, {"effects": 1}), False)
    database["up"] = True
    clock.advance(61)  # long past the point where an in-flight key counts as abandoned
    assert _effect_run(guard, effect) == ((202, {"effects": 1}), True)
    assert store.tables.epoch == 1


def test_a_request_presumed_dead_rolls_its_effect_back_when_a_retry_took_its_key() -> None:
    """A slow request whose key a retry took over cannot settle: its transaction rolls back."""
    guard, store, clock = _guard()

    def quick() -> int:
        with store.unit() as uow:
            store.tables.epoch += 1
            settle(uow, store.tables.epoch)
        return store.tables.epoch

    def slow() -> int:
        clock.advance(61)  # this request hangs; its client gives up and retries with the key
        assert _effect_run(guard, quick) == ((202, {"effects": 1}), False)
        return quick()  # the hung request wakes up and tries to make its effect

    with pytest.raises(IdempotencyInFlight, match="took over"):
        _effect_run(guard, slow)
    assert store.tables.epoch == 1, "the effect was made twice"
    assert _effect_run(guard, quick) == ((202, {"effects": 1}), True)


def test_without_a_key_the_action_runs_every_time_and_nothing_is_stored() -> None:
    """No Idempotency-Key: each call runs, none is a replay, the store keeps no row."""
    guard, store, _ = _guard()
    calls: list[int] = []

    def count() -> tuple[int, dict[str, object]]:
        calls.append(1)
        return 202, {"n": len(calls)}

    for expected in (1, 2):
        answer = guard.run(
            WHO,
            None,
            "sha256:req",
            count,
            error_answer=lambda e: (422, {"error": e.message}),
            authorize=lambda _s: None,
        )
        assert answer == ((202, {"n": expected}), False)
    assert store.tables.idempotency == {}


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "semi;colon"])
def test_a_key_outside_the_grammar_is_refused_before_anything_runs(key: str) -> None:
    """A malformed Idempotency-Key is a 4xx naming the header; the action never runs."""
    guard, store, _ = _guard()

    def never() -> tuple[int, dict[str, object]]:
        raise AssertionError("ran")

    with pytest.raises(InputError, match="Idempotency-Key must be") as refused:
        guard.run(
            WHO,
            key,
            "sha256:req",
            never,
            error_answer=lambda e: (422, {"error": e.message}),
            authorize=lambda _s: None,
        )
    assert refused.value.expression == "Idempotency-Key"
    assert store.tables.idempotency == {}


def test_the_same_key_with_another_request_is_a_mismatch() -> None:
    """A key reused for a different body is refused, and the first answer stays stored."""
    guard, _, _ = _guard()
    assert _run(guard, _ok) == ((202, {"ok": True}), False)
    with pytest.raises(IdempotencyMismatch, match="different request"):
        guard.run(
            WHO,
            "key-1",
            "sha256:other",
            _ok,
            error_answer=lambda e: (422, {"error": e.message}),
            authorize=lambda _s: None,
        )
    assert _run(guard, _ok) == ((202, {"ok": True}), True)


def test_a_bug_in_the_action_frees_the_key_for_a_retry() -> None:
    """An unexpected exception (not a ChartgateError) is raised and its key not left in flight."""
    guard, store, _ = _guard()

    def bug() -> tuple[int, dict[str, object]]:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        _run(guard, bug)
    assert store.tables.idempotency == {}
    assert _run(guard, _ok) == ((202, {"ok": True}), False)
