"""Kill switches in the store, read inside the transaction of the action they guard.

PostgreSQL runs READ COMMITTED: a guard that read "no switch" could still commit after a
switch was acknowledged. So every guard first reads the one ``kill_switch_epoch`` row FOR
SHARE and engaging/releasing UPDATEs it: the switch's transaction waits for every guarded
transaction that is already past its read, and every later guard waits for the switch and
then sees it. SQLite has one writer at a time, which gives the same order for free.

The guard's two statements are built once per process (``bindparam``): every approval runs
them, and building a SELECT per call cost more than executing it. They are still executed in
every guarded transaction; nothing read is kept between transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    insert,
    or_,
    select,
    true,
    update,
)

from chartgate.adapters.storage import tables as t
from chartgate.domain.killswitch import ALL_TENANTS, NOTE_RESOURCES, Mode, Scope, Switch
from chartgate.domain.utc import as_utc

_k = t.kill_switches.c
_EPOCH_SHARED = (
    select(t.kill_switch_epoch.c.epoch)
    .where(t.kill_switch_epoch.c.id == 1)
    .with_for_update(read=True)
)
_ENGAGED_OF_TENANT = (
    select(t.kill_switches)
    .where(
        _k.released_at.is_(None),
        _k.tenant.in_([bindparam("q_tenant"), bindparam("q_all")]),
    )
    .order_by(_k.set_at)
)
_ENGAGED = select(t.kill_switches).where(_k.released_at.is_(None)).order_by(_k.set_at)


def _switch(row: Any) -> Switch:  # noqa: ANN401 - RowMapping
    return Switch(
        id=row["id"],
        tenant=row["tenant"],
        scope=Scope(row["scope"]),
        value=row["value"],
        mode=Mode(row["mode"]),
        reason=row["reason"],
        set_by=row["set_by"],
        set_at=as_utc(row["set_at"]) or datetime.min.replace(tzinfo=UTC),
        released_at=as_utc(row["released_at"]),
        released_by=row["released_by"],
        release_reason=row["release_reason"],
    )


class SqlKillSwitches:
    """The switches, on the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def engaged(self, tenant: str | None = None, *, guard: bool = False) -> list[Switch]:
        """Engaged switches (of ``tenant`` and of every tenant; all when None).

        ``guard``: this read decides an action in the same transaction, so it first takes
        the epoch row FOR SHARE (see the module docstring).
        """
        if guard and self._conn.dialect.name == "postgresql":
            self._conn.execute(_EPOCH_SHARED)
        if tenant is None:
            rows = self._conn.execute(_ENGAGED)
        else:
            rows = self._conn.execute(
                _ENGAGED_OF_TENANT, {"q_tenant": tenant, "q_all": ALL_TENANTS}
            )
        return [_switch(row) for row in rows.mappings()]

    def history(self, tenant: str | None = None, *, limit: int = 50) -> list[Switch]:
        """Switches newest first, engaged or released."""
        c = t.kill_switches.c
        query = select(t.kill_switches).order_by(c.set_at.desc(), c.id).limit(limit)
        if tenant is not None:
            query = query.where(c.tenant.in_((tenant, ALL_TENANTS)))
        return [_switch(row) for row in self._conn.execute(query).mappings()]

    def get(self, switch_id: str) -> Switch | None:
        """One switch by id."""
        row = (
            self._conn.execute(select(t.kill_switches).where(t.kill_switches.c.id == switch_id))
            .mappings()
            .first()
        )
        return None if row is None else _switch(row)

    def bump_epoch(self) -> None:
        """Take the epoch row exclusively: waits out guards that already read the switches."""
        e = t.kill_switch_epoch.c
        self._conn.execute(update(t.kill_switch_epoch).where(e.id == 1).values(epoch=e.epoch + 1))

    def add(self, switch: Switch) -> None:
        """Store a newly engaged switch."""
        self._conn.execute(
            insert(t.kill_switches).values(
                id=switch.id,
                tenant=switch.tenant,
                scope=switch.scope.value,
                value=switch.value,
                mode=switch.mode.value,
                reason=switch.reason,
                set_by=switch.set_by,
                set_at=switch.set_at,
            )
        )

    def in_flight(self, now: datetime) -> list[tuple[str, str, int]]:
        """(tenant, id, attempt) of write-backs a worker holds at ``now`` (live lease)."""
        wb = t.writebacks.c
        rows = self._conn.execute(
            select(wb.tenant, wb.id, wb.attempts, wb.lease_until).where(wb.state == "sending")
        )
        return [
            (row.tenant, row.id, row.attempts)
            for row in rows
            if row.lease_until is not None and (as_utc(row.lease_until) or now) >= now
        ]

    def origin(self, tenant: str, draft_id: str) -> dict[str, Any] | None:
        """The draft's origin (model, prompt template): in clear, no decryption needed."""
        c = t.drafts.c
        found: dict[str, Any] | None = self._conn.execute(
            select(c.origin).where(c.tenant == tenant, c.id == draft_id)
        ).scalar_one_or_none()
        return found

    def release(self, switch_id: str, *, by: str, reason: str, at: datetime) -> bool:
        """Mark an engaged switch released; False when it was not engaged."""
        c = t.kill_switches.c
        result = self._conn.execute(
            update(t.kill_switches)
            .where(c.id == switch_id, c.released_at.is_(None))
            .values(released_at=at, released_by=by, release_reason=reason)
        )
        return result.rowcount == 1


