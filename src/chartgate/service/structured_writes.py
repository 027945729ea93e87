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
from chartgate.domain.errors import PolicyDenied, StateConflict
from chartgate.domain.events import EventType
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.hashing import content_hash
from chartgate.domain.outcomes import Decision
from chartgate.domain.policy.terms import Rollback
from chartgate.domain.structured import (
    NOTE_NOT_WRITTEN,
    SETTLED_STATES,
    Fate,
    StructuredWrite,
    build_structured,
    fate_of,
    identity,
    plan_amendment,
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
    "StructuredFate",
    "carried_parts",
    "check_structured",
    "fates",
    "in_chart",
    "note_of",
    "queue_amendment",
    "queue_retractions",
    "queue_structured",
    "refuse_without_note",
    "structured_view",
    "unsettled",
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

    Only those in the chart (``committed``/``partial``, as their newest version) whose type
    the policy lets roll back by ``entered-in-error`` for this EHR; each after the one
    before, the first after the note's.
    """
    written = [
        r
        for r in in_chart(uow.writebacks.for_draft(draft.tenant, draft.id))
        if _rolls_back(policy, profile, r.target_type)
    ]
    return _queue_retractions(
        uow,
        draft=draft,
        approval=approval,
        after=note,
        chart=written,
        ids=ids,
        now=now,
        note_type=note_type_of(note.payload) or note.note_type,
    )


def _queue_retractions(
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


def unsettled(records: list[Writeback]) -> list[Writeback]:
    """Structured write-backs not settled yet (queued, sending, ambiguous, needs a person).

    An amendment cannot be compared with the chart while one of them may still change it.
    """
    return [r for r in records if not r.kind.writes_note and r.state.value not in SETTLED_STATES]


def queue_amendment(
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
    """With an amendment: its structured proposals against what the note put in the chart.

    New ones are created (``structured``), changed ones updated (``structured-update``: PUT
    with If-Match on the version in the chart, a new mark and its own Provenance), removed
    ones marked entered-in-error (``structured-retract``), unchanged ones left alone; in
    that order, each after the one before, the first after the amendment's note. Only types
    the amendment writes are compared: a resource of a type no longer written (policy or
    profile) is left as it is. Refused (nothing queued) when a structured write-back is
    still unsettled, or when a removed resource's type cannot be rolled back by policy.
    """
    records = uow.writebacks.for_draft(draft.tenant, draft.id)
    pending = unsettled(records)
    if pending:
        raise StateConflict(
            f"{len(pending)} structured write-back(s) of this note are not settled yet "
            "(resolve or wait for them before amending)",
            expression="structured",
        )
    resources = draft.version(approval.version).content.resources
    fated = fates(resources, policy, profile)
    written = {f.index for f in fated if f.fate.written}
    order = [i for i in write_order(resources) if i in written]
    chart = {
        str(r.document_id): r for r in in_chart(records) if _writes(policy, profile, r.target_type)
    }
    plan = plan_amendment(resources, order, [(k, r.payload) for k, r in chart.items()])
    removed = [chart[k] for k in plan.removed]
    for record in removed:
        if not _rolls_back(policy, profile, record.target_type):
            raise PolicyDenied(
                f"the amendment removes a {record.target_type} from the chart, and the "
                "policy allows no entered-in-error for it",
                expression="resources",
            )
    queued: list[Writeback] = []
    before = note
    updates = dict(plan.updated)
    for part, index in enumerate((i for i in order if i in plan.created or i in updates), start=1):
        writeback_id = ids.new_id()
        if index in updates:
            current = chart[updates[index]]
            original = _created_by(records, current)
            payload = update_of_structured(
                resources[index],
                _write(draft, approval, original),
                resource_id=str(current.document_id),
                version_id=str(current.document_version),
            )
            extra: dict[str, object] = {
                "document_id": current.document_id,
                "document_version": current.document_version,
            }
            kind = WritebackKind.STRUCTURED_UPDATE
        else:
            payload = build_structured(resources[index], _write(draft, approval, writeback_id))
            extra, kind = {}, WritebackKind.STRUCTURED
        record = queued_writeback(
            draft,
            approval_id=approval.id,
            writeback_id=writeback_id,
            kind=kind,
            payload=payload,
            now=now,
            part=part,
            after_id=before.id,
            note_type=note_type_of(note.payload) or note.note_type,
            **extra,
        )
        uow.writebacks.add(record)
        if kind is WritebackKind.STRUCTURED_UPDATE:
            uow.writebacks.save_progress(record, now=now)
        queued.append(record)
        before = record
    queued += _queue_retractions(
        uow,
        draft=draft,
        approval=approval,
        after=before,
        chart=removed,
        ids=ids,
        now=now,
        note_type=note_type_of(note.payload) or note.note_type,
        first_part=len(queued) + 1,
    )
    return queued


def _writes(policy: WritebackPolicy, profile: VendorProfile, kind: str) -> bool:
    """Whether a proposal of this type is written now (the fate ``fates`` gives it)."""
    decision = policy.decide_resource(kind, vendor=profile.name)
    return fate_of(
        allowed=decision.allowed and decision.requires_approval,
        may_draft=decision.may_draft,
        writable=kind in profile.writable_types and kind in _WRITABLE,
    ).written


def _created_by(records: list[Writeback], current: Writeback) -> str:
    """The id of the write-back that created the resource ``current`` last wrote."""
    for record in records:
        if record.kind is WritebackKind.STRUCTURED and record.document_id == current.document_id:
            return record.id
    return current.id


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
        write = _write(draft, approval, _identifier_of(record.payload) or record.id)
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
    write = _write(draft, approval, record.id)
    return [mark(build_structured(r, write), record.id) for r in resources]


def _identifier_of(resource: JsonObject) -> str | None:
    """The write-back id in a resource's chartgate business identifier (the creating one)."""
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == WRITEBACK_SYSTEM:
            return str(identifier.get("value"))
    return None


def structured_view(
    draft: Draft,
    approvals: list[Approval],
    records: list[Writeback],
    policy: WritebackPolicy,
    profile: VendorProfile,
) -> list[JsonObject]:
    """Every proposal of the approved (else current) version, its fate and its write-backs.

    The version is that of the newest approval or amendment. Each written proposal is shown
    with the resource it is in the chart (``writeback``: the create; ``update``: the newest
    amendment's change to it; ``retraction``), paired by identity (``plan_amendment``'s
    rule): first the write-backs that approval queued, then the resources it left as they
    were. A resource that approval removed from the chart is shown after the proposals
    (``index`` None, ``fate`` "removed by the amendment").
    """
    version, newest = draft.current, None
    for approval in reversed(approvals):
        if approval.kind in ("approve", "amend"):
            version, newest = draft.version(approval.version), approval
            break
    resources = version.content.resources
    fated = fates(resources, policy, profile)
    lines = _lines(records)
    order = [i for i in write_order(resources) if fated[i].fate.written]
    amendments = {a.id for a in approvals if a.kind == "amend"}
    paired = _pair(resources, order, lines, newest, amendments)
    out = [
        f.public(line.create, line.retraction, update=line.update)
        if (line := paired.get(f.index)) is not None
        else f.public(None)
        for f in fated
    ]
    if newest is not None and newest.kind == "amend":
        taken = {line.create.id for line in paired.values()}
        out += [_removed(line) for line in lines if _removed_by(line, newest, taken)]
    return out


def _pair(
    resources: tuple[JsonObject, ...],
    order: list[int],
    lines: list[_Line],
    newest: Approval | None,
    amendments: set[str],
) -> dict[int, _Line]:
    """Each written proposal's resource: one ``newest`` queued first, then one it left alone.

    A resource left alone is one in the chart that no amendment removed (the note's own
    retraction keeps it paired: it shows as the item's ``retraction``).
    """
    mine = {ln.create.id for ln in lines if newest is not None and ln.touched_by(newest.id)}
    kept = {
        ln.create.id
        for ln in lines
        if ln.create.document_landed
        and (ln.retraction is None or ln.retraction.approval_id not in amendments)
    }
    paired: dict[int, _Line] = {}
    taken: set[str] = set()
    for first in (True, False):
        for index in order:
            key = identity(resources[index])
            for line in lines:
                ours = line.create.id in mine
                usable = ours if first else (not ours and line.create.id in kept)
                if index in paired or line.create.id in taken or line.identity != key:
                    continue
                if usable:
                    paired[index] = line
                    taken.add(line.create.id)
    return paired


def _removed_by(line: _Line, amendment: Approval, taken: set[str]) -> bool:
    """True for a resource the amendment retracted (no proposal of it is left)."""
    retraction = line.retraction
    return (
        retraction is not None
        and retraction.approval_id == amendment.id
        and line.create.id not in taken
    )


def _removed(line: _Line) -> JsonObject:
    """A resource an amendment removed from the chart, as ``structured[]`` shows it."""
    return {
        "index": None,
        "resource_type": line.create.target_type,
        "written": True,
        "fate": REMOVED,
        "writeback": line.create.public(),
        "update": line.update.public() if line.update is not None else None,
        "retraction": line.retraction.public() if line.retraction is not None else None,
    }


REMOVED = "removed by the amendment (entered-in-error in the chart)"
"""The fate shown for a resource in the chart that the amended note no longer proposes."""


@dataclass(slots=True)
class _Line:
    """One structured resource of the note: its create and what was written to it since."""

    create: Writeback
    update: Writeback | None = None
    retraction: Writeback | None = None
    updates: list[Writeback] | None = None

    @property
    def identity(self) -> tuple[str, str]:
        """What it is about now: the newest landed (else the create's) payload's identity."""
        current = self.create
        for update in self.updates or []:
            if update.document_landed:
                current = update
        return identity(current.payload)

    def touched_by(self, approval_id: str) -> bool:
        """True when ``approval_id`` created or updated it."""
        return self.create.approval_id == approval_id or any(
            u.approval_id == approval_id for u in self.updates or []
        )


def _lines(records: list[Writeback]) -> list[_Line]:
    """The note's structured resources, each with its updates and newest retraction."""
    lines: list[_Line] = []
    by_document: dict[str, _Line] = {}
    for record in records:
        if record.kind is WritebackKind.STRUCTURED:
            line = _Line(record, updates=[])
            lines.append(line)
            if record.document_id is not None:
                by_document[record.document_id] = line
            continue
        line_of = by_document.get(str(record.document_id))
        if line_of is None:
            continue
        if record.kind is WritebackKind.STRUCTURED_UPDATE:
            line_of.update = record
            (line_of.updates or []).append(record)
        elif record.kind is WritebackKind.STRUCTURED_RETRACT:
            line_of.retraction = record
    return lines
