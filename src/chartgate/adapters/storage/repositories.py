"""Tenant-scoped repositories over one SQLAlchemy connection.

Every method takes the tenant and puts it in the WHERE clause: a row of another tenant is
indistinguishable from a missing one. Clinical content is encrypted on the way in and
decrypted on the way out, with the row's identity as associated data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.killswitches import held_writebacks
from chartgate.adapters.storage.ledger import SqlLedger
from chartgate.adapters.storage.wakeup import notify_writebacks
from chartgate.domain.diff import DraftDiff
from chartgate.domain.drafts import Approval, Approver, Draft, DraftVersion
from chartgate.domain.errors import NotFound
from chartgate.domain.lifecycle import DraftState
from chartgate.domain.submission import Origin, VersionContent
from chartgate.domain.utc import as_utc
from chartgate.service.ports import Cipher, JsonObject, WritebackRecord


def _aad(*parts: object) -> bytes:
    return "|".join(str(p) for p in parts).encode()


class DraftRepository:
    """Drafts and their versions."""

    def __init__(self, conn: Connection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def add(self, draft: Draft) -> None:
        """Insert a new draft with its versions."""
        self._conn.execute(
            insert(t.drafts).values(
                tenant=draft.tenant,
                id=draft.id,
                patient=draft.patient,
                encounter=draft.encounter,
                origin=draft.origin.model_dump(mode="json"),
                baseline=draft.baseline,
                correlation_id=draft.correlation_id,
                state=draft.state.value,
                approved_version=draft.approved_version,
                doc_status=draft.doc_status,
                created_at=draft.created_at,
                updated_at=draft.created_at,
                row_version=1,
            )
        )
        for version in draft.versions:
            self._insert_version(draft, version)

    def _insert_version(self, draft: Draft, version: DraftVersion) -> None:
        plaintext = json.dumps(version.content.model_dump(mode="json")).encode()
        self._conn.execute(
            insert(t.draft_versions).values(
                tenant=draft.tenant,
                draft_id=draft.id,
                number=version.number,
                author=version.author,
                created_at=version.created_at,
                content_hash=version.content_hash,
                content_blob=self._cipher.encrypt(
                    draft.tenant,
                    plaintext,
                    aad=_aad(draft.tenant, "draft_versions", draft.id, version.number),
                ),
            )
        )

    def get(self, tenant: str, draft_id: str, *, for_update: bool = False) -> Draft:
        """Load a draft with all its versions; NotFound for a missing or foreign id."""
        query = select(t.drafts).where(t.drafts.c.tenant == tenant, t.drafts.c.id == draft_id)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        if row is None:
            raise NotFound("draft not found", expression="id")
        draft = Draft(
            id=row["id"],
            tenant=row["tenant"],
            patient=row["patient"],
            encounter=row["encounter"],
            origin=Origin.model_validate(row["origin"]),
            correlation_id=row["correlation_id"],
            created_at=as_utc(row["created_at"]),
            state=DraftState(row["state"]),
            baseline=dict(row["baseline"]),
            approved_version=row["approved_version"],
            doc_status=row["doc_status"],
        )
        versions = self._conn.execute(
            select(t.draft_versions)
            .where(t.draft_versions.c.tenant == tenant, t.draft_versions.c.draft_id == draft_id)
            .order_by(t.draft_versions.c.number)
        ).mappings()
        for v in versions:
            plaintext = self._cipher.decrypt(
                tenant, v["content_blob"], aad=_aad(tenant, "draft_versions", draft_id, v["number"])
            )
            draft.versions.append(
                DraftVersion(
                    number=v["number"],
                    content=VersionContent.model_validate(json.loads(plaintext)),
                    author=v["author"],
                    created_at=as_utc(v["created_at"]),
                    content_hash=v["content_hash"],
                )
            )
        return draft

    def save(self, draft: Draft, *, at: datetime) -> None:
        """Persist state changes and any versions not yet stored (versions are never rewritten)."""
        stored = self._conn.execute(
            select(func.max(t.draft_versions.c.number)).where(
                t.draft_versions.c.tenant == draft.tenant,
                t.draft_versions.c.draft_id == draft.id,
            )
        ).scalar_one()
        for version in draft.versions[(stored or 0) :]:
            self._insert_version(draft, version)
        self._conn.execute(
            update(t.drafts)
            .where(t.drafts.c.tenant == draft.tenant, t.drafts.c.id == draft.id)
            .values(
                state=draft.state.value,
                approved_version=draft.approved_version,
                doc_status=draft.doc_status,
                baseline=draft.baseline,
                updated_at=at,
                row_version=t.drafts.c.row_version + 1,
            )
        )


class ApprovalRepository:
    """Approvals: immutable, one per version and kind."""

    def __init__(self, conn: Connection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def add(self, tenant: str, approval: Approval) -> None:
        """Insert an approval (the unique constraint refuses a second one for the version)."""
        diff_blob = self._cipher.encrypt(
            tenant,
            json.dumps(approval.diff.as_dict()).encode(),
            aad=_aad(tenant, "approvals", approval.id),
        )
        self._conn.execute(
            insert(t.approvals).values(
                tenant=tenant,
                id=approval.id,
                draft_id=approval.draft_id,
                version=approval.version,
                kind=approval.kind,
                content_hash=approval.content_hash,
                approver={
                    "subject": approval.approver.subject,
                    "fhir_user": approval.approver.fhir_user,
                    "amr": list(approval.approver.amr),
                    "acr": approval.approver.acr,
                    "auth_time": (
                        approval.approver.auth_time.isoformat()
                        if approval.approver.auth_time
                        else None
                    ),
                    "reason": approval.approver.reason,
                },
                approved_at=approval.approved_at,
                diff_blob=diff_blob,
                policy_hash=approval.policy_hash,
                writeback_id=approval.writeback_id,
                consent_digest=approval.consent_digest,
                system_text_hash=approval.system_text_hash,
            )
        )

    def get(self, tenant: str, approval_id: str) -> Approval:
        """Load one approval."""
        row = (
            self._conn.execute(
                select(t.approvals).where(
                    t.approvals.c.tenant == tenant, t.approvals.c.id == approval_id
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("approval not found", expression="id")
        return self._from_row(tenant, row)

    def for_draft(self, tenant: str, draft_id: str) -> list[Approval]:
        """All approvals of a draft, oldest first."""
        rows = self._conn.execute(
            select(t.approvals)
            .where(t.approvals.c.tenant == tenant, t.approvals.c.draft_id == draft_id)
            .order_by(t.approvals.c.approved_at)
        ).mappings()
        return [self._from_row(tenant, row) for row in rows]

    def _from_row(self, tenant: str, row: Any) -> Approval:  # noqa: ANN401 - RowMapping
        diff = json.loads(
            self._cipher.decrypt(tenant, row["diff_blob"], aad=_aad(tenant, "approvals", row["id"]))
        )
        approver = row["approver"]
        return Approval(
            id=row["id"],
            draft_id=row["draft_id"],
            version=row["version"],
            content_hash=row["content_hash"],
            approver=Approver(
                subject=approver["subject"],
                fhir_user=approver["fhir_user"],
                amr=tuple(approver["amr"]),
                acr=approver["acr"],
                auth_time=(
                    datetime.fromisoformat(approver["auth_time"]) if approver["auth_time"] else None
                ),
                reason=approver.get("reason"),
            ),
            approved_at=as_utc(row["approved_at"]),
            diff=DraftDiff(
                from_version=diff["from_version"],
                to_version=diff["to_version"],
                unified=diff["unified"],
                json_patch=diff["json_patch"],
                lines_added=diff["lines_added"],
                lines_removed=diff["lines_removed"],
            ),
            policy_hash=row["policy_hash"],
            writeback_id=row["writeback_id"],
            consent_digest=row.get("consent_digest"),
            system_text_hash=row.get("system_text_hash"),
            kind=row["kind"],
        )


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


class WritebackRepository:
    """The outbox: one row per approval (the claim), leased by workers."""

    def __init__(
        self, conn: Connection, cipher: Cipher, *, ehr_vendors: Mapping[str, str] | None = None
    ) -> None:
        self._conn = conn
        self._cipher = cipher
        # tenant -> EHR vendor profile, so an EHR kill switch can hold rows in SQL.
        self._ehr_vendors = dict(ehr_vendors or {})

    def add(self, record: WritebackRecord) -> None:
        """Insert the outbox row for an approval."""
        blob = self._cipher.encrypt(
            record.tenant,
            json.dumps(record.payload).encode(),
            aad=_aad(record.tenant, "writebacks", record.id),
        )
        self._conn.execute(
            insert(t.writebacks).values(
                tenant=record.tenant,
                id=record.id,
                draft_id=record.draft_id,
                approval_id=record.approval_id,
                kind=record.kind.value,
                state=record.state.value,
                may_have_landed=record.may_have_landed,
                payload_blob=blob,
                payload_hash=record.payload_hash,
                correlation_id=record.correlation_id,
                attempts=record.attempts,
                next_attempt_at=record.next_attempt_at,
                created_at=record.created_at,
                updated_at=record.updated_at,
                note_type=_note_type(record.payload),
            )
        )
        notify_writebacks(self._conn)  # a waiting worker looks as soon as this commits

    def get(self, tenant: str, writeback_id: str) -> WritebackRecord:
        """Load one write-back; NotFound for a missing or foreign id."""
        row = (
            self._conn.execute(
                select(t.writebacks).where(
                    t.writebacks.c.tenant == tenant, t.writebacks.c.id == writeback_id
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("write-back not found", expression="id")
        return self._from_row(row)

    def for_draft(self, tenant: str, draft_id: str) -> list[WritebackRecord]:
        """All write-backs of a draft, oldest first."""
        rows = self._conn.execute(
            select(t.writebacks)
            .where(t.writebacks.c.tenant == tenant, t.writebacks.c.draft_id == draft_id)
            .order_by(t.writebacks.c.created_at)
        ).mappings()
        return [self._from_row(row) for row in rows]

    def _from_row(self, row: Any) -> WritebackRecord:  # noqa: ANN401 - RowMapping
        payload = json.loads(
            self._cipher.decrypt(
                row["tenant"], row["payload_blob"], aad=_aad(row["tenant"], "writebacks", row["id"])
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
        )

    def due(self, now: datetime, *, limit: int = 10) -> list[tuple[str, str]]:
        """(tenant, id) of write-backs a worker may take now, across tenants.

        Queued and ambiguous rows whose time has come, and ``sending`` rows whose lease
        expired (their worker died mid-request, so they are ambiguous). Rows an engaged
        ``hold-write-back`` switch covers stay where they are (the queue keeps them).
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
            )
            .order_by(wb.next_attempt_at)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [(r.tenant, r.id) for r in self._conn.execute(query)]

    def claim(
        self, tenant: str, writeback_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> str | None:
        """Take the lease on a due write-back (compare-and-set); return its prior state or None.

        Only one worker can win: the UPDATE's WHERE re-checks that the row is still due.
        """
        wb = t.writebacks.c
        current = self._conn.execute(
            select(wb.state).where(wb.tenant == tenant, wb.id == writeback_id)
        ).scalar_one_or_none()
        if current is None:
            return None
        due = or_(
            and_(wb.state.in_(("queued", "ambiguous")), wb.next_attempt_at <= now),
            and_(wb.state == "sending", wb.lease_until < now),
        )
        result = self._conn.execute(
            update(t.writebacks)
            .where(
                wb.tenant == tenant,
                wb.id == writeback_id,
                wb.state == current,
                due,
                ~held_writebacks(self._ehr_vendors),
            )
            .values(
                state="sending",
                lease_owner=owner,
                lease_until=lease_until,
                attempts=wb.attempts + 1,
                updated_at=now,
            )
        )
        return current if result.rowcount == 1 else None

    def save_progress(
        self, record: WritebackRecord, *, now: datetime, owner: str | None = None
    ) -> bool:
        """Persist progress; with ``owner``, only while that worker still holds the lease."""
        values: dict[str, Any] = {name: getattr(record, name) for name in _WB_PROGRESS}
        values["state"] = record.state.value
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
        wb = t.writebacks.c
        result = self._conn.execute(
            update(t.writebacks)
            .where(
                wb.tenant == tenant,
                wb.id == writeback_id,
                wb.state == "sending",
                wb.lease_owner == owner,
                wb.lease_until >= now,
            )
            .values(lease_until=lease_until, updated_at=now)
        )
        return result.rowcount == 1


def _note_type(payload: JsonObject) -> str | None:
    """The LOINC code of the note a write-back writes (for the kill switch's SQL filter)."""
    codings = (payload.get("type") or {}).get("coding") or []
    code = codings[0].get("code") if codings else None
    return code if isinstance(code, str) else None


AuditRepository = SqlLedger
"""The audit trail is the Merkle ledger (``adapters/storage/ledger.py``)."""


class IdempotencyRepository:
    """Stored answers to Idempotency-Key requests (Stripe semantics).

    A stored answer can hold the draft's note text, so it is sealed like any clinical
    content: the ``response`` column holds ``{"sealed": <base64 ciphertext>}`` only.
    """

    def __init__(self, conn: Connection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def find(self, tenant: str, principal: str, key: str) -> JsonObject | None:
        """The stored record for a key, or None."""
        c = t.idempotency_keys.c
        row = (
            self._conn.execute(
                select(t.idempotency_keys).where(
                    c.tenant == tenant, c.principal == principal, c.key == key
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        record = dict(row)
        sealed = (record.get("response") or {}).get("sealed")
        if sealed is not None:
            plaintext = self._cipher.decrypt(
                tenant, base64.b64decode(sealed), aad=_aad(tenant, "idempotency", principal, key)
            )
            record["response"] = json.loads(plaintext)
        return record

    def begin(
        self, tenant: str, principal: str, key: str, request_hash: str, now: datetime
    ) -> None:
        """Record that a request with this key is in flight."""
        self._conn.execute(
            insert(t.idempotency_keys).values(
                tenant=tenant,
                principal=principal,
                key=key,
                request_hash=request_hash,
                state="in_flight",
                created_at=now,
            )
        )

    def finish(
        self, tenant: str, principal: str, key: str, status_code: int, response: JsonObject
    ) -> None:
        """Store the answer to replay for later requests with the same key."""
        c = t.idempotency_keys.c
        sealed = self._cipher.encrypt(
            tenant,
            json.dumps(response).encode(),
            aad=_aad(tenant, "idempotency", principal, key),
        )
        self._conn.execute(
            update(t.idempotency_keys)
            .where(c.tenant == tenant, c.principal == principal, c.key == key)
            .values(
                state="done",
                status_code=status_code,
                response={"sealed": base64.b64encode(sealed).decode("ascii")},
            )
        )

    def forget(self, tenant: str, principal: str, key: str) -> None:
        """Drop an in-flight key whose request failed on our side, so it can be retried."""
        c = t.idempotency_keys.c
        self._conn.execute(
            delete(t.idempotency_keys).where(
                c.tenant == tenant, c.principal == principal, c.key == key, c.state == "in_flight"
            )
        )
