"""The impact report: what a model version, prompt template or time window put into charts.

``chartgate impact`` lists, for every write-back approved under the filters, the patient
(as the ledger's keyed pseudonym unless the operator asks to reveal references), the
encounter, the chart resource and where it is now. The read is a ledger event in each tenant
it covers. ``plan`` turns the report into a correction plan: per draft, what a clinician
does on the reviewer page (amend or retract the note in the chart, or wait for a held one).
Nothing is changed by the report itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.writeback import WritebackState
from chartgate.service.audit import Pseudonymizer
from chartgate.service.ports import Clock, IdSource, JsonObject, UnitOfWorkFactory

PLAN_KIND = "chartgate.correction-plan"
PLAN_VERSION = 1

UNSENT = frozenset(
    {WritebackState.QUEUED.value, WritebackState.SENDING.value, WritebackState.AMBIGUOUS.value}
)


@dataclass(frozen=True, slots=True)
class ImpactFilter:
    """What to look for; every field left None matches everything."""

    tenant: str | None = None
    model_version: str | None = None
    prompt_template: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def public(self) -> JsonObject:
        """The filters as recorded in the ledger and the plan."""
        return {
            "tenant": self.tenant,
            "model_version": self.model_version,
            "prompt_template": self.prompt_template,
            "from": self.since.isoformat() if self.since else None,
            "to": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True, slots=True)
class ImpactRow:
    """One write-back in the report (references in clear until ``present`` hides them)."""

    tenant: str
    draft_id: str
    draft_state: str
    patient: str
    encounter: str
    writeback_id: str
    kind: str
    writeback_state: str
    chart_resource: str | None
    chart_version: str | None
    provenance: str | None
    model: str
    prompt_template: str
    approved_at: datetime


class ImpactQueries(Protocol):
    """The store's read for the report."""

    def rows(self, query: ImpactFilter) -> list[ImpactRow]:
        """Write-backs approved under the filter, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class ImpactReport:
    """The rows, as shown (patient and encounter pseudonymised unless revealed)."""

    filters: ImpactFilter
    rows: list[JsonObject]
    revealed: bool

    def plan(self, created_at: datetime) -> JsonObject:
        """The correction plan: one item per draft, what to do and where (no PHI)."""
        by_draft: dict[tuple[str, str], list[JsonObject]] = {}
        for row in self.rows:
            by_draft.setdefault((row["tenant"], row["draft_id"]), []).append(row)
        items = []
        for (tenant, draft_id), rows in by_draft.items():
            # The note's newest write-back decides (a structured one follows its note).
            notes = [r for r in rows if not str(r["kind"]).startswith("structured")]
            newest = (notes or rows)[-1]
            items.append(
                {
                    "tenant": tenant,
                    "draft_id": draft_id,
                    "patient": newest["patient_pseudonym"],
                    "draft_state": newest["draft_state"],
                    "writebacks": [r["writeback_id"] for r in rows],
                    "chart_resource": next(
                        (r["chart_resource"] for r in reversed(rows) if r["chart_resource"]),
                        None,
                    ),
                    "action": _action(newest),
                    "review": f"/review/{draft_id}",
                }
            )
        return {
            "kind": PLAN_KIND,
            "version": PLAN_VERSION,
            "created_at": created_at.isoformat(),
            "filters": self.filters.public(),
            "items": items,
        }


def _action(newest: JsonObject) -> str:
    """What a clinician does for one draft, from its newest write-back."""
    state = newest["writeback_state"]
    if newest["draft_state"] == "retracted":
        return "none: already retracted"
    if newest["kind"] in ("amend", "retract") and state == WritebackState.COMMITTED.value:
        return "check: already corrected"
    if state in UNSENT:
        return "wait: held or queued; amend or retract once it is in the chart"
    if state == WritebackState.COMMITTED.value or newest["chart_resource"]:
        return "amend or retract the note in the chart"
    return "resolve the write-back first (see its state)"


class ImpactService:
    """Runs the report and records that it was run."""

    def __init__(
        self,
        *,
        queries: ImpactQueries,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        pseudonyms: Pseudonymizer,
        tenants: Sequence[str],
    ) -> None:
        self._queries = queries
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._pseudonyms = pseudonyms
        self._tenants = tuple(tenants)

    def run(self, query: ImpactFilter, *, actor: str, reveal: bool = False) -> ImpactReport:
        """The report; one ``impact.read`` ledger event per tenant it covers."""
        found = self._queries.rows(query)
        rows = [self._present(row, reveal=reveal) for row in found]
        tenants = (query.tenant,) if query.tenant else self._tenants
        read_id = self._ids.new_id()
        with self._uow() as uow:
            for tenant in tenants:
                uow.audit.append(
                    AuditRecord(
                        type=EventType.IMPACT_READ,
                        tenant=tenant,
                        at=self._clock.now(),
                        correlation_id=read_id,
                        actor=actor,
                        data={
                            "filters": query.public(),
                            "rows": sum(1 for r in found if r.tenant == tenant),
                            "patients_revealed": reveal,
                        },
                    )
                )
        return ImpactReport(filters=query, rows=rows, revealed=reveal)

    def _present(self, row: ImpactRow, *, reveal: bool) -> JsonObject:
        patient = self._pseudonyms.reference(row.tenant, row.patient)
        encounter = self._pseudonyms.reference(row.tenant, row.encounter)
        return {
            "tenant": row.tenant,
            "draft_id": row.draft_id,
            "draft_state": row.draft_state,
            "patient": row.patient if reveal else patient,
            "patient_pseudonym": patient,
            "encounter": row.encounter if reveal else encounter,
            "writeback_id": row.writeback_id,
            "kind": row.kind,
            "writeback_state": row.writeback_state,
            "chart_resource": row.chart_resource,
            "chart_version": row.chart_version,
            "provenance": row.provenance,
            "model": row.model,
            "prompt_template": row.prompt_template,
            "approved_at": row.approved_at.isoformat(),
        }
