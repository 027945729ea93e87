"""Many write-backs in flight per worker: the caps, and a kill that stops them all (issue 20)."""

from __future__ import annotations

import threading
import time

import pytest

from chartgate.service.in_flight import TenantSlots, carry, process_wide


class Killed(BaseException):
    """A worker killed mid-step (like the history harness's kill)."""


def _tracking(delay: float = 0.02) -> tuple[dict[str, int], threading.Lock, object]:
    peak: dict[str, int] = {"all": 0, "now": 0}
    lock = threading.Lock()

    def process(tenant: str, writeback_id: str) -> bool:
        del writeback_id
        with lock:
            peak["now"] += 1
            peak[f"now:{tenant}"] = peak.get(f"now:{tenant}", 0) + 1
            peak["all"] = max(peak["all"], peak["now"])
            peak[tenant] = max(peak.get(tenant, 0), peak[f"now:{tenant}"])
        time.sleep(delay)
        with lock:
            peak["now"] -= 1
            peak[f"now:{tenant}"] -= 1
        return True

    return peak, lock, process


def test_write_backs_overlap_up_to_the_in_flight_cap() -> None:
    """Twelve due, a cap of four: all taken, at most four (and more than one) at once."""
    peak, _, process = _tracking()
    due = [("t1", f"wb-{i}") for i in range(12)]
    taken = carry(due, process, in_flight=4, slots=TenantSlots(4))  # type: ignore[arg-type]
    assert taken == 12
    assert 1 < peak["all"] <= 4


def test_one_tenant_never_has_more_than_its_own_cap_in_flight() -> None:
    """A tenant cap of two under a process cap of six: that tenant stays at two, others go on."""
    peak, _, process = _tracking()
    due = [("busy", f"a-{i}") for i in range(8)] + [("other", f"b-{i}") for i in range(4)]
    carry(due, process, in_flight=6, slots=TenantSlots(2))  # type: ignore[arg-type]
    assert peak["busy"] <= 2
    assert peak["other"] <= 2


def test_a_cap_of_one_runs_them_in_order_on_the_calling_thread() -> None:
    """``in_flight=1``: one after the other, in the order they were due, no thread pool."""
    seen: list[tuple[str, str]] = []
    main = threading.get_ident()

    def process(tenant: str, writeback_id: str) -> bool:
        assert threading.get_ident() == main
        seen.append((tenant, writeback_id))
        return writeback_id != "wb-1"

    due = [("t", "wb-0"), ("t", "wb-1"), ("t", "wb-2")]
    assert carry(due, process, in_flight=1, slots=TenantSlots(1)) == 2
    assert seen == due


def test_a_kill_in_one_attempt_stops_every_other_at_its_next_step() -> None:
    """Killed in one thread: the others raise at their next crash point and the kill is raised."""

    def hook(point: str) -> None:
        if point == "fatal":
            raise Killed(point)

    crash = process_wide(hook)
    finished: list[str] = []

    def process(tenant: str, writeback_id: str) -> bool:
        del tenant
        crash("after_claim")
        if writeback_id == "wb-0":
            crash("fatal")
        time.sleep(0.05)
        crash("before_finish")  # every other attempt dies here, after the kill
        finished.append(writeback_id)
        return True

    due = [("t", f"wb-{i}") for i in range(4)]
    with pytest.raises(Killed):
        carry(due, process, in_flight=4, slots=TenantSlots(4))
    assert finished == []


def test_threads_freed_by_quick_write_backs_take_more_due_ones_while_a_slow_one_runs() -> None:
    """No batch barrier: while one slow attempt runs, the other thread takes what became due."""
    order: list[str] = []
    lock = threading.Lock()
    asked: list[int] = []

    def process(tenant: str, writeback_id: str) -> bool:
        del tenant
        time.sleep(0.5 if writeback_id == "slow" else 0.01)
        with lock:
            order.append(writeback_id)
        return True

    def more(n: int) -> list[tuple[str, str]]:
        asked.append(n)
        return [("t", "late-1"), ("t", "late-2")] if len(asked) == 1 else [("t", "late-1")]

    due = [("t", "slow"), ("t", "quick")]
    taken = carry(due, process, in_flight=2, slots=TenantSlots(2), more=more, limit=10)
    assert taken == 4  # late-1 offered twice, taken once
    assert order[-1] == "slow"
    assert order.index("late-2") < order.index("slow")


def test_a_turn_takes_no_more_than_its_limit_however_much_is_due() -> None:
    """``more`` always has something new: the turn still ends at ``limit``."""
    counter = iter(range(1_000))

    def more(n: int) -> list[tuple[str, str]]:
        return [("t", f"new-{next(counter)}") for _ in range(n)]

    def process(tenant: str, writeback_id: str) -> bool:
        del tenant, writeback_id
        return True

    due = [("t", "a"), ("t", "b")]
    assert carry(due, process, in_flight=2, slots=TenantSlots(2), more=more, limit=7) == 7
