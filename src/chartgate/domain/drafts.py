"""The draft aggregate: versions, origin, approval, and the rules that keep them honest.

A draft holds every version ever saved; versions are immutable, and an approved version is
frozen forever (an edit after approval would need a new version and a new approval). All
times and ids are passed in: the domain never reads a clock or makes ids.

A method that changes a draft records what happened as a domain event
(``domain/draft_events.py``); the unit of work pulls them on commit and writes their audit
records (ADR 0033). Stores never keep pending events: a loaded draft has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from chartgate.domain.approval import RETRACTION_REASONS, Approval, Approver
from chartgate.domain.diff import DraftDiff, diff_versions
from chartgate.domain.draft_events import (
    DraftDiscarded,
    DraftEvent,
    DraftRebased,
    DraftReceived,
    VersionSaved,
    WritebackResolved,
    approval_events,
)
from chartgate.domain.errors import StateConflict, VersionMismatch
from chartgate.domain.hashing import content_hash
from chartgate.domain.lifecycle import EDITABLE, Action, DraftState, next_state
from chartgate.domain.submission import Origin, VersionContent

if TYPE_CHECKING:
    from chartgate.domain.writeback import Writeback

# Approval and Approver live in ``domain/approval.py``; they are still imported from here.
__all__ = [
    "RETRACTION_REASONS",
    "Approval",
    "Approver",
    "Draft",
    "DraftVersion",
    "hash_content",
]


@dataclass(frozen=True, slots=True)
class DraftVersion:
    """One immutable version of a draft's content."""

    number: int
    content: VersionContent
    author: str
    created_at: datetime
    content_hash: str
    schema_stamp: str | None = None
    """The digest of what approving this version would send, with the approval-time values
    (write-back id, approver, time) as placeholders, when the FHIR schema passed it at save
    (``service/gates.py``, ADR 0032); None: not proven, approval runs the full check."""

    @classmethod
    def make(
        cls, number: int, content: VersionContent, *, author: str, at: datetime
    ) -> DraftVersion:
        """Build a version, computing its content hash."""
        return cls(
            number=number,
            content=content,
            author=author,
            created_at=at,
            content_hash=hash_content(content),
        )


def hash_content(content: VersionContent) -> str:
    """The content address of a version (``sha256:`` of its canonical JSON)."""
    return content_hash(content.model_dump(mode="json"))


