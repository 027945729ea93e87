"""The write-back worker loop (what ``chartgate worker`` runs)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from chartgate.bootstrap import Application


def run_worker(
    application: Application,
    *,
    once: bool = False,
    report: Callable[[int], None] | None = None,
) -> None:
    """Claim due write-backs and send them until SIGTERM/SIGINT (or once, with ``once``)."""
    executor = application.executor()
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            taken = executor.run_once()
            # Cut the ledger's signed checkpoints when N events or T seconds are due.
            application.ledger.checkpointer.tick()
            # Push provable ledger entries to the audit sink (one batch per tenant per poll).
            if application.audit_sink is not None:
                application.audit_sink.push()
            if report is not None:
                report(taken)
            if once:
                return
            if taken == 0:
                time.sleep(application.settings.worker_poll_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
