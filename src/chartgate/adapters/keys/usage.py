# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Counting every use of a key: ``chartgate_key_uses_total{purpose, operation}``.

Labels are only the purpose (``kek``, ``ledger``) and the operation (``wrap``, ``unwrap``,
``sign``): no key id, tenant or anything else that could identify data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class KeyUsage:
    """Thread-safe counts of key uses by (purpose, operation)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def count(self, purpose: str, operation: str) -> None:
        """Add one use."""
        with self._lock:
            key = (purpose, operation)
            self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """A copy of the counts so far."""
        with self._lock:
            return dict(self._counts)


class KeyUsageCollector(Collector):
    """Exposes a ``KeyUsage`` as the ``chartgate_key_uses_total`` counter."""

    def __init__(self, usage: KeyUsage) -> None:
        self._usage = usage

    def collect(self) -> Iterator[Metric]:
        """Yield the counter with one sample per (purpose, operation) seen."""
        family = CounterMetricFamily(
            "chartgate_key_uses",
            "Uses of the key-encryption key and the ledger signing key.",
            labels=["purpose", "operation"],
        )
        for (purpose, operation), value in sorted(self._usage.snapshot().items()):
            family.add_metric([purpose, operation], float(value))
        yield family
