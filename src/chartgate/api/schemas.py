"""How drafts, versions and write-backs look on the wire (JSON, not FHIR resources)."""

from __future__ import annotations

from typing import Any

from chartgate.domain.drafts import Approval, Draft, DraftVersion
from chartgate.domain.lifecycle import allowed_actions
from chartgate.service.drafting import DraftView
from chartgate.service.ports import WritebackRecord


def version_json(version: DraftVersion) -> dict[str, Any]:
    """One version, with its content."""
    return {
        "number": version.number,
        "author": version.author,
        "created_at": version.created_at.isoformat(),
        "content_hash": version.content_hash,
        **version.content.model_dump(mode="json"),
    }


def approval_json(approval: Approval) -> dict[str, Any]:
    """One approval: who, when, how strongly authenticated, what changed."""
    return {
        "id": approval.id,
        "kind": approval.kind,
        "version": approval.version,
        "content_hash": approval.content_hash,
        "approved_at": approval.approved_at.isoformat(),
        "approver": {
            "subject": approval.approver.subject,
            "fhir_user": approval.approver.fhir_user,
            "amr": list(approval.approver.amr),
            "acr": approval.approver.acr,
        },
        "policy_hash": approval.policy_hash,
        "writeback_id": approval.writeback_id,
        "diff": approval.diff.as_dict(),
    }


def draft_json(draft: Draft, view: DraftView | None = None) -> dict[str, Any]:
    """A draft with its versions (and, when given, approvals and write-backs)."""
    out: dict[str, Any] = {
        "id": draft.id,
        "state": draft.state.value,
        "patient": draft.patient,
        "encounter": draft.encounter,
        "correlation_id": draft.correlation_id,
        "created_at": draft.created_at.isoformat(),
        "origin": draft.origin.model_dump(mode="json"),
        "baseline": draft.baseline,
        "current_version": draft.current.number,
        "approved_version": draft.approved_version,
        "doc_status": draft.doc_status,
        "allowed_actions": sorted(a.value for a in allowed_actions(draft.state)),
        "versions": [version_json(v) for v in draft.versions],
    }
    if view is not None:
        out["findings"] = [f.as_dict() for f in view.findings]  # of the current version
        out["approvals"] = [approval_json(a) for a in view.approvals]
        out["writebacks"] = [w.public() for w in view.writebacks]
        out["structured"] = view.structured
    return out


def writeback_json(record: WritebackRecord) -> dict[str, Any]:
    """One write-back's status."""
    return record.public()
