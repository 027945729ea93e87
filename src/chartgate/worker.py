"""The write-back worker loop (what ``chartgate worker`` runs).

Every attempt's outcome is a committed audit event, which this process logs and counts
(``bootstrap.observe``); the loop itself logs start, each poll that took work, store
outages and recovery, and stop. A store outage does not end the worker: it backs off,
answers 503 on ``/readyz`` and carries on when the store is back.

Between turns the worker does not sleep a fixed poll: a turn that took work is followed at
once by the next, and an idle worker waits on a wake-up (``adapters/storage/wakeup.py``:
LISTEN/NOTIFY on PostgreSQL, ``data_version`` on SQLite) for at most the poll interval, so an
approval committed by any process is picked up in milliseconds.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError

from chartgate import __version__
from chartgate.adapters.storage.wakeup import Wakeup, wakeup_for
from chartgate.bootstrap import Application
from chartgate.observability import Metrics
from chartgate.ops_server import WorkerHealth
from chartgate.service.writeback import WritebackExecutor

OUTAGE_BACKOFF_CAP_SECONDS = 30.0


def run_worker(
    application: Application,
    *,
    once: bool = False,
    report: Callable[[int], None] | None = None,
    metrics: Metrics | None = None,
    health: WorkerHealth | None = None,
    should_stop: Callable[[], bool] | None = None,
    wakeup: Wakeup | None = None,
) -> None:
    """Claim due write-backs and send them until SIGTERM/SIGINT (or once, with ``once``).

    ``should_stop`` lets an embedding (a test) end the loop without a signal; ``wakeup``
    replaces the store's own wake-up (default: the one that fits the engine).
    """
    log = structlog.get_logger("chartgate.worker")
    executor = application.executor()
    poll = application.settings.worker_poll_seconds
    health = health or WorkerHealth(stall_seconds=max(60.0, 20 * poll))
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    waiter = wakeup or (None if once else wakeup_for(application.engine))
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("worker.started", version=__version__)
    try:
        while not stopping and not (should_stop is not None and should_stop()):
            taken = _turn(application, executor, health, metrics, raise_outage=once)
            if report is not None and taken is not None:
                report(taken)
            if once:
                return
            if taken is None:
                backoff = poll * 2.0 ** min(health.consecutive_failures, 10)
                time.sleep(min(OUTAGE_BACKOFF_CAP_SECONDS, backoff))
            elif taken == 0 and waiter is not None:
                waiter.wait(poll)
    finally:
        log.info("worker.stopped")
        if waiter is not None and wakeup is None:
            waiter.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _turn(
    application: Application,
    executor: WritebackExecutor,
    health: WorkerHealth,
    metrics: Metrics | None,
    *,
    raise_outage: bool,
) -> int | None:
    """One poll with its logs and health; None when the store could not be reached."""
    log = structlog.get_logger("chartgate.worker")
    started = time.perf_counter()
    try:
        taken = _poll(application, executor)
    except SQLAlchemyError as exc:
        health.turned(store_ok=False)
        log.error(  # noqa: TRY400 - the exception's type is the whole story; no traceback
            "worker.store_unreachable",
            error=type(exc).__name__,
            count=health.consecutive_failures,
        )
        if raise_outage:
            raise
        return None
    if health.consecutive_failures:
        log.info("worker.store_recovered", count=health.consecutive_failures)
    health.turned(store_ok=True)
    if metrics is not None:
        metrics.worker_polls.inc()
        metrics.worker_last_poll.set_to_current_time()
    if taken:
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("worker.poll", taken=taken, duration_ms=elapsed_ms)
    return taken


def _poll(application: Application, executor: WritebackExecutor) -> int:
    """One turn: send what is due, cut checkpoints, push the audit sink and webhooks."""
    taken = executor.run_once()
    # Cut the ledger's signed checkpoints when N events or T seconds are due.
    application.ledger.checkpointer.tick()
    # Push provable ledger entries to the audit sink (one batch per tenant per poll).
    if application.audit_sink is not None:
        application.audit_sink.push()
    # Deliver webhooks from the ledger (issue 14): one batch per due endpoint.
    application.webhook_pusher.push()
    return taken