def held_writebacks(ehr_vendors: Mapping[str, str] | None = None) -> ColumnElement[bool]:
    """SQL: the write-back row is covered by an engaged ``hold-write-back`` switch.

    Covers the scopes the store can see without decrypting: global, tenant, EHR (through
    ``ehr_vendors``, tenant -> vendor profile, from the settings), note type
    (``writebacks.note_type``), resource type, model version and prompt template (the
    draft's origin, stored in clear). A note type on rows older than migration 0007 is left
    to the worker's check before every request.
    """
    ks = t.kill_switches.c
    wb = t.writebacks.c
    origin = t.drafts.c.origin
    model_name = origin["model"]["name"].as_string()
    model_version = origin["model"]["version"].as_string()
    prompt = origin["prompt_template"].as_string()
    by_vendor: dict[str, list[str]] = {}
    for tenant, vendor in sorted((ehr_vendors or {}).items()):
        by_vendor.setdefault(vendor, []).append(tenant)
    ehr = [
        and_(ks.scope == Scope.EHR.value, ks.value == vendor, wb.tenant.in_(tenants))
        for vendor, tenants in by_vendor.items()
    ]
    covers = or_(
        ks.scope.in_((Scope.GLOBAL.value, Scope.TENANT.value)),
        *ehr,
        and_(ks.scope == Scope.NOTE_TYPE.value, ks.value == wb.note_type),
        and_(
            ks.scope == Scope.RESOURCE_TYPE.value,
            or_(ks.value.in_(sorted(NOTE_RESOURCES)), ks.value == wb.target_type),
        ),
        and_(
            ks.scope == Scope.MODEL_VERSION.value,
            or_(ks.value == model_version, ks.value == model_name + "@" + model_version),
        ),
        and_(ks.scope == Scope.PROMPT_TEMPLATE.value, ks.value == prompt),
    )
    return (
        select(ks.id)
        .select_from(t.kill_switches.join(t.drafts, true()))
        .where(
            ks.released_at.is_(None),
            ks.mode == Mode.HOLD_WRITEBACK.value,
            ks.tenant.in_((wb.tenant, ALL_TENANTS)),
            t.drafts.c.tenant == wb.tenant,
            t.drafts.c.id == wb.draft_id,
            covers,
        )
        .exists()
    )
