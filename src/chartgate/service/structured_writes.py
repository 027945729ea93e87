"""Structured write-backs: queued with the note at approval, sent after it, one by one.

``queue_structured`` runs in the approval's transaction: for each proposal of the approved
version that the write-back matrix marks ``clinician-approved`` for the tenant's EHR (and
whose type the vendor profile writes), one outbox row (``WritebackKind.STRUCTURED``, its
own write-back id, mark, identifier and Provenance), in ``domain/structured.write_order``;
each names the one before it (``after_id``), the first names the note's. The store hands a
part to a worker only once the one before it is settled (``writebacks.due``).

The executor treats a part like the note's create (same outcome table, create guard, chart
reads, Provenance mode); before anything is sent it checks here that the note itself is in
the chart (a rejected or conflicting note sends none of its structured resources) and that
the payload is exactly what the clinician approved (``check_structured``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chartgate.domain.documents import note_type_of
from chartgate.domain.events import EventType
from chartgate.domain.hashing import content_hash
from chartgate.domain.outcomes import Decision
from chartgate.domain.policy.terms import Rollback
from chartgate.domain.structured import (
    NOTE_NOT_WRITTEN,
    Fate,
    StructuredWrite,
    build_structured,
    fate_of,
    retraction_of_structured,
    write_order,
)
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import Writeback, WritebackKind, mark
from chartgate.service.ehr_channel import EhrChannel, Ended, Stop
from chartgate.service.queued import queued_writeback

if TYPE_CHECKING:
    from chartgate.domain.drafts import Approval, Draft
    from chartgate.domain.policy import WritebackPolicy
    from chartgate.domain.vendor_profile import VendorProfile
    from chartgate.service.ports import IdSource, JsonObject, UnitOfWork

__all__ = [
    "StructuredFate",
    "carried_parts",
    "check_structured",
    "fates",
    "note_of",
    "queue_retractions",
    "queue_structured",
    "refuse_without_note",
    "structured_view",
    "was_carried",
]


@dataclass(frozen=True, slots=True)
class StructuredFate:
    """One proposal of a version and what approval does (did) to it."""

    index: int
    resource_type: str
    fate: Fate

    def public(
        self, writeback: Writeback | None, retraction: Writeback | None = None
    ) -> JsonObject:
        """What the API shows for it (with its write-back once queued, and its retraction)."""
        return {
            "index": self.index,
            "resource_type": self.resource_type,
            "written": self.fate.written,
            "fate": self.fate.value,
            "writeback": writeback.public() if writeback is not None else None,
            "retraction": retraction.public() if retraction is not None else None,
        }


def fates(
    resources: tuple[JsonObject, ...], policy: WritebackPolicy, profile: VendorProfile
) -> list[StructuredFate]:
    """The fate of every proposal of a version, for the tenant's EHR profile."""
    out = []
    for index, resource in enumerate(resources):
        kind = str(resource.get("resourceType"))
        decision = policy.decide_resource(kind, vendor=profile.name)
        fate = fate_of(
            allowed=decision.allowed and decision.requires_approval,
            may_draft=decision.may_draft,
            writable=kind in profile.writable_types and kind in _WRITABLE,
        )
        out.append(StructuredFate(index, kind, fate))
    return out


_WRITABLE = frozenset({"Condition", "AllergyIntolerance", "Observation", "MedicationRequest"})


def queue_structured(
    uow: UnitOfWork,
    *,
    draft: Draft,
    approval: Approval,
    note: Writeback,
    fated: list[StructuredFate],
    ids: IdSource,
    now: datetime,
) -> list[Writeback]:
    """Queue one write-back per written proposal, each after the one before it."""
    resources = draft.version(approval.version).content.resources
    written = {f.index for f in fated if f.fate.written}
    records: list[Writeback] = []
    before = note
    for part, index in enumerate((i for i in write_order(resources) if i in written), start=1):
        writeback_id = ids.new_id()
        record = queued_writeback(
            draft,
            approval_id=approval.id,
            writeback_id=writeback_id,
            kind=WritebackKind.STRUCTURED,
            payload=build_structured(resources[index], _write(draft, approval, writeback_id)),
            now=now,
            part=part,
            after_id=before.id,
            note_type=note_type_of(note.payload) or note.note_type,
        )
        uow.writebacks.add(record)
        records.append(record)
        before = record
    return records


def queue_retractions(
    uow: UnitOfWork,
    *,
    draft: Draft,
    approval: Approval,
    note: Writeback,
    policy: WritebackPolicy,
    profile: VendorProfile,
    ids: IdSource,
    now: datetime,
) -> list[Writeback]:
    """With the note's retraction: each structured resource it brought, entered-in-error.

    Only those in the chart (``committed``/``partial``) whose type the policy lets roll back
    by ``entered-in-error`` for this EHR; each after the one before, the first after the note's.
    """
    records: list[Writeback] = []
    before = note
    retracted = {
        r.document_id
        for r in uow.writebacks.for_draft(draft.tenant, draft.id)
        if r.kind is WritebackKind.STRUCTURED_RETRACT and r.state.value != "rejected"
    }
    written = [
        r
        for r in uow.writebacks.for_draft(draft.tenant, draft.id)
        if r.kind is WritebackKind.STRUCTURED
        and r.document_landed
        and r.document_id not in retracted
        and _rolls_back(policy, profile, r.target_type)
    ]
    for part, original in enumerate(sorted(written, key=lambda r: r.part), start=1):
        writeback_id = ids.new_id()
        record = queued_writeback(
            draft,
            approval_id=approval.id,
            writeback_id=writeback_id,
            kind=WritebackKind.STRUCTURED_RETRACT,
            payload=retraction_of_structured(
                original.payload,
                resource_id=str(original.document_id),
                version_id=str(original.document_version),
            ),
            now=now,
            document_id=original.document_id,
            document_version=original.document_version,
            part=part,
            after_id=before.id,
            note_type=note_type_of(note.payload) or note.note_type,
        )
        uow.writebacks.add(record)
        uow.writebacks.save_progress(record, now=now)  # the resource it changes, from the start
        records.append(record)
        before = record
    return records