@dataclass(slots=True)
class Draft:
    """One encounter's proposed note, its versions and where it is in its life."""

    id: str
    tenant: str
    patient: str
    encounter: str
    origin: Origin
    correlation_id: str
    created_at: datetime
    state: DraftState = DraftState.IN_REVIEW
    versions: list[DraftVersion] = field(default_factory=list)
    baseline: dict[str, str] = field(default_factory=dict)
    approved_version: int | None = None
    doc_status: str | None = None  # preliminary | final once in the chart
    # The store's row version this object was read at (None: not read from a store). Only the
    # store reads it: a later transaction tells from it that the draft has not changed since.
    stored_version: int | None = field(default=None, repr=False, compare=False)
    _events: list[DraftEvent] = field(default_factory=list, init=False, repr=False, compare=False)

    @classmethod
    def submit(
        cls,
        *,
        draft_id: str,
        tenant: str,
        patient: str,
        encounter: str,
        origin: Origin,
        content: VersionContent,
        baseline: dict[str, str],
        correlation_id: str,
        author: str,
        at: datetime,
    ) -> Draft:
        """A scribe's new draft: version 1 is exactly what the AI proposed."""
        draft = cls(
            id=draft_id,
            tenant=tenant,
            patient=patient,
            encounter=encounter,
            origin=origin,
            correlation_id=correlation_id,
            created_at=at,
            baseline=dict(baseline),
        )
        first = DraftVersion.make(1, content, author=author, at=at)
        draft.versions.append(first)
        draft._events.append(
            DraftReceived(
                version=first.number,
                content_hash=first.content_hash,
                note_type=content.note.type,
                resource_types=tuple(str(r["resourceType"]) for r in content.resources),
                model=origin.model.name,
                model_version=origin.model.version,
                prompt_template=origin.prompt_template,
                transcript_sha256=origin.transcript_sha256,
            )
        )
        return draft

    def pull_events(self) -> list[DraftEvent]:
        """The events this draft recorded since they were last pulled (and forget them)."""
        events, self._events = self._events, []
        return events

    @property
    def current(self) -> DraftVersion:
        """The newest version."""
        return self.versions[-1]

    @property
    def original(self) -> DraftVersion:
        """Version 1: what the AI proposed."""
        return self.versions[0]

    def version(self, number: int) -> DraftVersion:
        """One version by number (1-based)."""
        if not 1 <= number <= len(self.versions):
            raise StateConflict(f"draft has no version {number}", expression="version")
        return self.versions[number - 1]

    def _expect_current(self, expected_version: int) -> None:
        """The caller must name the version it reviewed: optimistic concurrency on drafts."""
        if expected_version != self.current.number:
            raise VersionMismatch(
                f"version {expected_version} is not current (current is {self.current.number})",
                expression="If-Match",
            )

    def transition(self, action: Action) -> DraftState:
        """Apply ``action`` through the lifecycle table."""
        self.state = next_state(self.state, action)
        return self.state

    def save_version(
        self, content: VersionContent, *, expected_version: int, author: str, at: datetime
    ) -> DraftVersion:
        """Save an edit as a new version; the caller must name the version it edited."""
        if self.state not in EDITABLE:
            raise StateConflict(
                f"cannot edit a draft that is {self.state.value}", expression="state"
            )
        self._expect_current(expected_version)
        version = DraftVersion.make(len(self.versions) + 1, content, author=author, at=at)
        self.transition(Action.EDIT)
        self.versions.append(version)
        self._events.append(VersionSaved(version=version.number, content_hash=version.content_hash))
        return version

    def discard(self) -> DraftState:
        """End a draft that was never sent (the lifecycle table says from where)."""
        state = self.transition(Action.DISCARD)
        self._events.append(DraftDiscarded())
        return state

    def diff(self, to_version: int | None = None, from_version: int = 1) -> DraftDiff:
        """Diff between two versions (default: the AI's version 1 to the current one)."""
        new = self.version(self.current.number if to_version is None else to_version)
        old = self.version(from_version)
        return diff_versions(
            old.content, new.content, from_version=old.number, to_version=new.number
        )

    def approve(
        self,
        *,
        approval_id: str,
        writeback_id: str,
        expected_version: int,
        approver: Approver,
        policy_hash: str,
        at: datetime,
    ) -> Approval:
        """Approve the current version for the chart; it is frozen from now on."""
        self._expect_current(expected_version)
        self.transition(Action.APPROVE)
        self.approved_version = self.current.number
        return Approval(
            id=approval_id,
            draft_id=self.id,
            version=self.current.number,
            content_hash=self.current.content_hash,
            approver=approver,
            approved_at=at,
            diff=self.diff(),
            policy_hash=policy_hash,
            writeback_id=writeback_id,
        )

    def finalize(
        self,
        *,
        approval_id: str,
        writeback_id: str,
        approver: Approver,
        policy_hash: str,
        at: datetime,
    ) -> Approval:
        """Approve moving the committed note to ``final``: same content, a second write-back."""
        if self.doc_status == "final":
            raise StateConflict("the note is already final", expression="docStatus")
        if self.approved_version is None:
            raise StateConflict("the draft has no approved version", expression="state")
        self.transition(Action.FINALIZE)
        approved = self.version(self.approved_version)
        return Approval(
            id=approval_id,
            draft_id=self.id,
            version=approved.number,
            content_hash=approved.content_hash,
            approver=approver,
            approved_at=at,
            diff=self.diff(to_version=approved.number),
            policy_hash=policy_hash,
            writeback_id=writeback_id,
            kind="finalize",
        )

    def amend(
        self,
        content: VersionContent,
        *,
        approval_id: str,
        writeback_id: str,
        expected_version: int,
        approver: Approver,
        policy_hash: str,
        at: datetime,
    ) -> Approval:
        """Approve an amendment: a new version that will replace the note in the chart.

        The committed version stays frozen; the amendment is a new version with its own
        approval, written as a new DocumentReference that ``replaces`` the old one.
        """
        self._expect_current(expected_version)
        self.transition(Action.AMEND)
        author = f"clinician:{approver.subject}"
        version = DraftVersion.make(len(self.versions) + 1, content, author=author, at=at)
        self.versions.append(version)
        self.approved_version = version.number
        return Approval(
            id=approval_id,
            draft_id=self.id,
            version=version.number,
            content_hash=version.content_hash,
            approver=approver,
            approved_at=at,
            diff=self.diff(to_version=version.number, from_version=expected_version),
            policy_hash=policy_hash,
            writeback_id=writeback_id,
            kind="amend",
        )

    def retract(
        self,
        *,
        approval_id: str,
        writeback_id: str,
        approver: Approver,
        policy_hash: str,
        at: datetime,
    ) -> Approval:
        """Approve retracting the committed note (it becomes entered-in-error, never deleted)."""
        if approver.reason not in RETRACTION_REASONS:
            raise StateConflict("a retraction needs a coded reason", expression="reason")
        if self.approved_version is None:
            raise StateConflict("the draft has no approved version", expression="state")
        self.transition(Action.RETRACT)
        approved = self.version(self.approved_version)
        return Approval(
            id=approval_id,
            draft_id=self.id,
            version=approved.number,
            content_hash=approved.content_hash,
            approver=approver,
            approved_at=at,
            diff=self.diff(to_version=approved.number, from_version=approved.number),
            policy_hash=policy_hash,
            writeback_id=writeback_id,
            kind="retract",
        )

    def rebase(self, baseline: dict[str, str], *, author: str, at: datetime) -> DraftVersion:
        """After a conflict: the same content as a new version against the chart's new state.

        The clinician must approve again: the chart changed under the draft, so what they
        approved before was approved against a chart that no longer exists.
        """
        self.transition(Action.REBASE)
        self.baseline = dict(baseline)
        self.approved_version = None
        version = DraftVersion.make(
            len(self.versions) + 1, self.current.content, author=author, at=at
        )
        self.versions.append(version)
        self._events.append(
            DraftRebased(version=version.number, baseline=dict(sorted(baseline.items())))
        )
        return version

    def queued(
        self,
        approval: Approval,
        writebacks: Sequence[Writeback],
        evidence: Mapping[str, object] | None = None,
    ) -> None:
        """Record that ``approval`` and its write-backs (note first) are in the outbox.

        The approval's event is recorded here, not in ``approve`` & co., because it carries
        what is known only once the approval passed its gate and was queued: the write-back
        ids and, for an approval, the ``evidence`` the use case gathered (ADR 0033).
        """
        if self.state is not DraftState.QUEUED or approval.draft_id != self.id or not writebacks:
            raise StateConflict(
                "only a queued approval of this draft is recorded", expression="state"
            )
        self._events.extend(approval_events(approval, writebacks, evidence or {}))

    def writeback_resolved(self, event: WritebackResolved) -> None:
        """Record a person's decision about one of this draft's write-backs (``ChartWrite``)."""
        self._events.append(event)
