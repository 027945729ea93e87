"""What the chart shows, read for a person's resolution of a parked write-back.

A person's decision is only as safe as what it rests on, so resolution reads the chart first,
the same way the worker does (``service/chart_reads.py``, our mark = ``meta.tag`` with the
write-back id), and decides through the outcome table (issue 10):

* ``landed``: the document the person names must carry this write-back's mark on its current
  version (a finalize or retraction: the version it wrote), or, for a note chartgate created,
  this write-back's identifier;
* ``retry-follow-up``: the Provenance is looked for first. Found: the write-back is complete
  and nothing is sent. Absent: it is sent again on the person's word (where the EHR guards
  nothing, the person is the evidence that the first one is not coming). Duplicated or
  unreadable: nothing changes, and the answer says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chartgate.domain.errors import EhrError, StateConflict
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.outcomes import Answer, Chart, Decision, Step, decide
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import carries_mark
from chartgate.service.chart_reads import read_chart
from chartgate.service.ehr_channel import Stop

if TYPE_CHECKING:
    from chartgate.domain.writeback import Writeback
    from chartgate.service.ports import EhrDirectory, JsonObject

__all__ = ["FollowUp", "follow_up_in_chart", "landed_document"]

FollowUp = tuple[Decision, str | None]
"""What to do with a parked follow-up: PROCEED (found: its Provenance id) or SEND."""


def landed_document(ehr: EhrDirectory, record: Writeback, document: str | None) -> tuple[str, str]:
    """Read the document a person points at; it must be this write-back's version of it."""
    kind, _, document_id = (document or "").partition("/")
    if kind != record.target_type or not document_id:
        raise StateConflict(
            f"name the resource as {record.target_type}/<id>", expression="document"
        )
    gateway = ehr.gateway(record.tenant)
    answer = gateway.read(kind, document_id, request_id=record.correlation_id)
    resource = answer.resource or {}
    if not answer.ok or not _ours(resource, record) or answer.version_id is None:
        raise StateConflict(
            "that document is not in the chart or does not carry this write-back's mark",
            expression="document",
        )
    return document_id, answer.version_id


def follow_up_in_chart(ehr: EhrDirectory, record: Writeback) -> FollowUp:
    """Look for the write-back's Provenance before a person has it sent again."""
    if ehr.profile(record.tenant).provenance_mode is ProvenanceMode.NONE:
        return Decision.SEND, None  # nothing is sent to the EHR: the ledger keeps it
    guard = ehr.create_guard(record.tenant)
    step = Step.CREATE_PROVENANCE if guard.guards_resend else Step.CREATE_PROVENANCE_UNGUARDED
    try:
        chart, _ = read_chart(step, ehr.gateway(record.tenant), record, guard)
    except Stop as stop:  # the EHR cannot answer the search: a configuration problem
        raise StateConflict(stop.ended.reason, expression="action") from None
    decision = decide(step, Answer.CHART_READ, chart)
    if decision is Decision.PROCEED:
        return decision, record.provenance_id
    if chart is Chart.ABSENT:
        return Decision.SEND, None  # guarded: the table says send; unguarded: the person does
    if chart is Chart.DUPLICATED:
        raise StateConflict(
            "more than one Provenance carries this write-back's mark: remove the extra one"
            " in the EHR first",
            expression="action",
        )
    raise EhrError("the chart could not be read; nothing was changed, try again")


def _ours(resource: JsonObject, record: Writeback) -> bool:
    """This write-back's mark on the version, or (a created note) its identifier."""
    if carries_mark(resource, record.id):
        return True
    identifiers = resource.get("identifier", []) if record.kind.creates_document else []
    return any(
        isinstance(i, dict) and i.get("system") == WRITEBACK_SYSTEM and i.get("value") == record.id
        for i in identifiers
    )
