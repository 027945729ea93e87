# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The write-back outbox rows: add, read, the due list, claim, progress and lease renewal.

Tenant-scoped like every repository (``repositories.py``): the tenant is in every WHERE
clause. The approved payload is sealed with the row's identity as associated data.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.killswitches import held_writebacks
from chartgate.adapters.storage.repositories import row_aad
from chartgate.adapters.storage.wakeup import notify_writebacks
from chartgate.domain.documents import note_type_of
from chartgate.domain.errors import NotFound
from chartgate.domain.structured import SETTLED_STATES
from chartgate.domain.utc import as_utc
from chartgate.service.ports import Cipher, JsonObject, WritebackRecord

_WB_PROGRESS = (
    "state",
    "may_have_landed",
    "attempts",
    "next_attempt_at",
    "document_id",
    "document_version",
    "provenance_id",
    "last_status",
    "last_reason",
    "escalated_at",
)

_INSERT = insert(t.writebacks)
"""Every approval's outbox row: built once per process (issue 20). No ``traceparent``: the
trace is handed on by the unit of work before commit (``observed._carry_trace``)."""


class WritebackRepository:
    """The outbox: one row per approval (the claim), leased by workers."""

    def __init__(
        self, conn: Connection, cipher: Cipher, *, ehr_vendors: Mapping[str, str] | None = None
    ) -> None:
        self._conn = conn
        self._cipher = cipher
        # tenant -> EHR vendor profile, so an EHR kill switch can hold rows in SQL.
        self._ehr_vendors = dict(ehr_vendors or {})
        # The row a claim just left (RETURNING): the claimant's next ``get`` of it, in this
        # transaction and before anything else writes, needs no read (issue 20).
        self._claimed: dict[tuple[str, str], Any] = {}

    def add(self, record: WritebackRecord) -> None:
        """Insert the outbox row for an approval."""
        self._claimed.clear()
        blob = self._cipher.encrypt(
            record.tenant,
            json.dumps(record.payload).encode(),
            aad=row_aad(record.tenant, "writebacks", record.id),
        )
        self._conn.execute(
            _INSERT,
            {
                "tenant": record.tenant,
                "id": record.id,
                "draft_id": record.draft_id,
                "approval_id": record.approval_id,
                "kind": record.kind.value,
                "state": record.state.value,
                "may_have_landed": record.may_have_landed,
                "payload_blob": blob,
                "payload_hash": record.payload_hash,
                "correlation_id": record.correlation_id,
                "attempts": record.attempts,
                "next_attempt_at": record.next_attempt_at,
                "created_at": record.created_at,
                "updated_at": record.updated_at,
                "note_type": record.note_type or _note_type(record.payload),
                "part": record.part,
                "after_id": record.after_id,
                "target_type": record.target_type,
            },
        )
        notify_writebacks(self._conn)  # a waiting worker looks as soon as this commits

    def get(self, tenant: str, writeback_id: str) -> WritebackRecord:
        """Load one write-back; NotFound for a missing or foreign id."""
        row = self._claimed.pop((tenant, writeback_id), None)
        self._claimed.clear()
        if row is None:
            key = {"g_tenant": tenant, "g_id": writeback_id}
            row = self._conn.execute(_GET, key).mappings().first()
        if row is None:
            raise NotFound("write-back not found", expression="id")
        return self._from_row(row)

    def for_draft(self, tenant: str, draft_id: str) -> list[WritebackRecord]:
        """All write-backs of a draft, oldest first."""
        rows = self._conn.execute(_OF_DRAFT, {"g_tenant": tenant, "g_draft": draft_id}).mappings()
        return [self._from_row(row) for row in rows]

    def _from_row(self, row: Any) -> WritebackRecord:  # noqa: ANN401 - RowMapping
        payload = json.loads(
            self._cipher.decrypt(
                row["tenant"],
                row["payload_blob"],
                aad=row_aad(row["tenant"], "writebacks", row["id"]),
            )
        )
        return WritebackRecord(
            tenant=row["tenant"],
            id=row["id"],
            draft_id=row["draft_id"],
            approval_id=row["approval_id"],
            kind=row["kind"],
            state=row["state"],
            may_have_landed=bool(row["may_have_landed"]),
            payload=payload,
            payload_hash=row["payload_hash"],
            correlation_id=row["correlation_id"],
            attempts=row["attempts"],
            next_attempt_at=as_utc(row["next_attempt_at"]),
            document_id=row["document_id"],
            document_version=row["document_version"],
            provenance_id=row["provenance_id"],
            last_status=row["last_status"],
            last_reason=row["last_reason"],
            created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
            escalated_at=as_utc(row["escalated_at"]) if row["escalated_at"] is not None else None,
            part=row["part"],
            after_id=row["after_id"],
            note_type=row["note_type"],
        )

    def due(
        self, now: datetime, *, limit: int = 10, tenant: str | None = None
    ) -> list[tuple[str, str]]:
        """(tenant, id) of write-backs a worker may take now, across tenants (or of one).

        Queued and ambiguous rows whose time has come, and ``sending`` rows whose lease
        expired (their worker died mid-request, so they are ambiguous). Rows an engaged
        ``hold-write-back`` switch covers stay where they are (the queue keeps them).
        ``tenant``: only that tenant's rows (and only theirs are locked on PostgreSQL).
        """
        wb = t.writebacks.c
        query = (
            select(wb.tenant, wb.id)
            .where(
                or_(
                    and_(wb.state.in_(("queued", "ambiguous")), wb.next_attempt_at <= now),
                    and_(wb.state == "sending", wb.lease_until < now),
                ),
                ~held_writebacks(self._ehr_vendors),
                _predecessor_settled(),
            )
            .order_by(wb.next_attempt_at)
            .limit(limit)
        )
        if tenant is not None:
            query = query.where(wb.tenant == tenant)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [(r.tenant, r.id) for r in self._conn.execute(query)]

    def claim(
        self, tenant: str, writeback_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> str | None:
        """Take the lease on a due write-back (compare-and-set); return its prior state or None.

        Only one worker can win: the UPDATE's WHERE re-checks that the row is still due.
        """
        current = self._conn.execute(
            _STATE, {"g_tenant": tenant, "g_id": writeback_id}
        ).scalar_one_or_none()
        if current is None:
            return None
        vendors = tuple(sorted((self._ehr_vendors or {}).items()))
        self._claimed.clear()
        claimed = (
            self._conn.execute(
                _claim(vendors),
                {
                    "c_tenant": tenant,
                    "c_id": writeback_id,
                    "c_current": current,
                    "c_now": now,
                    "c_owner": owner,
                    "c_until": lease_until,
                    "c_updated": now,
                },
            )
            .mappings()
            .first()
        )
        if claimed is None:
            return None
        self._claimed[tenant, writeback_id] = claimed
        return str(current)

    def save_progress(
        self,
        record: WritebackRecord,
        *,
        now: datetime,
        owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> bool:
        """Persist progress; with ``owner``, only while that worker still holds the lease.

        With ``owner`` and ``lease_until``, only while the lease has not run out either, and
        the lease is renewed in the same statement (a worker's step before each request).
        """
        self._claimed.clear()
        values: dict[str, Any] = {name: getattr(record, name) for name in _WB_PROGRESS}
        values["state"] = record.state.value
        if owner is not None and lease_until is not None and record.state == "sending":
            params = {f"p_{name}": value for name, value in values.items()}
            params.update(
                p_tenant=record.tenant,
                p_id=record.id,
                p_owner=owner,
                p_now=now,
                p_until=lease_until,
                p_updated=now,
            )
            return self._conn.execute(_PROGRESS_RENEWING, params).rowcount == 1
        if owner is not None and record.state != "sending":  # a worker's finish
            params = {f"p_{name}": value for name, value in values.items()}
            params.update(p_tenant=record.tenant, p_id=record.id, p_owner=owner, p_updated=now)
            return self._conn.execute(_PROGRESS_RELEASING, params).rowcount == 1
        if record.state != "sending":
            values["lease_owner"] = None
            values["lease_until"] = None
        values["updated_at"] = now
        wb = t.writebacks.c
        query = update(t.writebacks).where(wb.tenant == record.tenant, wb.id == record.id)
        if owner is not None:
            query = query.where(wb.lease_owner == owner, wb.state == "sending")
        elif record.state in ("queued", "ambiguous"):
            notify_writebacks(self._conn)  # a person sent it back to the queue
        return self._conn.execute(query.values(**values)).rowcount == 1

    def renew_lease(
        self, tenant: str, writeback_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Extend the lease if ``owner`` still holds it and it has not run out."""
        self._claimed.clear()
        result = self._conn.execute(
            _RENEW,
            {
                "r_tenant": tenant,
                "r_id": writeback_id,
                "r_owner": owner,
                "r_now": now,
                "r_until": lease_until,
                "r_updated": now,
            },
        )
        return result.rowcount == 1


# The worker's per-attempt statements are built once per process (``bindparam``), not per
# call: building and cache-keying them (the claim's kill-switch and predecessor subqueries
# above all) cost more CPU than SQLite's answer, inside the one writer's lock (issue 20).
_wb = t.writebacks.c
_GET = select(t.writebacks).where(_wb.tenant == bindparam("g_tenant"), _wb.id == bindparam("g_id"))
_OF_DRAFT = (
    select(t.writebacks)
    .where(_wb.tenant == bindparam("g_tenant"), _wb.draft_id == bindparam("g_draft"))
    .order_by(_wb.created_at, _wb.part)
)
_STATE = select(_wb.state).where(_wb.tenant == bindparam("g_tenant"), _wb.id == bindparam("g_id"))


def _lease_held(prefix: str) -> tuple[ColumnElement[bool], ...]:
    """The write-back is still sending under ``<prefix>_owner``'s unexpired lease."""
    return (
        _wb.tenant == bindparam(f"{prefix}_tenant"),
        _wb.id == bindparam(f"{prefix}_id"),
        _wb.state == "sending",
        _wb.lease_owner == bindparam(f"{prefix}_owner"),
        _wb.lease_until >= bindparam(f"{prefix}_now", type_=_wb.lease_until.type),
    )


_RENEW = (
    update(t.writebacks)
    .where(*_lease_held("r"))
    .values(
        lease_until=bindparam("r_until", type_=_wb.lease_until.type),
        updated_at=bindparam("r_updated", type_=_wb.updated_at.type),
    )
)

_PROGRESS_RENEWING = (
    update(t.writebacks)
    .where(*_lease_held("p"))
    .values(
        {
            **{name: bindparam(f"p_{name}", type_=_wb[name].type) for name in _WB_PROGRESS},
            "lease_until": bindparam("p_until", type_=_wb.lease_until.type),
            "updated_at": bindparam("p_updated", type_=_wb.updated_at.type),
        }
    )
)
"""Save progress and renew the lease in one statement, while the lease is still ours."""

_PROGRESS_RELEASING = (
    update(t.writebacks)
    .where(
        _wb.tenant == bindparam("p_tenant"),
        _wb.id == bindparam("p_id"),
        _wb.lease_owner == bindparam("p_owner"),
        _wb.state == "sending",
    )
    .values(
        {
            **{name: bindparam(f"p_{name}", type_=_wb[name].type) for name in _WB_PROGRESS},
            "lease_owner": None,
            "lease_until": None,
            "updated_at": bindparam("p_updated", type_=_wb.updated_at.type),
        }
    )
)
"""A worker's finish: save progress and give the lease up, if it still holds it."""


@functools.cache
def _claim(vendors: tuple[tuple[str, str], ...]) -> Update:
    """The claim's compare-and-set, for one process's tenant -> EHR vendor map."""
    now = bindparam("c_now", type_=_wb.next_attempt_at.type)
    due = or_(
        and_(_wb.state.in_(("queued", "ambiguous")), _wb.next_attempt_at <= now),
        and_(_wb.state == "sending", _wb.lease_until < now),
    )
    return (
        update(t.writebacks)
        .where(
            _wb.tenant == bindparam("c_tenant"),
            _wb.id == bindparam("c_id"),
            _wb.state == bindparam("c_current"),
            due,
            ~held_writebacks(dict(vendors)),
            _predecessor_settled(),
        )
        .values(
            state="sending",
            lease_owner=bindparam("c_owner"),
            lease_until=bindparam("c_until", type_=_wb.lease_until.type),
            attempts=_wb.attempts + 1,
            updated_at=bindparam("c_updated", type_=_wb.updated_at.type),
        )
        .returning(*t.writebacks.c)
    )


def _predecessor_settled() -> ColumnElement[bool]:
    """No predecessor, or it is settled: the structured parts go one after the other."""
    wb = t.writebacks.c
    before = t.writebacks.alias("before")
    settled = (
        select(before.c.id)
        .where(
            before.c.tenant == wb.tenant,
            before.c.id == wb.after_id,
            before.c.state.in_(sorted(SETTLED_STATES)),
        )
        .exists()
    )
    return or_(wb.after_id.is_(None), settled)


def _note_type(payload: JsonObject) -> str | None:
    """The LOINC code of the note a write-back writes (for the kill switch's SQL filter)."""
    return note_type_of(payload)
