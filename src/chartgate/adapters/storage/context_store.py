"""Scribe sessions and consent records in the store (issue 17, ADR 0025, ADR 0027).

Sessions are plain rows (ids, references, times), except the clinician's delegated EHR token
of a session opened from an EHR launch: ciphertext under the tenant's data key, bound to its
row by the associated data (a blob copied to another row does not decrypt). A consent record
is stored as ciphertext of its canonical evidence, bound to its row by the associated data,
with its digest in clear so an approval can name it without decrypting.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from chartgate.adapters.storage import tables as t
from chartgate.domain.consent import ConsentRecord
from chartgate.domain.errors import DecryptionError
from chartgate.domain.scribe_session import ScribeSession
from chartgate.service.ports import Cipher

_c = t.consent_records.c
_LATEST_CONSENT = (
    select(t.consent_records)
    .where(_c.tenant == bindparam("q_tenant"), _c.encounter == bindparam("q_encounter"))
    .order_by(_c.recorded_at.desc(), _c.id.desc())
    .limit(1)
)
"""Every approval asks it: built once per process (``bindparam``), executed per call."""


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _aad(tenant: str, record_id: str) -> bytes:
    return f"{tenant}|consent_records|{record_id}".encode()


def _token_aad(tenant: str, session_id: str) -> bytes:
    return f"{tenant}|scribe_sessions|{session_id}|delegated".encode()


def _session(row: Any, token: str | None) -> ScribeSession:  # noqa: ANN401 - RowMapping
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
        encounter_end=_utc(row["encounter_end_at"]),
        closed_at=_utc(row["closed_at"]),
        closed_by=row["closed_by"],
        delegated_token=token,
        delegated_until=_utc(row["delegated_until"]) if token is not None else None,
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
                encounter_end_at=session.encounter_end,
                closed_at=session.closed_at,
                closed_by=session.closed_by,
                delegated_blob=self._seal(session),
                delegated_until=session.delegated_until if session.delegated_token else None,
            )
        )

    def _seal(self, session: ScribeSession) -> bytes | None:
        if session.delegated_token is None:
            return None
        return self._cipher.encrypt(
            session.tenant,
            session.delegated_token.encode(),
            aad=_token_aad(session.tenant, session.id),
        )

    def close_session(self, tenant: str, session_id: str, *, at: datetime, by: str) -> bool:
        """End a live session now; forget its delegated token. False: unknown or ended."""
        c = t.scribe_sessions.c
        result = self._conn.execute(
            update(t.scribe_sessions)
            .where(
                c.tenant == tenant,
                c.id == session_id,
                c.closed_at.is_(None),
                c.expires_at > at,
            )
            .values(closed_at=at, closed_by=by, delegated_blob=None, delegated_until=None)
        )
        return bool(result.rowcount)

    def sessions_for(self, tenant: str, encounter: str) -> list[ScribeSession]:
        """The encounter's sessions, newest first (without their delegated tokens)."""
        c = t.scribe_sessions.c
        rows = (
            self._conn.execute(
                select(t.scribe_sessions)
                .where(c.tenant == tenant, c.encounter == encounter)
                .order_by(c.opened_at.desc(), c.id)
                .limit(50)
            )
            .mappings()
            .all()
        )
        return [_session(row, None) for row in rows]

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
        return None if row is None else _session(row, self._open(row))

    def _open(self, row: Any) -> str | None:  # noqa: ANN401 - RowMapping
        """The delegated token, or None (none stored, or unreadable: backend credentials)."""
        if row["delegated_blob"] is None:
            return None
        try:
            plain = self._cipher.decrypt(
                row["tenant"], row["delegated_blob"], aad=_token_aad(row["tenant"], row["id"])
            )
        except DecryptionError:
            return None
        return plain.decode()

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
        key = {"q_tenant": tenant, "q_encounter": encounter}
        row = self._conn.execute(_LATEST_CONSENT, key).mappings().first()
        if row is None:
            return None
        plain = self._cipher.decrypt(tenant, row["record_blob"], aad=_aad(tenant, row["id"]))
        return ConsentRecord.from_evidence(json.loads(plain))
