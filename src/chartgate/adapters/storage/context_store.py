"""Scribe sessions and consent records in the store (issue 17, ADR 0025).

Sessions are plain rows (ids, references, times). A consent record is stored as ciphertext of
its canonical evidence, bound to its row by the associated data, with its digest in clear so
an approval can name it without decrypting.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from chartgate.adapters.storage import tables as t
from chartgate.domain.consent import ConsentRecord
from chartgate.domain.scribe_session import ScribeSession
from chartgate.service.ports import Cipher


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _aad(tenant: str, record_id: str) -> bytes:
    return f"{tenant}|consent_records|{record_id}".encode()


def _session(row: Any) -> ScribeSession:  # noqa: ANN401 - RowMapping
    return ScribeSession(
        id=row["id"],
        tenant=row["tenant"],
        patient=row["patient"],
        encounter=row["encounter"],
        template=row["template"],
        scribe_client=row["scribe_client"],
        opened_by=row["opened_by"],
        opened_at=_utc(row["opened_at"]) or datetime.min.replace(tzinfo=UTC),
        expires_at=_utc(row["expires_at"]) or datetime.min.replace(tzinfo=UTC),
        anchor_at=_utc(row["anchor_at"]) or datetime.min.replace(tzinfo=UTC),
        closed_at=_utc(row["closed_at"]),
    )


class SqlContextStore:
    """``ContextStore`` on the unit of work's connection."""

    def __init__(self, conn: Connection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def add_session(self, session: ScribeSession) -> None:
        """Insert a newly opened session."""
        self._conn.execute(
            insert(t.scribe_sessions).values(
                tenant=session.tenant,
                id=session.id,
                patient=session.patient,
                encounter=session.encounter,
                template=session.template,
                scribe_client=session.scribe_client,
                opened_by=session.opened_by,
                opened_at=session.opened_at,
                expires_at=session.expires_at,
                anchor_at=session.anchor_at,
                closed_at=session.closed_at,
            )
        )

    def session(self, tenant: str, session_id: str) -> ScribeSession | None:
        """One session of ``tenant`` (None for an unknown or foreign id)."""
        c = t.scribe_sessions.c
        row = (
            self._conn.execute(
                select(t.scribe_sessions).where(c.tenant == tenant, c.id == session_id)
            )
            .mappings()
            .first()
        )
        return None if row is None else _session(row)

    def add_consent(self, record: ConsentRecord) -> None:
        """Insert a consent record, its evidence encrypted under the tenant's data key."""
        plain = json.dumps(record.evidence(), sort_keys=True).encode()
        self._conn.execute(
            insert(t.consent_records).values(
                tenant=record.tenant,
                id=record.id,
                encounter=record.encounter,
                digest=record.digest,
                record_blob=self._cipher.encrypt(
                    record.tenant, plain, aad=_aad(record.tenant, record.id)
                ),
                recorded_at=record.recorded_at,
            )
        )

    def consent_for(self, tenant: str, encounter: str) -> ConsentRecord | None:
        """The latest consent record of an encounter, decrypted (None when there is none)."""
        c = t.consent_records.c
        row = (
            self._conn.execute(
                select(t.consent_records)
                .where(c.tenant == tenant, c.encounter == encounter)
                .order_by(c.recorded_at.desc(), c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        plain = self._cipher.decrypt(tenant, row["record_blob"], aad=_aad(tenant, row["id"]))
        return ConsentRecord.from_evidence(json.loads(plain))
