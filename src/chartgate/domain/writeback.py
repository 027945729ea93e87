"""The write-back aggregate: one approved change on its way into the chart.

A ``Writeback`` is the outbox row and its claim as the domain sees it: what kind of write it
is (``WritebackKind`` carries everything that differs per kind), where it is
(``WritebackState``), and what the EHR has told us so far. ``ChartWrite``
(``domain/chart_write.py``) pairs it with its draft and is the *only* place where the
draft's state, the write-back's state, the note's ``docStatus`` and the chart version change
once an approval is queued: the worker decides with the outcome table
(``domain/outcomes.py``) and hands the decision there.

Every version chartgate writes carries its own mark (``meta.tag`` with the write-back id,
``mark``/``carries_mark``), so after a lost or unusual answer the worker can always ask the
chart "is the current version mine?" before it calls anything a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chartgate.domain.documents import replaced_document
from chartgate.domain.marks import carries_mark, mark

JsonObject = dict[str, Any]

__all__ = [  # mark and carries_mark live in domain/marks.py; re-exported where they were
    "DUE_STATES",
    "RESOLVABLE_STATES",
    "CreateGuard",
    "Writeback",
    "WritebackKind",
    "WritebackState",
    "carries_mark",
    "client_id",
    "mark",
]


class WritebackKind(StrEnum):
    """What the write-back does to the chart; each kind knows what differs about it."""

    APPROVE = "approve"
    FINALIZE = "finalize"
    AMEND = "amend"
    RETRACT = "retract"
    STRUCTURED = "structured"  # a structured resource approved with the note (domain/structured)
    STRUCTURED_RETRACT = (
        "structured-retract"  # it, entered-in-error (note retracted, or amended away)
    )
    STRUCTURED_UPDATE = (
        "structured-update"  # it, changed by an amendment of its note (PUT, If-Match)
    )

    @property
    def creates_document(self) -> bool:
        """Approve, amend and a structured write create their target; the others PUT it."""
        return self in (WritebackKind.APPROVE, WritebackKind.AMEND, WritebackKind.STRUCTURED)

    @property
    def writes_note(self) -> bool:
        """True for the note's own write-backs; a structured one leaves the draft alone."""
        return self not in _STRUCTURED_KINDS

    @property
    def doc_status(self) -> str:
        """The ``docStatus`` the note has in the chart once this kind is committed."""
        return _DOC_STATUS[self]

    @property
    def activity(self) -> str:
        """The v3-DataOperation code of its Provenance (NULLIFY: now entered-in-error)."""
        return _ACTIVITY[self]

    @property
    def follow_up(self) -> bool:
        """Finalize, amend and retract act on a note that is already in the chart."""
        return self is not WritebackKind.APPROVE

    @property
    def checks_baseline(self) -> bool:
        """Only the first write of a note checks the chart against the draft's baseline."""
        return self is WritebackKind.APPROVE


_STRUCTURED_KINDS = frozenset(
    {
        WritebackKind.STRUCTURED,
        WritebackKind.STRUCTURED_RETRACT,
        WritebackKind.STRUCTURED_UPDATE,
    }
)

_DOC_STATUS = {
    WritebackKind.APPROVE: "preliminary",
    WritebackKind.FINALIZE: "final",
    WritebackKind.AMEND: "amended",
    WritebackKind.RETRACT: "entered-in-error",
    WritebackKind.STRUCTURED: "preliminary",  # not used: the draft's docStatus is the note's
    WritebackKind.STRUCTURED_RETRACT: "entered-in-error",
    WritebackKind.STRUCTURED_UPDATE: "preliminary",  # not used either
}
_ACTIVITY = {
    WritebackKind.APPROVE: "CREATE",
    WritebackKind.AMEND: "CREATE",
    WritebackKind.FINALIZE: "UPDATE",
    WritebackKind.RETRACT: "NULLIFY",
    WritebackKind.STRUCTURED: "CREATE",
    WritebackKind.STRUCTURED_RETRACT: "NULLIFY",
    WritebackKind.STRUCTURED_UPDATE: "UPDATE",
}


class CreateGuard(StrEnum):
    """What an EHR offers to make a create safe to send again (per vendor profile).

    Only the first two make a resend safe: with ``NONE`` a search that finds nothing cannot
    prove that a request still in flight will never land.
    """

    CONDITIONAL = "conditional-create"
    """``POST`` with ``If-None-Exist: identifier=...`` (http://hl7.org/fhir/R4/http.html#ccreate)."""
    CLIENT_ID = "client-id"
    """``PUT [type]/[id from the write-back id]`` with ``If-None-Match: *``: exists -> 412/304."""
    NONE = "none"
    """A plain ``POST``; the write can only be found afterwards by identifier search."""

    @property
    def guards_resend(self) -> bool:
        """True when the EHR itself refuses a second copy."""
        return self is not CreateGuard.NONE


