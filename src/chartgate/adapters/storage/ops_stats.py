"""What an operator's gauges read from the store at scrape time: queue, ledger, backlogs, switches.

Counts and ages only, grouped by state or tenant: never a patient, a draft id or content.
Each call is a handful of aggregate queries on indexed columns, cheap enough for a
Prometheus scrape every 15 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, and_, func, or_, select

from chartgate.adapters.storage import tables as t

OPEN_STATES = ("queued", "sending", "ambiguous")
"""Write-back row states that are still the worker's business."""


@dataclass(frozen=True, slots=True)
class QueueState:
    """How many write-backs are in one state, and since when the oldest one was queued."""

    count: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class OpsSnapshot:
    """One scrape's worth of store facts."""

    queue: dict[str, QueueState] = field(default_factory=dict)
    ledger_size: dict[str, int] = field(default_factory=dict)
    last_checkpoint: dict[str, datetime | None] = field(default_factory=dict)
    sink_backlog: dict[str, int] = field(default_factory=dict)
    webhook_backlog: dict[str, int] = field(default_factory=dict)
    kill_switches: dict[tuple[str, str], int] = field(default_factory=dict)  # (mode, scope)


def ops_snapshot(engine: Engine, *, max_attempts: int) -> OpsSnapshot:
    """Read the queue by state, ledger heads and sink cursors.

    ``needs_person``: still open and escalated (``escalated_at`` set, or past
    ``max_attempts`` for rows escalated before that column was written).
    """
    w = t.writebacks
    queue: dict[str, QueueState] = {s: QueueState(0, None) for s in (*OPEN_STATES, "needs_person")}
    with engine.connect() as conn:
        rows = conn.execute(
            select(w.c.state, func.count(), func.min(w.c.created_at))
            .where(w.c.state.in_(OPEN_STATES))
            .group_by(w.c.state)
        ).all()
        for state, count, oldest in rows:
            queue[str(state)] = QueueState(int(count), oldest)
        stuck = conn.execute(
            select(func.count(), func.min(w.c.created_at)).where(
                and_(
                    w.c.state.in_(OPEN_STATES),
                    or_(w.c.escalated_at.is_not(None), w.c.attempts >= max_attempts),
                )
            )
        ).one()
        queue["needs_person"] = QueueState(int(stuck[0]), stuck[1])
        heads = {
            str(tenant): int(size)
            for tenant, size in conn.execute(
                select(t.ledger_heads.c.tenant, t.ledger_heads.c.next_seq)
            ).all()
        }
        cp = t.ledger_checkpoints
        signed = {
            str(tenant): at
            for tenant, at in conn.execute(
                select(cp.c.tenant, func.max(cp.c.signed_at)).group_by(cp.c.tenant)
            ).all()
        }
        cursors = t.audit_sink_cursors
        backlog: dict[str, int] = {}
        for tenant, last_seq in conn.execute(
            select(cursors.c.tenant, func.min(cursors.c.last_seq)).group_by(cursors.c.tenant)
        ).all():
            backlog[str(tenant)] = max(0, heads.get(str(tenant), 0) - 1 - int(last_seq))
        hooks = t.webhook_endpoints
        webhooks: dict[str, int] = {}
        for tenant, last_seq in conn.execute(
            select(hooks.c.tenant, func.min(hooks.c.last_seq))
            .where(hooks.c.disabled_at.is_(None))
            .group_by(hooks.c.tenant)
        ).all():
            webhooks[str(tenant)] = max(0, heads.get(str(tenant), 0) - 1 - int(last_seq))
        ks = t.kill_switches
        switches = {
            (str(mode), str(scope)): int(count)
            for mode, scope, count in conn.execute(
                select(ks.c.mode, ks.c.scope, func.count())
                .where(ks.c.released_at.is_(None))
                .group_by(ks.c.mode, ks.c.scope)
            ).all()
        }
    return OpsSnapshot(
        queue=queue,
        ledger_size=heads,
        last_checkpoint={tenant: signed.get(tenant) for tenant in heads},
        sink_backlog=backlog,
        webhook_backlog=webhooks,
        kill_switches=switches,
    )
