"""How many write-backs of one tenant a worker carries at once (issue 20).

A worker keeps many write-backs in flight so that an EHR answering in hundreds of
milliseconds does not set its pace; one tenant's EHR must still not see more concurrent
requests than its operator allows. ``TenantSlots`` is that cap: a semaphore per tenant.
Requests per second stay the rate governor's (``adapters/ehr/rate.py``), shared by workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager


class TenantSlots:
    """At most ``per_tenant`` write-backs of one tenant at a time, in this process."""

    def __init__(self, per_tenant: int) -> None:
        self._per_tenant = max(1, per_tenant)
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def held(self, tenant: str) -> Iterator[None]:
        """Wait for one of ``tenant``'s slots and hold it for the block."""
        with self._lock:
            slot = self._slots.setdefault(tenant, threading.BoundedSemaphore(self._per_tenant))
        with slot:
            yield


Due = list[tuple[str, str]]
"""(tenant, write-back id) pairs, in the order they are due."""

TURN_BATCHES = 4
"""How many due-row batches (``2 * in_flight`` each) one worker turn takes at most."""


def carry(
    due: Due,
    process: Callable[[str, str], bool],
    *,
    in_flight: int,
    slots: TenantSlots,
    more: Callable[[int], Due] | None = None,
    limit: int | None = None,
) -> int:
    """Run ``process(tenant, id)`` for every due write-back, ``in_flight`` at a time.

    Each on a thread of its own: their EHR requests overlap, while the store still sees one
    writer at a time. ``more(n)``, when given, is asked for up to ``n`` more due write-backs
    whenever fewer than ``in_flight`` are left waiting for a thread, so threads never sit idle
    waiting for the slowest of a batch (issue 20: against a 300 ms EHR a batch's tail left
    most of the 64 threads idle); nothing is taken twice in one call, and at most ``limit``
    in all. Returns how many were taken; the first failure of any of them is raised once all
    are done (a worker killed in one is killed in all: ``process_wide``).
    """
    if in_flight <= 1 or len(due) <= 1:
        return sum(1 for tenant, writeback_id in due if process(tenant, writeback_id))

    def one(tenant: str, writeback_id: str) -> bool:
        with slots.held(tenant):
            return process(tenant, writeback_id)

    cap = limit if limit is not None else len(due)
    seen: set[tuple[str, str]] = set()
    taken, failure = 0, None
    with ThreadPoolExecutor(in_flight, "writeback") as pool:
        running: set[Future[bool]] = set()

        def submit(batch: Due) -> int:
            fresh = [pair for pair in batch if pair not in seen][: cap - len(seen)]
            seen.update(fresh)
            running.update(pool.submit(one, *pair) for pair in fresh)
            return len(fresh)

        submit(due)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            running.difference_update(done)
            for future in done:
                try:
                    taken += future.result()
                except BaseException as exc:  # noqa: BLE001 - raised below, once all are done
                    failure = failure or exc
            idle = len(running) < in_flight  # a thread has nothing submitted for it
            if more is not None and failure is None and idle and len(seen) < cap:
                fetched = more(min(2 * in_flight, cap - len(seen)))
                more = more if submit(fetched) else None  # none new: finish what runs
    if failure is not None:
        raise failure
    return taken


def process_wide(hook: Callable[[str], None]) -> Callable[[str], None]:
    """The executor's crash hook, made process-wide: once one attempt dies, every one does.

    A worker killed mid-request (``kill -9``) stops all its attempts at once; with many in
    flight, the others stop at their next step boundary, committing nothing more.
    """
    killed: list[BaseException] = []

    def crash(point: str) -> None:
        if killed:
            raise killed[0]
        try:
            hook(point)
        except BaseException as exc:
            killed.append(exc)
            raise

    return crash