def client_id(writeback_id: str, resource_type: str) -> str:
    """The id chartgate assigns a resource it creates with ``CreateGuard.CLIENT_ID``.

    Derived from the write-back id, so every attempt names the same resource (a FHIR id is
    up to 64 letters, digits, ``-`` and ``.``; a UUID and a short prefix fit).
    """
    prefix = {"DocumentReference": "cgd", "Provenance": "cgp"}.get(resource_type, "cgr")
    return f"{prefix}-{writeback_id}"


class WritebackState(StrEnum):
    """Where one write-back is (the draft's own state is derived, see ``ChartWrite``)."""

    QUEUED = "queued"
    SENDING = "sending"
    AMBIGUOUS = "ambiguous"
    """It may have landed: the next attempt reads the chart before sending anything."""
    COMMITTED = "committed"
    PARTIAL = "partial"
    """The note is in the chart; a follow-up (its Provenance) was refused. Never editable."""
    CONFLICT = "conflict"
    REJECTED = "rejected"
    NEEDS_PERSON = "needs_person"
    """The worker cannot prove what happened; it waits, with the evidence, for a person."""


DUE_STATES = frozenset({WritebackState.QUEUED, WritebackState.AMBIGUOUS})
"""States a worker takes when their time has come (plus ``sending`` with an expired lease)."""

RESOLVABLE_STATES = frozenset({WritebackState.NEEDS_PERSON, WritebackState.PARTIAL})
"""States that wait for a person's decision."""


@dataclass(slots=True)
class Writeback:
    """One write-back: the outbox row, its claim and what the EHR has said so far."""

    tenant: str
    id: str
    draft_id: str
    approval_id: str
    kind: WritebackKind
    state: WritebackState
    may_have_landed: bool
    payload: JsonObject
    payload_hash: str
    correlation_id: str
    attempts: int
    next_attempt_at: datetime
    document_id: str | None = None
    document_version: str | None = None
    provenance_id: str | None = None
    last_status: int | None = None
    last_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    escalated_at: datetime | None = None
    part: int = 0
    """0: the note's write-back; 1, 2, ...: the approval's structured resources in order."""
    after_id: str | None = None
    """The write-back that must be settled before this one is sent (the part before it)."""
    note_type: str | None = None
    """The LOINC type of the note a structured write-back came with (a kill switch on the
    note type holds it too); a note's own is read from its payload."""

    def __post_init__(self) -> None:
        """Accept the stored strings and keep the enums."""
        self.kind = WritebackKind(self.kind)
        self.state = WritebackState(self.state)

    @property
    def matched_version(self) -> str | None:
        """For an update: the chart version the clinician reviewed (the If-Match value)."""
        if self.kind.creates_document:
            return None
        version = self.payload.get("meta", {}).get("versionId")
        return None if version is None else str(version)

    @property
    def document_landed(self) -> bool:
        """True once the note itself (this kind's change to it) is known to be in the chart."""
        if self.kind.creates_document:
            return self.document_id is not None
        return self.document_version is not None and self.document_version != self.matched_version

    @property
    def target_type(self) -> str:
        """The resource type this write-back creates or changes (the note's, or a Condition...)."""
        return str(self.payload.get("resourceType") or "DocumentReference")

    @property
    def replaces(self) -> str | None:
        """The ``DocumentReference/<id>`` an amendment replaces."""
        return replaced_document(self.payload)

    @property
    def escalated(self) -> bool:
        """True once it has failed often enough that a person was told."""
        return self.escalated_at is not None

    def public(self) -> JsonObject:
        """What ``GET /v1/writebacks/{id}`` shows: ids, states and the EHR's answer."""
        document = f"{self.target_type}/{self.document_id}" if self.document_id else None
        return {
            "id": self.id,
            "draft_id": self.draft_id,
            "kind": self.kind.value,
            "state": self.state.value,
            "attempts": self.attempts,
            "escalated": self.escalated,
            "note_in_chart": self.document_landed,
            "ehr_resource": document,
            "ehr_version": self.document_version,
            "provenance": (
                f"Provenance/{self.provenance_id}" if self.provenance_id is not None else None
            ),
            "last_status": self.last_status,
            "last_reason": self.last_reason,
            "correlation_id": self.correlation_id,
            "payload_hash": self.payload_hash,
            "part": self.part,
            "resource_type": self.target_type,
            "after": self.after_id,
        }
