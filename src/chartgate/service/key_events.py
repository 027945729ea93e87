"""Key operations as ledger events: ``key.created``, ``key.rotated``, ``key.mismatch``.

A key operation concerns every tenant (one KEK ring and one signing key serve them all),
so the event is appended to each tenant's log: an auditor of any tenant sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chartgate.domain.events import AuditRecord, EventType
from chartgate.service.audit import LedgerUnitFactory
from chartgate.service.ports import Clock, IdSource


def tenants_of(ledger: LedgerUnitFactory, configured: Iterable[str]) -> list[str]:
    """The configured tenants and every tenant that already has a log."""
    with ledger(read_only=True) as unit:
        known = set(unit.ledger.tenants())
    return sorted(known | set(configured))


def record_key_event(
    ledger: LedgerUnitFactory,
    tenants: Iterable[str],
    kind: EventType,
    data: dict[str, Any],
    *,
    actor: str,
    clock: Clock,
    ids: IdSource,
) -> int:
    """Append one key event to each tenant's log; return how many were written."""
    correlation_id = ids.new_id()
    written = 0
    for tenant in tenants:
        with ledger() as unit:
            unit.ledger.append(
                AuditRecord(
                    type=kind,
                    tenant=tenant,
                    at=clock.now(),
                    correlation_id=correlation_id,
                    actor=actor,
                    data=dict(data),
                )
            )
        written += 1
    return written
