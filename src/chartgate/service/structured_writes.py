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
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
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
    update_of_structured,
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
    "WRITABLE_TYPES",
    "StructuredFate",
    "carried_parts",
    "check_structured",
    "fates",
    "in_chart",
    "note_of",
    "queue_chart_retractions",
    "queue_retractions",
    "queue_structured",
    "refuse_without_note",
    "rolls_back",
    "structured_write",
    "was_carried",
]


@dataclass(frozen=True, slots=True)
class StructuredFate:
    """One proposal of a version and what approval does (did) to it."""

    index: int
    resource_type: str
    fate: Fate

    def public(
        self,
        writeback: Writeback | None,
        retraction: Writeback | None = None,
        *,
        update: Writeback | None = None,
    ) -> JsonObject:
        """What the API shows: its create once queued, an amendment's update, a retraction."""
        return {
            "index": self.index,
            "resource_type": self.resource_type,
            "written": self.fate.written,
            "fate": self.fate.value,
            "writeback": writeback.public() if writeback is not None else None,
            "update": update.public() if update is not None else None,
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
            writable=kind in profile.writable_types and kind in WRITABLE_TYPES,
        )
        out.append(StructuredFate(index, kind, fate))
    return out


WRITABLE_TYPES = frozenset({"Condition", "AllergyIntolerance", "Observation", "MedicationRequest"})


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
            payload=build_structured(
                resources[index], structured_write(draft, approval, writeback_id)
            ),
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

    Only those in the chart (``committed``/``partial``, as their newest version) whose type
    the policy lets roll back by ``entered-in-error`` for this EHR; each after the one
    before, the first after the note's.
    """
    written = [
        r
        for r in in_chart(uow.writebacks.for_draft(draft.tenant, draft.id))
        if rolls_back(policy, profile, r.target_type)
    ]
    return queue_chart_retractions(
        uow,
        draft=draft,
        approval=approval,
        after=note,
        chart=written,
        ids=ids,
        now=now,
        note_type=note_type_of(note.payload) or note.note_type,
    )


def queue_chart_retractions(
    uow: UnitOfWork,
    *,
    draft: Draft,
    approval: Approval,
    after: Writeback,
    chart: list[Writeback],
    ids: IdSource,
    now: datetime,
    note_type: str | None,
    first_part: int = 1,
) -> list[Writeback]:
    """One ``structured-retract`` per resource in ``chart`` (its newest version), in order."""
    records: list[Writeback] = []
    before = after
    for part, current in enumerate(chart, start=first_part):
        writeback_id = ids.new_id()
        record = queued_writeback(
            draft,
            approval_id=approval.id,
            writeback_id=writeback_id,
            kind=WritebackKind.STRUCTURED_RETRACT,
            payload=retraction_of_structured(
                current.payload,
                resource_id=str(current.document_id),
                version_id=str(current.document_version),
            ),
            now=now,
            document_id=current.document_id,
            document_version=current.document_version,
            part=part,
            after_id=before.id,
            note_type=note_type,
        )
        uow.writebacks.add(record)
        uow.writebacks.save_progress(record, now=now)  # the resource it changes, from the start
        records.append(record)
        before = record
    return records


_CHANGES = frozenset({WritebackKind.STRUCTURED, WritebackKind.STRUCTURED_UPDATE})


def in_chart(records: list[Writeback]) -> list[Writeback]:
    """The note's structured resources in the chart now: the newest landed write of each.

    A resource is the create (``structured``) and every write to the same id after it; one
    whose retraction landed, or is on its way, is no longer the note's. In creation order.
    """
    newest: dict[str, Writeback] = {}
    gone: set[str] = set()
    for record in records:
        if record.document_id is None:
            continue
        if record.kind is WritebackKind.STRUCTURED_RETRACT:
            if record.state.value not in ("rejected", "conflict"):
                gone.add(record.document_id)
        elif record.kind in _CHANGES and record.document_landed:
            newest[record.document_id] = record
    return [r for document, r in newest.items() if document not in gone]


def structured_write(draft: Draft, approval: Approval, writeback_id: str) -> StructuredWrite:
    """What chartgate fills in a structured resource from the draft and the approval."""
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
    if (
        record.kind is not WritebackKind.APPROVE
        or profile.provenance_mode is not ProvenanceMode.TRANSACTION
    ):
        return []  # nothing rides along (``was_carried``): the draft's rows are not read
    parts = sorted(
        (
            other
            for other in uow.writebacks.for_draft(record.tenant, record.draft_id)
            if other.approval_id == record.approval_id and not other.kind.writes_note
        ),
        key=lambda other: other.part,
    )
    return [p for p in parts if was_carried(p, profile)]


def was_carried(record: Writeback, profile: VendorProfile, note: Writeback | None = None) -> bool:
    """True for a structured write-back that rode in its note's transaction Bundle.

    ``note``: its note's write-back, when known: only a first approval's note carries its
    parts (an amendment's structured creates go one by one, ADR 0031).
    """
    if profile.provenance_mode is not ProvenanceMode.TRANSACTION:
        return False
    if record.kind is not WritebackKind.STRUCTURED:
        return False
    if note is not None and note.kind is not WritebackKind.APPROVE:
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
    payload_ok = content_hash(record.payload) == record.payload_hash
    version_ok = version.content_hash == approval.content_hash
    approved = record.kind is WritebackKind.STRUCTURED_RETRACT or record.payload in _built(
        draft, approval, record
    )
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


def _built(draft: Draft, approval: Approval, record: Writeback) -> list[JsonObject]:
    """Every proposal of the approved version as ``record``'s kind would send it."""
    resources = draft.version(approval.version).content.resources
    if record.kind is WritebackKind.STRUCTURED_UPDATE:
        write = structured_write(draft, approval, _identifier_of(record.payload) or record.id)
        return [
            mark(
                update_of_structured(
                    r,
                    write,
                    resource_id=str(record.payload.get("id")),
                    version_id=str(record.matched_version),
                ),
                record.id,
            )
            for r in resources
        ]
    write = structured_write(draft, approval, record.id)
    return [mark(build_structured(r, write), record.id) for r in resources]


def _identifier_of(resource: JsonObject) -> str | None:
    """The write-back id in a resource's chartgate business identifier (the creating one)."""
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == WRITEBACK_SYSTEM:
            return str(identifier.get("value"))
    return None


def rolls_back(policy: WritebackPolicy, profile: VendorProfile, kind: str) -> bool:
    """Whether the policy lets this EHR's resource of ``kind`` be entered-in-error."""
    decision = policy.decide_resource(kind, vendor=profile.name)
    return Rollback.ENTERED_IN_ERROR in decision.rollback and kind in profile.writable_types
