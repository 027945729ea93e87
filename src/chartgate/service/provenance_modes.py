"""The two Provenance modes that travel *with* the write: transaction Bundle and X-Provenance.

``transaction-bundle`` (FHIR R4 http.html#transaction): the write-back's target and its
Provenance in one transaction Bundle, so both land or neither does. For a note's first
approval, the approval's clinician-approved structured resources and their Provenances ride
in the same Bundle: the note and everything approved with it reach the chart atomically
(issue 13 item 5). Each entry is guarded as the profile's create guard says
(``ifNoneExist`` with the write-back's identifier or tag; ``PUT`` of a client id with
``ifNoneMatch: *``; or a plain ``POST``), so a resent Bundle finds what the first one made.
A Provenance in a Bundle targets its resource through the entry's ``urn:uuid`` (the server
rewrites it to ``Type/id``): the version is the one created in the same transaction.

``x-provenance-header`` (FHIR R4 provenance.html#header): the Provenance rides in the
``X-Provenance`` header of the target's create or update and the server fills its target.
Servers differ (FHIR-FACTS: Firely creates none when a conditional create matched; Medplum
4.5 ignores the header), so the executor never assumes: after the write it looks for the
Provenance by its tag and, when the chart shows none, creates it as ``separate-create`` would.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chartgate.domain.documents import identifier_query
from chartgate.domain.outcomes import Step
from chartgate.domain.provenance import provenance_tag_query
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import CreateGuard, Writeback, client_id
from chartgate.service.chart_reads import keep_document
from chartgate.service.provenance_travel import provenance_of

if TYPE_CHECKING:
    from chartgate.domain.drafts import Approval, Draft
    from chartgate.service.ehr_channel import EhrChannel
    from chartgate.service.ports import EhrAnswer, EhrGateway, JsonObject

__all__ = [
    "TRAVELS_WITH_WRITE",
    "Target",
    "header_provenance",
    "keep_transaction",
    "look_guard",
    "send_target",
    "transaction_of",
]

TRAVELS_WITH_WRITE = frozenset({ProvenanceMode.TRANSACTION, ProvenanceMode.HEADER})
"""Modes where the Provenance may already be in the chart once the target is: look first."""


def look_guard(mode: ProvenanceMode, guard: CreateGuard) -> CreateGuard:
    """How to look for the Provenance: a header-made one has the server's id, so by tag."""
    return CreateGuard.CONDITIONAL if mode is ProvenanceMode.HEADER else guard


def header_provenance(draft: Draft, approval: Approval, record: Writeback) -> JsonObject:
    """The Provenance for ``X-Provenance``: the server fills the target of a create.

    An update names its resource (``Type/id``; its new version is the server's to assign).
    """
    provenance = provenance_of(draft, approval, record)
    if record.kind.creates_document:
        provenance.pop("target", None)
    else:
        provenance["target"] = [{"reference": f"{record.target_type}/{record.document_id}"}]
    return provenance


def transaction_of(
    draft: Draft,
    approval: Approval,
    record: Writeback,
    parts: list[Writeback],
    guard: CreateGuard,
) -> JsonObject:
    """The transaction Bundle of ``record`` (and of the structured ``parts`` it carries)."""
    entries: list[JsonObject] = []
    for writeback in (record, *parts):
        entries.extend(_pair(draft, approval, writeback, guard))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


@dataclass(frozen=True, slots=True)
class Target:
    """One write-back's target step: what to send, how, and to whom."""

    draft: Draft
    approval: Approval
    record: Writeback
    parts: list[Writeback]
    """Structured write-backs that ride in the note's transaction Bundle."""
    guard: CreateGuard
    step: Step
    mode: ProvenanceMode


def send_target(channel: EhrChannel, gateway: EhrGateway, target: Target) -> EhrAnswer:
    """Send the target as the mode says; remember where it (and a Provenance with it) landed."""
    draft, record = target.draft, target.record
    request_id = record.correlation_id
    if target.mode is ProvenanceMode.TRANSACTION:
        bundle = transaction_of(draft, target.approval, record, target.parts, target.guard)
        answer = channel.exchange(
            draft,
            record,
            "POST",
            bundle,
            lambda: gateway.transaction(bundle, request_id=request_id),
            step=target.step,
        )
        keep_transaction(record, answer)
        return answer
    if target.mode is ProvenanceMode.HEADER:
        gateway = gateway.with_provenance(header_provenance(draft, target.approval, record))
    payload = record.payload
    if record.kind.creates_document:
        condition = identifier_query(record.id)
        answer = channel.create(
            gateway, draft, record, payload, target.guard, condition, target.step
        )
    else:
        expected = str(record.matched_version)
        answer = channel.exchange(
            draft,
            record,
            "PUT",
            payload,
            lambda: gateway.update(payload, if_match=expected, request_id=request_id),
            step=target.step,
        )
    keep_document(record, answer)
    return answer


def _pair(
    draft: Draft, approval: Approval, record: Writeback, guard: CreateGuard
) -> list[JsonObject]:
    """The target's entry and its Provenance's entry."""
    urn = f"urn:uuid:{record.id}"
    kind = record.target_type
    target: JsonObject = {"fullUrl": urn, "resource": copy.deepcopy(record.payload)}
    if record.kind.creates_document:
        target["request"] = _create(record, kind, identifier_query(record.id), guard, target)
        reference = urn
    else:
        target["request"] = {
            "method": "PUT",
            "url": f"{kind}/{record.document_id}",
            "ifMatch": f'W/"{record.matched_version}"',
        }
        reference = f"{kind}/{record.document_id}"
    provenance = provenance_of(draft, approval, record)
    provenance["target"] = [{"reference": reference}]
    entry: JsonObject = {"fullUrl": f"urn:uuid:p-{record.id}", "resource": provenance}
    entry["request"] = _create(record, "Provenance", provenance_tag_query(record.id), guard, entry)
    return [target, entry]


def _create(
    record: Writeback, kind: str, condition: str, guard: CreateGuard, entry: JsonObject
) -> JsonObject:
    """The entry's request: guarded as the profile's create guard says."""
    if guard is CreateGuard.CLIENT_ID:
        own = client_id(record.id, kind)
        entry["resource"]["id"] = own
        return {"method": "PUT", "url": f"{kind}/{own}", "ifNoneMatch": "*"}
    request: JsonObject = {"method": "POST", "url": kind}
    if guard is CreateGuard.CONDITIONAL:
        request["ifNoneExist"] = condition
    return request


def keep_transaction(record: Writeback, answer: EhrAnswer) -> None:
    """Remember where the target and its Provenance landed (a 2xx transaction-response)."""
    if not answer.ok or answer.resource is None:
        return
    entries = answer.resource.get("entry", [])
    target = entry_location(entries, 0)
    provenance = entry_location(entries, 1)
    if target is None:
        return
    if record.kind.creates_document:
        record.document_id = target.resource_id
    record.document_version = target.version_id
    if provenance is not None:
        record.provenance_id = provenance.resource_id


def entry_location(entries: list[JsonObject], index: int) -> Landed | None:
    """``Type/id/_history/vid`` of one transaction-response entry (the gateway makes it so)."""
    if index >= len(entries):
        return None
    location = str((entries[index].get("response") or {}).get("location") or "")
    parts = location.split("/")
    if len(parts) != _VERSIONED or parts[2] != "_history":
        return None
    return Landed(parts[1], parts[3])


_VERSIONED = 4


@dataclass(frozen=True, slots=True)
class Landed:
    """Where one entry landed."""

    resource_id: str
    version_id: str
