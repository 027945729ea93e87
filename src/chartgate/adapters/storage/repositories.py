"""Tenant-scoped repositories over one SQLAlchemy connection.

Every method takes the tenant and puts it in the WHERE clause: a row of another tenant is
indistinguishable from a missing one. Clinical content is encrypted on the way in and
decrypted on the way out, with the row's identity as associated data. The statements a
draft's approval runs are built once per process (``bindparam``), not per call: building
and cache-keying a SQLAlchemy statement cost more CPU than SQLite's answer (issue 20).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.ledger import SqlLedger
from chartgate.domain.diff import DraftDiff
from chartgate.domain.drafts import Approval, Approver, Draft, DraftVersion
from chartgate.domain.errors import NotFound
from chartgate.domain.lifecycle import DraftState
from chartgate.domain.submission import Origin, VersionContent
from chartgate.domain.utc import as_utc
from chartgate.service.ports import Cipher

_d, _v = t.drafts.c, t.draft_versions.c
_DRAFT = select(t.drafts).where(_d.tenant == bindparam("q_tenant"), _d.id == bindparam("q_id"))
_DRAFT_LOCKED = _DRAFT.with_for_update()
_ROW_VERSION = select(_d.row_version).where(
    _d.tenant == bindparam("q_tenant"), _d.id == bindparam("q_id")
)
_ROW_VERSION_LOCKED = _ROW_VERSION.with_for_update()
_VERSIONS = (
    select(t.draft_versions)
    .where(_v.tenant == bindparam("q_tenant"), _v.draft_id == bindparam("q_id"))
    .order_by(_v.number)
)
_LAST_VERSION = select(func.max(_v.number)).where(
    _v.tenant == bindparam("q_tenant"), _v.draft_id == bindparam("q_id")
)
_VERSION_INSERT = insert(t.draft_versions)
_DRAFT_UPDATE = (
    update(t.drafts)
    .where(_d.tenant == bindparam("q_tenant"), _d.id == bindparam("q_id"))
    .values(
        state=bindparam("u_state"),
        approved_version=bindparam("u_approved_version"),
        doc_status=bindparam("u_doc_status"),
        baseline=bindparam("u_baseline", type_=t.drafts.c.baseline.type),
        updated_at=bindparam("u_updated_at", type_=t.drafts.c.updated_at.type),
        row_version=_d.row_version + 1,
    )
    .returning(_d.row_version)
)
_APPROVAL_INSERT = insert(t.approvals)


def row_aad(*parts: object) -> bytes:
    """Associated data that binds a sealed value to its row: the parts joined by ``|``."""
    return "|".join(str(p) for p in parts).encode()


class DraftRepository:
    """Drafts and their versions; ``seen``: each draft it added, loaded or saved (ADR 0033)."""

    def __init__(self, conn: Connection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher
        self.seen: list[Draft] = []
        # (tenant, id) -> how many versions this transaction read or wrote for that draft:
        # a save after a full read in the same transaction need not ask the store again.
        self._stored: dict[tuple[str, str], int] = {}

    def _see(self, draft: Draft) -> None:
        """Remember ``draft`` (once) so its unit of work can record its new events."""
        if not any(known is draft for known in self.seen):
            self.seen.append(draft)

    def add(self, draft: Draft) -> None:
        """Insert a new draft with its versions."""
        self._see(draft)
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
        self._stored[draft.tenant, draft.id] = _last_number(draft)

    def _insert_version(self, draft: Draft, version: DraftVersion) -> None:
        plaintext = json.dumps(version.content.model_dump(mode="json")).encode()
        self._conn.execute(
            _VERSION_INSERT,
            {
                "tenant": draft.tenant,
                "draft_id": draft.id,
                "number": version.number,
                "author": version.author,
                "created_at": version.created_at,
                "content_hash": version.content_hash,
                "schema_stamp": version.schema_stamp,
                "content_blob": self._cipher.encrypt(
                    draft.tenant,
                    plaintext,
                    aad=row_aad(draft.tenant, "draft_versions", draft.id, version.number),
                ),
            },
        )

    def get(
        self, tenant: str, draft_id: str, *, for_update: bool = False, known: Draft | None = None
    ) -> Draft:
        """Load a draft with all its versions; NotFound for a missing or foreign id.

        ``known``: the same draft read in an earlier transaction. Every save bumps the row
        version, so when it is still the one ``known`` was read at, ``known`` is what the store
        holds: it is returned after one short read (locked as the full read would be), and
        the versions are not read and decrypted again.
        """
        locked = for_update and self._conn.dialect.name == "postgresql"
        key = {"q_tenant": tenant, "q_id": draft_id}
        if (
            known is not None
            and known.stored_version is not None
            and (known.tenant, known.id) == (tenant, draft_id)
        ):
            now = self._conn.execute(_ROW_VERSION_LOCKED if locked else _ROW_VERSION, key)
            if now.scalar() == known.stored_version:
                self._see(known)
                return known
        row = self._conn.execute(_DRAFT_LOCKED if locked else _DRAFT, key).mappings().first()
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
            stored_version=row["row_version"],
        )
        versions = self._conn.execute(_VERSIONS, key).mappings()
        for v in versions:
            plaintext = self._cipher.decrypt(
                tenant,
                v["content_blob"],
                aad=row_aad(tenant, "draft_versions", draft_id, v["number"]),
            )
            draft.versions.append(
                DraftVersion(
                    number=v["number"],
                    content=VersionContent.model_validate(json.loads(plaintext)),
                    author=v["author"],
                    created_at=as_utc(v["created_at"]),
                    content_hash=v["content_hash"],
                    schema_stamp=v["schema_stamp"],
                )
            )
        self._stored[tenant, draft_id] = _last_number(draft)  # what _LAST_VERSION would say
        self._see(draft)
        return draft

    def save(self, draft: Draft, *, at: datetime) -> None:
        """Persist state changes and any versions not yet stored (versions are never rewritten)."""
        self._see(draft)
        key = {"q_tenant": draft.tenant, "q_id": draft.id}
        stored = self._stored.get((draft.tenant, draft.id))
        if stored is None:
            stored = self._conn.execute(_LAST_VERSION, key).scalar_one() or 0
        for version in draft.versions[stored:]:
            self._insert_version(draft, version)
        self._stored[draft.tenant, draft.id] = max(stored, _last_number(draft))
        # The row version this transaction leaves: once it commits, a later ``get(known=)``
        # needs only the short read (the unit of work forgets it if it rolls back).
        draft.stored_version = self._conn.execute(
            _DRAFT_UPDATE,
            {
                **key,
                "u_state": draft.state.value,
                "u_approved_version": draft.approved_version,
                "u_doc_status": draft.doc_status,
                "u_baseline": draft.baseline,
                "u_updated_at": at,
            },
        ).scalar_one_or_none()


def _last_number(draft: Draft) -> int:
    """The highest version number of ``draft`` as held in memory (0: none)."""
    return max((version.number for version in draft.versions), default=0)


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
            aad=row_aad(tenant, "approvals", approval.id),
        )
        approver = approval.approver
        self._conn.execute(
            _APPROVAL_INSERT,
            {
                "tenant": tenant,
                "id": approval.id,
                "draft_id": approval.draft_id,
                "version": approval.version,
                "kind": approval.kind,
                "content_hash": approval.content_hash,
                "approver": {
                    "subject": approver.subject,
                    "fhir_user": approver.fhir_user,
                    "amr": list(approver.amr),
                    "acr": approver.acr,
                    "auth_time": approver.auth_time.isoformat() if approver.auth_time else None,
                    "reason": approver.reason,
                },
                "approved_at": approval.approved_at,
                "diff_blob": diff_blob,
                "policy_hash": approval.policy_hash,
                "writeback_id": approval.writeback_id,
                "consent_digest": approval.consent_digest,
                "system_text_hash": approval.system_text_hash,
            },
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
            self._cipher.decrypt(
                tenant, row["diff_blob"], aad=row_aad(tenant, "approvals", row["id"])
            )
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


AuditRepository = SqlLedger
"""The audit trail is the Merkle ledger (``adapters/storage/ledger.py``)."""
