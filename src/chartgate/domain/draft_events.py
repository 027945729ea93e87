"""Domain events: what a draft's own methods record when they change it (ADR 0033).

A method of ``Draft`` that changes it appends one of these to the draft's private list;
the unit of work that loaded or added the draft pulls them when it commits and turns each
into one ``AuditRecord`` in the same transaction (``service/event_records.py``). So a change
and its audit record commit together, a rolled-back change records nothing, and no use case
builds an audit dict by hand.

Events carry no PHI: versions, hashes, codes and chart versions only. Who acted, the
request, the time, the draft's state and the patient's keyed pseudonym are added by the
mapping in the service layer, which knows them; the domain does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypedDict

from chartgate.domain.events import EventType

if TYPE_CHECKING:
    from chartgate.domain.approval import Approval
    from chartgate.domain.writeback import Writeback


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftEvent:
    """Something that happened to one draft; ``type`` is its ledger event type."""

    type: ClassVar[EventType]


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftReceived(DraftEvent):
    """A scribe's draft arrived: version 1, what it proposes and which model made it."""

    type: ClassVar[EventType] = EventType.DRAFT_RECEIVED
    version: int
    content_hash: str
    note_type: str
    resource_types: tuple[str, ...]
    model: str
    model_version: str
    prompt_template: str
    transcript_sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionSaved(DraftEvent):
    """A clinician's edit became a new version."""

    type: ClassVar[EventType] = EventType.VERSION_SAVED
    version: int
    content_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftRebased(DraftEvent):
    """After a conflict: a new version against the chart's new versions (reference: version)."""

    type: ClassVar[EventType] = EventType.DRAFT_REBASED
    version: int
    baseline: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftDiscarded(DraftEvent):
    """A draft that was never sent was discarded."""

    type: ClassVar[EventType] = EventType.DRAFT_DISCARDED


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalQueued(DraftEvent):
    """What every approval event says: the note's write-back, the version, who and how strong."""

    writeback_id: str
    version: int
    content_hash: str
    policy_hash: str
    acr: str | None
    amr: tuple[str, ...]
    auth_time: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftApproved(ApprovalQueued):
    """A clinician approved a version for the chart and its write-backs were queued.

    ``evidence``: what the approval's checks established (binding, scopes, the gate's
    findings and acknowledged warnings, the encounter's status, docStatus, the structured
    write-backs, consent and disclosures): codes and ids, gathered by the use case.
    """

    type: ClassVar[EventType] = EventType.DRAFT_APPROVED
    fhir_user: str | None
    diff_lines_added: int
    diff_lines_removed: int
    structured_changes: int
    evidence: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class FinalizeApproved(ApprovalQueued):
    """A step-up approval to move the committed note to ``final`` was queued."""

    type: ClassVar[EventType] = EventType.DRAFT_FINALIZE_APPROVED


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendApproved(ApprovalQueued):
    """An amendment (a new approved version replacing the committed note) was queued."""

    type: ClassVar[EventType] = EventType.DRAFT_AMEND_APPROVED
    kind: str
    reason: str | None
    consent_digest: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetractApproved(AmendApproved):
    """A retraction (the committed note becomes entered-in-error) was queued; ``reason``."""

    type: ClassVar[EventType] = EventType.DRAFT_RETRACT_APPROVED


@dataclass(frozen=True, slots=True, kw_only=True)
class WritebackQueued(DraftEvent):
    """One write-back of the draft (its note, a structured part, a follow-up) was queued."""

    type: ClassVar[EventType] = EventType.WRITEBACK_QUEUED
    writeback_id: str
    kind: str
    payload_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WritebackResolved(DraftEvent):
    """A person decided a write-back the worker left to them (``ChartWrite.resolve_*``).

    ``state`` is the write-back's new state (it stands in the record's ``state``).
    """

    type: ClassVar[EventType] = EventType.WRITEBACK_RESOLVED
    writeback_id: str
    action: str  # resend | landed | retry-follow-up
    previous_state: str
    state: str
    ehr_resource: str | None = None  # landed: the document the person pointed at
    provenance_found: str | None = None  # retry-follow-up: the Provenance already there


class _Common(TypedDict):
    """The fields of ``ApprovalQueued``, filled once for whichever approval event it is."""

    writeback_id: str
    version: int
    content_hash: str
    policy_hash: str
    acr: str | None
    amr: tuple[str, ...]
    auth_time: str | None


def approval_events(
    approval: Approval, writebacks: Sequence[Writeback], evidence: Mapping[str, object]
) -> list[DraftEvent]:
    """The events of a queued approval: its kind's event, then each write-back (note first)."""
    approver, note = approval.approver, writebacks[0]
    auth_time = approver.auth_time.isoformat() if approver.auth_time else None
    queued: list[DraftEvent] = [
        WritebackQueued(writeback_id=w.id, kind=w.kind, payload_hash=w.payload_hash)
        for w in writebacks
    ]
    common = _Common(
        writeback_id=note.id,
        version=approval.version,
        content_hash=approval.content_hash,
        policy_hash=approval.policy_hash,
        acr=approver.acr,
        amr=approver.amr,
        auth_time=auth_time,
    )
    approved: ApprovalQueued
    if approval.kind == "approve":
        approved = DraftApproved(
            **common,
            fhir_user=approver.fhir_user,
            diff_lines_added=approval.diff.lines_added,
            diff_lines_removed=approval.diff.lines_removed,
            structured_changes=len(approval.diff.json_patch),
            evidence=dict(evidence),
        )
    elif approval.kind == "finalize":
        approved = FinalizeApproved(**common)
    else:
        kind = RetractApproved if approval.kind == "retract" else AmendApproved
        approved = kind(
            **common,
            kind=approval.kind,
            reason=approver.reason,
            consent_digest=approval.consent_digest,
        )
    return [approved, *queued]
