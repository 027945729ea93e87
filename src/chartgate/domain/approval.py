"""An approval: a clinician's explicit decision to send one version to the chart.

``Draft.approve`` (and finalize, amend, retract) make one; it is stored with its draft and
names the write-back that carries it out. Kept apart from the draft so its domain events
(``domain/draft_events.py``) can describe it without importing the aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chartgate.domain.diff import DraftDiff


@dataclass(frozen=True, slots=True)
class Approver:
    """The clinician who approved, and how strongly they had authenticated."""

    subject: str
    fhir_user: str | None
    amr: tuple[str, ...]
    acr: str | None
    auth_time: datetime | None
    reason: str | None = None  # a coded reason (retraction), never free text


RETRACTION_REASONS = frozenset(
    {"wrong-patient", "wrong-encounter", "clinical-error", "duplicate", "other"}
)
"""Why a note was retracted: codes only, so no clinical detail reaches ids, logs or the ledger."""


@dataclass(frozen=True, slots=True)
class Approval:
    """An explicit approval of one version for the chart (or of its finalization)."""

    id: str
    draft_id: str
    version: int
    content_hash: str
    approver: Approver
    approved_at: datetime
    diff: DraftDiff
    policy_hash: str
    writeback_id: str
    kind: str = "approve"  # approve | finalize | amend | retract
    # sha256 digest of the encounter's consent record when one was on file (issue 17).
    consent_digest: str | None = None
    # sha256 of the text chartgate appended to the note (consent, disclosure), so the worker
    # can tell it from any other change (issue 17); None when nothing was appended.
    system_text_hash: str | None = None
