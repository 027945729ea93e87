"""Audit event types: the vocabulary of the clinical audit trail.

Every step of a write-back is recorded under one correlation id so the whole path can be
reconstructed (seed: "log the full event chain, not just the final write"). Event data
carries no PHI: ids, codes, states, hashes and keyed references only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """What happened."""

    DRAFT_RECEIVED = "draft.received"
    DRAFT_VIEWED = "draft.viewed"
    DRAFT_VALIDATED = "draft.validated"
    VERSION_SAVED = "draft.version_saved"
    DRAFT_APPROVED = "draft.approved"
    DRAFT_FINALIZE_APPROVED = "draft.finalize_approved"
    DRAFT_DISCARDED = "draft.discarded"
    DRAFT_AMEND_APPROVED = "draft.amend_approved"
    DRAFT_RETRACT_APPROVED = "draft.retract_approved"
    DRAFT_REBASED = "draft.rebased"
    WRITEBACK_QUEUED = "writeback.queued"
    EHR_REQUEST = "ehr.request"
    EHR_RESPONSE = "ehr.response"
    WRITEBACK_COMMITTED = "writeback.committed"
    WRITEBACK_CONFLICT = "writeback.conflict"
    WRITEBACK_REJECTED = "writeback.rejected"
    WRITEBACK_AMBIGUOUS = "writeback.ambiguous"
    WRITEBACK_RECONCILED = "writeback.reconciled"
    WRITEBACK_RETRY = "writeback.retry_scheduled"
    INTEGRITY_REFUSED = "writeback.integrity_refused"
    WRITEBACK_SUPERSEDE_REFUSED = "writeback.supersede_refused"
    WRITEBACK_LEASE_LOST = "writeback.lease_lost"
    WRITEBACK_ESCALATED = "writeback.escalated"
    WRITEBACK_PARTIAL = "writeback.partial"  # the note is in the chart; a follow-up was refused
    WRITEBACK_NEEDS_PERSON = "writeback.needs_person"  # cannot prove what happened: parked
    WRITEBACK_RESOLVED = "writeback.resolved"  # a person decided a parked write-back
    PROVENANCE_KEPT = "writeback.provenance_kept"  # the EHR takes none: kept here (profile)
    AUTHN_FAILED = "security.authn_failed"
    AUTHZ_DENIED = "security.authz_denied"
    WRITEBACK_VIEWED = "writeback.viewed"  # a write-back's status was read (API)
    REQUEST_REPLAYED = "request.replayed"  # a stored Idempotency-Key answer was replayed
    AUDIT_READ = "audit.read"
    POLICY_LOADED = "policy.loaded"
    KEY_CREATED = "key.created"
    KEY_DESTROYED = "key.destroyed"  # crypto-shredding a tenant's data key (ADR 0012)
    KEY_ROTATED = "key.rotated"  # keys rotate: a new current KEK or ledger key (docs/keys.md)
    KEY_MISMATCH = "key.mismatch"  # a process reached other keys than the store's: refused
    RETENTION_DELETED = "retention.deleted"  # a retention rule deleted a draft's rows
    RETENTION_ARCHIVED = "retention.archived"  # a ledger segment or checkpoints archived
    KILLSWITCH_ENGAGED = "killswitch.engaged"  # a kill switch engaged: who, why, its scope
    KILLSWITCH_RELEASED = "killswitch.released"  # a kill switch released: who and why
    WORKLIST_READ = "worklist.read"  # a clinician listed drafts (how many, which states)
    IMPACT_READ = "impact.read"  # the impact report was run (filters, counts, who)
    WEBHOOK_REGISTERED = "webhook.registered"  # an admin registered a webhook endpoint
    WEBHOOK_DISABLED = "webhook.disabled"  # an admin disabled a webhook endpoint
    # The processor gate refused a disclosure: unregistered destination or BAA not in force.
    PROCESSOR_REFUSED = "processor.disclosure_refused"
    ACCESS_REVIEW_SIGNED = "compliance.access_review_signed"  # a reviewer certified access
    CONTEXT_SESSION_OPENED = "context.session_opened"  # a clinician granted a scribe context
    CONTEXT_READ = "context.read"  # a scribe read one resource (BALP PatientRead)
    CONTEXT_QUERY = "context.query"  # a scribe searched one type (BALP PatientQuery)
    CONTEXT_REFUSED = "context.refused"  # a context read outside the read profile, refused
    CONTEXT_SESSION_CLOSED = "context.session_closed"  # a session ended before its expiry
    CONSENT_RECORDED = "consent.recorded"  # consent evidence for an encounter was stored


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One event before it is sequenced into the tenant's ledger."""

    type: EventType
    tenant: str
    at: datetime
    correlation_id: str
    actor: str
    request_id: str | None = None
    draft_id: str | None = None
    writeback_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # The patient as a keyed HMAC ("hmac-sha256:<hex>"), never the plain reference.
    patient: str | None = None
    # The W3C traceparent the event happened in (tracing on only): BALP's Traceparent entity.
    traceparent: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in the ledger (timestamps as RFC 3339 UTC)."""
        return {
            "type": self.type.value,
            "tenant": self.tenant,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "correlation_id": self.correlation_id,
            "request_id": self.request_id,
            "actor": self.actor,
            "draft_id": self.draft_id,
            "writeback_id": self.writeback_id,
            "patient": self.patient,
            "data": self.data,
        } | ({"traceparent": self.traceparent} if self.traceparent else {})
