"""The use cases' audit records, as the unit of work makes them from the aggregate's events.

``tests/data/use_case_audit.json`` holds every record the use cases wrote before the unit of
work made them from domain events (ADR 0033), captured by running these stories on the code
of that time: one story (submit, view, validate, save, approve, finalize, amend, retract,
rebase, discard, status read, replay, resolve) over the fakes with a keyed pseudonymizer, and
one with structured resources (approval, amendment and retraction queue their parts). Both
must still write exactly those records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_use_cases import META, Desk, desk, edit

from builders import TENANT
from chartgate.domain.lifecycle import DraftState
from chartgate.domain.principal import Role
from chartgate.domain.submission import Note, VersionEdit
from chartgate.domain.writeback import CreateGuard
from structured_desk import desk as structured_desk
from structured_items import (
    ALLERGY,
    CONDITION,
    MEDICATION_REQUEST,
    OBSERVATION,
    STRUCTURED_NOTE,
    structured_submission,
)

GOLDEN = Path(__file__).parent.parent / "data" / "use_case_audit.json"

USE_CASE_EVENTS = frozenset(
    {
        "draft.received",
        "draft.viewed",
        "draft.validated",
        "draft.version_saved",
        "draft.approved",
        "draft.finalize_approved",
        "draft.amend_approved",
        "draft.retract_approved",
        "draft.rebased",
        "draft.discarded",
        "writeback.queued",
        "writeback.viewed",
        "writeback.resolved",
        "request.replayed",
    }
)
"""What the use cases record (the executor's own events are not part of this story)."""


class Pseudonyms:
    """A stand-in for the keyed HMAC: the tenant and reference, visibly marked."""

    def reference(self, tenant: str, reference: str) -> str:
        """``pseudo:<tenant>:<reference>`` (synthetic references only)."""
        return f"pseudo:{tenant}:{reference}"


def story() -> list[dict[str, Any]]:
    """Every use case once, in one tenant; the use cases' audit records in ledger order."""
    d = desk(pseudonyms=Pseudonyms())
    clinician = d.clinician()
    first = d.submit()
    d.drafting.view_draft(clinician, first, META)
    d.drafting.validate(clinician, first, META)
    d.drafting.save_version(clinician, first, expected_version=1, edit=edit("\nSeen."), meta=META)
    _, approved = d.approvals.approve(clinician, first, expected_version=2, meta=META)
    d.run_worker()
    d.approvals.finalize(d.clinician(), first, META)
    d.run_worker()
    d.approvals.amend(
        d.clinician(), approved.id, expected_version=2, edit=edit("\nAddendum."), meta=META
    )
    d.run_worker()
    d.approvals.retract(d.clinician(), approved.id, reason="duplicate", meta=META)
    d.resolutions.writeback(d.clinician(), approved.id, META)
    d.replays.authorize_replay(
        d.clinician(), roles=(Role.CLINICIAN,), operation="save", meta=META, draft_id=first
    )
    second = d.submit()
    _conflict(d, second)
    d.drafting.rebase(
        d.clinician(), second, baseline={"Encounter/enc-1": "7", "Patient/p-1": "3"}, meta=META
    )
    third = d.submit()
    d.drafting.discard(d.clinician(), third, META)
    _resolved(d)
    return [r.as_dict() for r in d.store.tables.audit if r.type.value in USE_CASE_EVENTS]


def structured_story() -> list[dict[str, Any]]:
    """Approve three structured proposals, amend them (create, update, retract), retract."""
    d = structured_desk()
    draft_id = d.submit(structured_submission(CONDITION, ALLERGY, OBSERVATION))
    note = d.approve(draft_id)
    d.run()
    fever = {**OBSERVATION, "valueQuantity": {**OBSERVATION["valueQuantity"], "value": 38.4}}
    amended = VersionEdit(
        note=Note.model_validate(
            {**structured_submission()["note"], "text": STRUCTURED_NOTE + "\nAddendum."}
        ),
        resources=(CONDITION, fever, MEDICATION_REQUEST),
    )
    version = d.view(draft_id).draft.current.number
    d.approvals.amend(d.clinician(), note.id, expected_version=version, edit=amended, meta=META)
    d.run()
    d.approvals.retract(d.clinician(), note.id, reason="wrong-patient", meta=META)
    return [r.as_dict() for r in d.store.tables.audit if r.type.value in USE_CASE_EVENTS]


def _conflict(d: Desk, draft_id: str) -> None:
    """Put a draft where the worker leaves one whose chart changed (the fake store's row)."""
    d.store.tables.drafts[TENANT, draft_id].state = DraftState.CONFLICT


def _resolved(d: Desk) -> None:
    """An unguarded create whose answer was lost, resent by a person."""
    guarded = d.directory.guard
    d.directory.guard = CreateGuard.NONE
    draft_id = d.submit()
    _, record = d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    d.ehr.fail_next("hold", method="POST", resource_type="DocumentReference")
    d.run_worker()
    d.resolutions.resolve(d.clinician(), record.id, action="resend", document=None, meta=META)
    d.directory.guard = guarded


def golden() -> dict[str, list[dict[str, Any]]]:
    """The records captured before the change, by story."""
    captured: dict[str, list[dict[str, Any]]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return captured


def test_every_use_case_writes_the_audit_records_it_wrote_before() -> None:
    """Types, data, write-back ids, actor, request id, correlation and patient: all unchanged."""
    assert story() == golden()["story"]


def test_structured_approvals_record_each_queued_part_as_before() -> None:
    """Approve, amend and retract with structured parts: the same records, part by part."""
    recorded = structured_story()
    assert [r["type"] for r in recorded].count("writeback.queued") >= 7  # note + parts, thrice
    assert recorded == golden()["structured"]
