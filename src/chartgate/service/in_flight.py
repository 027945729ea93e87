"""How many write-backs of one tenant a worker carries at once (issue 20).

A worker keeps many write-backs in flight so that an EHR answering in hundreds of
milliseconds does not set its pace; one tenant's EHR must still not see more concurrent
requests than its operator allows. ``TenantSlots`` is that cap: a semaphore per tenant.
Requests per second stay the rate governor's (``adapters/ehr/rate.py``), shared by workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def carry(
    due: list[tuple[str, str]],
    process: Callable[[str, str], bool],
    *,
    in_flight: int,
    slots: TenantSlots,
) -> int:
    """Run ``process(tenant, id)`` for every due write-back, ``in_flight`` at a time.

    Each on a thread of its own: their EHR requests overlap, while the store still sees one
    writer at a time. Returns how many were taken; the first failure of any of them is
    raised once all are done (a worker killed in one is killed in all: ``process_wide``).
    """
    if in_flight <= 1 or len(due) <= 1:
        return sum(1 for tenant, writeback_id in due if process(tenant, writeback_id))

    def one(tenant: str, writeback_id: str) -> bool:
        with slots.held(tenant):
            return process(tenant, writeback_id)

    taken, failure = 0, None
    with ThreadPoolExecutor(min(in_flight, len(due)), "writeback") as pool:
        futures = [pool.submit(one, tenant, writeback_id) for tenant, writeback_id in due]
        for future in futures:
            try:
                taken += future.result()
            except BaseException as exc:  # noqa: BLE001 - raised below, once all are done
                failure = failure or exc
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