def _rolls_back(policy: WritebackPolicy, profile: VendorProfile, kind: str) -> bool:
    decision = policy.decide_resource(kind, vendor=profile.name)
    return Rollback.ENTERED_IN_ERROR in decision.rollback and kind in profile.writable_types


def _write(draft: Draft, approval: Approval, writeback_id: str) -> StructuredWrite:
    return StructuredWrite(
        writeback_id=writeback_id,
        patient=draft.patient,
        encounter=draft.encounter,
        clinician=str(approval.approver.fhir_user),
    )


def note_of(uow: UnitOfWork, record: Writeback) -> Writeback | None:
    """The note's write-back of the same approval (part 0); None for the note itself."""
    if record.kind.writes_note:
        return None
    for other in uow.writebacks.for_draft(record.tenant, record.draft_id):
        if other.approval_id == record.approval_id and other.part == 0:
            return other
    return None


def carried_parts(uow: UnitOfWork, record: Writeback, profile: VendorProfile) -> list[Writeback]:
    """The structured write-backs that ride in a note's transaction Bundle (else none).

    Only a note's first approval carries them, and only in ``transaction-bundle`` mode: the
    note and everything approved with it then land atomically, as many as the profile's
    ``max_transaction_entries`` lets ride (two entries each: the resource, its Provenance);
    the others follow one by one, each in its own Bundle.
    """
    if record.kind is not WritebackKind.APPROVE:
        return []
    parts = sorted(
        (
            other
            for other in uow.writebacks.for_draft(record.tenant, record.draft_id)
            if other.approval_id == record.approval_id and not other.kind.writes_note
        ),
        key=lambda other: other.part,
    )
    return [p for p in parts if was_carried(p, profile)]


def was_carried(record: Writeback, profile: VendorProfile) -> bool:
    """True for a structured write-back that rode in its note's transaction Bundle."""
    if profile.provenance_mode is not ProvenanceMode.TRANSACTION:
        return False
    if record.kind is not WritebackKind.STRUCTURED:
        return False
    limit = profile.max_transaction_entries
    return limit is None or record.part <= (limit - 2) // 2


def refuse_without_note(note: Writeback | None) -> None:
    """``Stop`` before anything is sent when the note of this part never reached the chart."""
    if note is not None and note.state.value in NOTE_NOT_WRITTEN:
        raise Stop(
            Ended(Decision.REJECT, reason=f"not sent: the note was not written ({note.state})")
        )


def check_structured(
    channel: EhrChannel, draft: Draft, approval: Approval, record: Writeback
) -> None:
    """The payload is one of the approved version's proposals, exactly as approval built it.

    A retraction's payload (the resource as written, entered-in-error) is held to its hash.
    """
    version = draft.version(approval.version)
    write = _write(draft, approval, record.id)
    built = [mark(build_structured(r, write), record.id) for r in version.content.resources]
    payload_ok = content_hash(record.payload) == record.payload_hash
    version_ok = version.content_hash == approval.content_hash
    approved = record.kind is WritebackKind.STRUCTURED_RETRACT or record.payload in built
    if payload_ok and version_ok and approved:
        return
    channel.event(
        draft,
        record,
        EventType.INTEGRITY_REFUSED,
        {
            "payload_hash_ok": payload_ok,
            "version_hash_ok": version_ok,
            "text_matches_approved": approved,
        },
    )
    if record.document_landed:
        raise Stop(Ended(Decision.NEEDS_PERSON, reason="integrity: payload changed"))
    raise Stop(Ended(Decision.REJECT, reason="integrity: payload differs from approval"))


def structured_view(
    draft: Draft,
    approvals: list[Approval],
    records: list[Writeback],
    policy: WritebackPolicy,
    profile: VendorProfile,
) -> list[JsonObject]:
    """Every proposal of the approved (else current) version, its fate and its write-back.

    The write-backs are those of the newest approval that queued any: part ``k`` is the
    ``k``-th written proposal in write order (the order ``queue_structured`` used).
    """
    version = draft.current
    parts: list[Writeback] = []
    for approval in reversed(approvals):
        mine = [
            r
            for r in records
            if r.approval_id == approval.id and r.kind is WritebackKind.STRUCTURED
        ]
        if approval.kind == "approve":
            version = draft.version(approval.version)
            parts = sorted(mine, key=lambda r: r.part)
            break
    resources = version.content.resources
    fated = fates(resources, policy, profile)
    written = {f.index for f in fated if f.fate.written}
    order = [i for i in write_order(resources) if i in written]
    by_index = dict(zip(order, parts, strict=False))
    retractions = {
        r.document_id: r for r in records if r.kind is WritebackKind.STRUCTURED_RETRACT
    }  # the newest per resource
    return [
        f.public(
            by_index.get(f.index),
            _retraction(by_index.get(f.index), retractions),
        )
        for f in fated
    ]


def _retraction(
    part: Writeback | None, retractions: dict[str | None, Writeback]
) -> Writeback | None:
    if part is None or part.document_id is None:
        return None
    return retractions.get(part.document_id)
