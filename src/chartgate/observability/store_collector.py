"""Gauges read from the store at scrape time: queues, ledger, checkpoints, sinks, switches."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chartgate.domain.killswitch import Mode, Scope
from chartgate.domain.utc import as_utc

if TYPE_CHECKING:
    from chartgate.adapters.storage.ops_stats import OpsSnapshot


class StoreCollector(Collector):
    """Queue, ledger and audit-sink gauges read from the store at scrape time.

    A store that does not answer gives ``chartgate_store_up 0`` instead of a failed scrape.
    """

    def __init__(self, snapshot: Callable[[], OpsSnapshot], now: Callable[[], datetime]) -> None:
        self._snapshot = snapshot
        self._now = now

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges of one snapshot."""
        up = GaugeMetricFamily("chartgate_store_up", "1 when the store answered the scrape.")
        try:
            snap = self._snapshot()
        except Exception:  # noqa: BLE001 - a scrape must report the failure, not raise
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        now = self._now()
        depth = GaugeMetricFamily(
            "chartgate_writeback_queue", "Write-backs by open state.", labels=["state"]
        )
        age = GaugeMetricFamily(
            "chartgate_writeback_oldest_age_seconds",
            "Age of the oldest write-back in each open state (0 when none).",
            labels=["state"],
        )
        for state, item in sorted(snap.queue.items()):
            depth.add_metric([state], float(item.count))
            oldest = 0.0 if item.oldest is None else (now - as_utc(item.oldest)).total_seconds()
            age.add_metric([state], max(0.0, oldest))
        size = GaugeMetricFamily(
            "chartgate_ledger_entries", "Entries in each tenant's audit ledger.", labels=["tenant"]
        )
        checkpoint = GaugeMetricFamily(
            "chartgate_ledger_checkpoint_age_seconds",
            "Seconds since each tenant's last signed checkpoint (+Inf: never signed).",
            labels=["tenant"],
        )
        for tenant, entries in sorted(snap.ledger_size.items()):
            size.add_metric([tenant], float(entries))
            signed = snap.last_checkpoint.get(tenant)
            seconds = math.inf if signed is None else (now - as_utc(signed)).total_seconds()
            checkpoint.add_metric([tenant], max(0.0, seconds))
        backlog = GaugeMetricFamily(
            "chartgate_audit_sink_backlog",
            "Ledger entries not yet acknowledged by the tenant's AuditEvent sink.",
            labels=["tenant"],
        )
        for tenant, behind in sorted(snap.sink_backlog.items()):
            backlog.add_metric([tenant], float(behind))
        hooks = GaugeMetricFamily(
            "chartgate_webhook_backlog",
            "Ledger entries the tenant's slowest enabled webhook endpoint has not passed.",
            labels=["tenant"],
        )
        for tenant, behind in sorted(snap.webhook_backlog.items()):
            hooks.add_metric([tenant], float(behind))
        yield from (depth, age, size, checkpoint, backlog, hooks, _switches(snap))


def _switches(snap: OpsSnapshot) -> GaugeMetricFamily:
    """Engaged kill switches by mode and scope: every pair present, 0 when none engaged."""
    switches = GaugeMetricFamily(
        "chartgate_kill_switches_engaged",
        "Kill switches engaged now, by mode and scope (docs/kill-switch.md).",
        labels=["mode", "scope"],
    )
    for mode in Mode:
        for scope in Scope:
            count = snap.kill_switches.get((mode.value, scope.value), 0)
            switches.add_metric([mode.value, scope.value], float(count))
    return switches
