"""The impact report's read: write-backs joined with their draft and approval, in clear."""

from __future__ import annotations

from sqlalchemy import Engine, select

from chartgate.adapters.storage import tables as t
from chartgate.domain.utc import as_utc
from chartgate.service.impact import ImpactFilter, ImpactRow


class SqlImpact:
    """``ImpactQueries`` over the store (ids, states and references; nothing decrypted)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def rows(self, query: ImpactFilter) -> list[ImpactRow]:
        """Write-backs approved under the filter, oldest first."""
        wb, d, a = t.writebacks.c, t.drafts.c, t.approvals.c
        model_name = d.origin["model"]["name"].as_string()
        model_version = d.origin["model"]["version"].as_string()
        prompt = d.origin["prompt_template"].as_string()
        statement = (
            select(
                wb.tenant,
                wb.id,
                wb.kind,
                wb.state,
                wb.document_id,
                wb.document_version,
                wb.provenance_id,
                d.id.label("draft_id"),
                d.state.label("draft_state"),
                d.patient,
                d.encounter,
                model_name.label("model_name"),
                model_version.label("model_version"),
                prompt.label("prompt"),
                a.approved_at,
            )
            .select_from(
                t.writebacks.join(t.drafts, (d.tenant == wb.tenant) & (d.id == wb.draft_id)).join(
                    t.approvals, (a.tenant == wb.tenant) & (a.id == wb.approval_id)
                )
            )
            .order_by(a.approved_at, wb.id)
        )
        if query.tenant is not None:
            statement = statement.where(wb.tenant == query.tenant)
        if query.model_version is not None:
            name, at, version = query.model_version.rpartition("@")
            statement = statement.where(
                (model_name == name) & (model_version == version)
                if at
                else model_version == query.model_version
            )
        if query.prompt_template is not None:
            statement = statement.where(prompt == query.prompt_template)
        if query.since is not None:
            statement = statement.where(a.approved_at >= query.since)
        if query.until is not None:
            statement = statement.where(a.approved_at < query.until)
        with self._engine.connect() as conn:
            found = conn.execute(statement).all()
        return [
            ImpactRow(
                tenant=r.tenant,
                draft_id=r.draft_id,
                draft_state=r.draft_state,
                patient=r.patient,
                encounter=r.encounter,
                writeback_id=r.id,
                kind=r.kind,
                writeback_state=r.state,
                chart_resource=(
                    f"DocumentReference/{r.document_id}" if r.document_id is not None else None
                ),
                chart_version=r.document_version,
                provenance=f"Provenance/{r.provenance_id}" if r.provenance_id else None,
                model=f"{r.model_name}@{r.model_version}",
                prompt_template=r.prompt,
                approved_at=as_utc(r.approved_at),
            )
            for r in found
        ]
