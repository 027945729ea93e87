"""What the chart shows for one step of a write-back: the reads behind the outcome table.

After an answer that proves nothing (or a 409/412), the executor asks the chart whether the
write is there and whether it is ours (``meta.tag`` = the write-back id). These functions do
that read and name what they saw as a ``Chart`` value; a failed read is ``UNREADABLE``, never
"absent". They also remember what they found (document id and version, Provenance id).
"""

from __future__ import annotations

from chartgate.domain.documents import identifier_query
from chartgate.domain.drafts import Draft
from chartgate.domain.errors import EhrAmbiguous, EhrError, EhrNotAllowed, EhrUnreachable
from chartgate.domain.outcomes import Chart, Decision, Step, classify, decide
from chartgate.domain.provenance import provenance_tag_query
from chartgate.domain.writeback import CreateGuard, Writeback, carries_mark, client_id
from chartgate.service.ehr_channel import Ended, Stop
from chartgate.service.ports import EhrAnswer, EhrGateway, JsonObject, UnitOfWork

HTTP_GONE = frozenset({404, 410})


def read_chart(
    step: Step, gateway: EhrGateway, record: Writeback, guard: CreateGuard
) -> tuple[Chart, float | None]:
    """What the chart shows for ``step``, and the EHR's Retry-After when the read failed."""
    try:
        if step is Step.UPDATE_DOCUMENT:
            answer = gateway.read(
                record.target_type, str(record.document_id), request_id=record.correlation_id
            )
            return _update_chart(answer, record), answer.retry_after
        if guard is CreateGuard.CLIENT_ID:
            resource_type = record.target_type if step.writes_document else "Provenance"
            answer = gateway.read(
                resource_type,
                client_id(record.id, resource_type),
                request_id=record.correlation_id,
            )
            return _created_chart(answer, record, resource_type), answer.retry_after
        return _search_created(gateway, record, step), None
    except EhrNotAllowed as exc:
        # The EHR cannot answer this read (the profile forbids the search): no retry will
        # ever prove anything, so a person looks (issue 13: configuration, not transient).
        reason = f"configuration: chart read for {step.value}: {exc.message}"
        raise Stop(Ended(Decision.NEEDS_PERSON, reason=reason)) from None
    except EhrError as exc:
        # A failed read proves nothing: never "not landed" (a failed re-read was once
        # taken as "absent", which called our own finalize a conflict).
        return Chart.UNREADABLE, exc.retry_after


def _search_created(gateway: EhrGateway, record: Writeback, step: Step) -> Chart:
    """Find what this write-back created by identifier (its target) or tag (Provenance)."""
    document = step.writes_document
    query = identifier_query(record.id) if document else provenance_tag_query(record.id)
    name, _, value = query.partition("=")
    resource_type = record.target_type if document else "Provenance"
    found = gateway.search(resource_type, {name: value}, request_id=record.correlation_id)
    if not found:
        return Chart.ABSENT
    if len(found) > 1:
        return Chart.DUPLICATED
    _remember(record, resource_type, found[0], found[0].get("meta", {}).get("versionId"))
    return Chart.MINE


def _update_chart(answer: EhrAnswer, record: Writeback) -> Chart:
    """Is the document's current version ours, the one we matched, or someone else's?"""
    if answer.status in HTTP_GONE:
        return Chart.CHANGED
    if not answer.ok or answer.resource is None:
        return Chart.UNREADABLE
    if carries_mark(answer.resource, record.id):
        record.document_version = answer.version_id
        return Chart.MINE
    if answer.version_id == record.matched_version:
        return Chart.ABSENT
    return Chart.CHANGED


def _created_chart(answer: EhrAnswer, record: Writeback, resource_type: str) -> Chart:
    """Did the create at our client-assigned id land (and is it ours)?"""
    if answer.status in HTTP_GONE:
        return Chart.ABSENT
    if not answer.ok or answer.resource is None:
        return Chart.UNREADABLE
    if not carries_mark(answer.resource, record.id):
        return Chart.DUPLICATED  # our id holds something that is not ours: a person looks
    _remember(record, resource_type, answer.resource, answer.version_id)
    return Chart.MINE


def _remember(record: Writeback, resource_type: str, found: JsonObject, version: object) -> None:
    if resource_type != "Provenance":  # the note, or a structured write-back's resource
        record.document_id = _str_or_none(found.get("id"))
        record.document_version = _str_or_none(version)
    else:
        record.provenance_id = _str_or_none(found.get("id"))


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def check_baseline(gateway: EhrGateway, draft: Draft, record: Writeback) -> None:
    """The chart must still be what the draft was generated against (``Stop`` if not)."""
    for reference, expected in sorted(draft.baseline.items()):
        kind, _, resource_id = reference.partition("/")
        try:
            answer = gateway.read(kind, resource_id, request_id=record.correlation_id)
        except EhrAmbiguous:
            raise Stop(Ended(Decision.RETRY, reason="baseline read: no answer")) from None
        except EhrNotAllowed as exc:
            reason = f"configuration: baseline read: {exc.message}"
            raise Stop(Ended(Decision.NEEDS_PERSON, reason=reason)) from None
        except EhrUnreachable:
            raise Stop(Ended(Decision.RETRY, reason="baseline read: not sent")) from None
        chart = Chart.UNREAD
        if answer.ok:
            chart = Chart.UNCHANGED if answer.version_id == expected else Chart.CHANGED
        decision = decide(Step.BASELINE_READ, classify(answer.status), chart)
        if decision is not Decision.PROCEED:
            reason = (
                f"{kind} changed since the draft's baseline "
                f"(version {expected} -> {answer.version_id})"
                if decision is Decision.CONFLICT
                else f"baseline read answered {answer.status}"
            )
            raise Stop(
                Ended(
                    decision,
                    status=answer.status,
                    reason=reason,
                    retry_after=answer.retry_after,
                )
            )


def keep_document(record: Writeback, answer: EhrAnswer) -> None:
    """Remember where the note landed (a 2xx to the document step)."""
    if not answer.ok:
        return
    if record.kind.creates_document:
        record.document_id = answer.resource_id
    record.document_version = answer.version_id


def chart_facts(record: Writeback) -> JsonObject:
    """Where this write-back's note and Provenance are in the chart (ledger event data)."""
    return {
        "ehr_resource": (
            f"{record.target_type}/{record.document_id}" if record.document_id is not None else None
        ),
        "ehr_version_id": record.document_version,
        "provenance": (
            f"Provenance/{record.provenance_id}" if record.provenance_id is not None else None
        ),
    }


def chart_version(uow: UnitOfWork, draft: Draft) -> int | None:
    """The approved version whose document is in the chart now (after a refused amend)."""
    committed = [
        w
        for w in uow.writebacks.for_draft(draft.tenant, draft.id)
        if w.document_landed and w.kind.creates_document and w.kind.writes_note
    ]
    if not committed:
        return draft.approved_version
    return uow.approvals.get(draft.tenant, committed[-1].approval_id).version
