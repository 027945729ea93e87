"""Where data lives: every stored table and column, what kind of data it holds, how it goes.

The data-flow map and the compliance report read this inventory; it is not documentation
written beside the code: ``tests/unit/test_dataflow_map.py`` compares it with the live
schema (``adapters/storage/tables.py``) and fails on a column added, removed or renamed
without being accounted for here. ``retention`` names the rule of the retention policy
(``policy/retention.yaml``) that deletes or archives the table's rows, or says why none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What one column holds."""

    ID = "id"  # tenant, ids, sequence numbers, correlation ids
    META = "metadata"  # states, counts, times, kinds, codes, leases
    HASH = "hash"  # content hashes, Merkle roots
    ENCRYPTED = "encrypted"  # ciphertext under the tenant's data key (AES-256-GCM, ADR 0006)
    WRAPPED_KEY = "wrapped-key"  # a tenant data key wrapped by the key-encryption key
    PHI_CLEAR = "phi-clear"  # patient or encounter references stored in clear
    PSEUDONYM = "pseudonym"  # keyed HMAC of a patient reference (meaningless without the key)
    WORKFORCE = "workforce-id"  # who acted (subject, client id): personal, not PHI
    AUDIT = "audit-record"  # the sealed ledger event (pseudonymised patient, ids, hashes)
    CONFIG = "config"  # URLs, secret names, reasons typed by an operator
    CREDENTIAL = "credential"  # a short-lived sign-in secret in clear (PKCE verifier, nonce)


@dataclass(frozen=True, slots=True)
class TableEntry:
    """One table: why it exists, how its rows leave, and each column's kind."""

    purpose: str
    retention: str
    columns: dict[str, Kind]

    def encrypted(self) -> list[str]:
        """Columns stored only as ciphertext."""
        return [c for c, k in self.columns.items() if k in {Kind.ENCRYPTED, Kind.WRAPPED_KEY}]

    def phi_in_clear(self) -> list[str]:
        """Columns with patient references in clear."""
        return [c for c, k in self.columns.items() if k is Kind.PHI_CLEAR]


def _cols(**kinds: Kind) -> dict[str, Kind]:
    return dict(kinds)


ID, M, H, E, P, W = Kind.ID, Kind.META, Kind.HASH, Kind.ENCRYPTED, Kind.PHI_CLEAR, Kind.WORKFORCE
TABLES: dict[str, TableEntry] = {
    "drafts": TableEntry(
        "one AI draft per encounter and its lifecycle",
        "drafts (unapproved: delete) / approved_content",
        _cols(
            tenant=ID,
            id=ID,
            patient=P,
            encounter=P,
            origin=M,
            baseline=P,
            correlation_id=ID,
            state=M,
            approved_version=M,
            doc_status=M,
            created_at=M,
            updated_at=M,
            row_version=M,
            traceparent=ID,
        ),
    ),
    "draft_versions": TableEntry(
        "every version of a note (AI's, clinician's edits)",
        "drafts / approved_content",
        _cols(
            tenant=ID,
            draft_id=ID,
            number=M,
            author=W,
            created_at=M,
            content_hash=H,
            content_blob=E,
            schema_stamp=H,
        ),
    ),
    "approvals": TableEntry(
        "who approved which version, and the diff they saw",
        "approved_content",
        _cols(
            tenant=ID,
            id=ID,
            draft_id=ID,
            version=M,
            kind=M,
            content_hash=H,
            approver=W,
            approved_at=M,
            diff_blob=E,
            policy_hash=H,
            writeback_id=ID,
            consent_digest=H,
            system_text_hash=H,
        ),
    ),
    "writebacks": TableEntry(
        "the outbox: exactly-once write-back to the EHR",
        "approved_content",
        _cols(
            tenant=ID,
            id=ID,
            draft_id=ID,
            approval_id=ID,
            kind=M,
            state=M,
            may_have_landed=M,
            payload_blob=E,
            payload_hash=H,
            correlation_id=ID,
            attempts=M,
            next_attempt_at=M,
            lease_owner=M,
            lease_until=M,
            document_id=ID,
            document_version=M,
            provenance_id=ID,
            last_status=M,
            last_reason=M,
            created_at=M,
            updated_at=M,
            escalated_at=M,
            traceparent=ID,
            note_type=M,
            part=M,
            after_id=ID,
            target_type=M,
        ),
    ),
    "idempotency_keys": TableEntry(
        "answers replayed for a repeated Idempotency-Key",
        "idempotency_keys",
        _cols(
            tenant=ID,
            principal=W,
            key=ID,
            request_hash=H,
            state=M,
            status_code=M,
            response=E,
            created_at=M,
        ),
    ),
    "tenant_keys": TableEntry(
        "each tenant's data key, wrapped by the KEK (deleting it crypto-shreds the tenant)",
        "offboarded_tenants (crypto-shredding)",
        _cols(tenant=ID, wrapped_key=Kind.WRAPPED_KEY, created_at=M),
    ),
    "key_registry": TableEntry(
        "the deployment's KEKs and ledger keys by id, with check blob or verifier key",
        "kept (key history, docs/keys.md)",
        _cols(purpose=M, key_id=ID, provider=M, public=H, current=M, created_at=M, retired_at=M),
    ),
    "checkpoint_timestamps": TableEntry(
        "RFC 3161 timestamp tokens over signed checkpoints",
        "kept with the ledger's checkpoints",
        _cols(tenant=ID, size=ID, token=H, tsa=Kind.CONFIG, stamped_at=M),
    ),
    "audit_events": TableEntry(
        "the tamper-evident audit ledger",
        "ledger (archived, never deleted)",
        _cols(
            tenant=ID,
            seq=ID,
            type=M,
            at=M,
            correlation_id=ID,
            request_id=ID,
            actor=W,
            draft_id=ID,
            writeback_id=ID,
            event=Kind.AUDIT,
            canonical=Kind.AUDIT,
            leaf_hash=H,
            patient=Kind.PSEUDONYM,
        ),
    ),
    "ledger_heads": TableEntry(
        "each tenant's ledger size and compact range",
        "kept (one row per tenant)",
        _cols(tenant=ID, next_seq=M, compact_range=H),
    ),
    "ledger_checkpoints": TableEntry(
        "signed checkpoints of the ledger",
        "checkpoints (archived)",
        _cols(tenant=ID, size=M, root=H, note=Kind.AUDIT, compact_range=H, signed_at=M),
    ),
    "audit_sink_cursors": TableEntry(
        "how far each audit sink has been sent",
        "kept (one row per sink)",
        _cols(
            tenant=ID,
            sink=Kind.CONFIG,
            last_seq=M,
            pushed=M,
            lease_owner=M,
            lease_until=M,
            last_error=M,
            updated_at=M,
        ),
    ),
    "ehr_rate_buckets": TableEntry(
        "outbound rate governor shared by workers",
        "kept (one row per EHR)",
        _cols(bucket=ID, tokens=M, updated_at=M, blocked_until=M),
    ),
    "kill_switches": TableEntry(
        "engaged and released kill switches",
        "kept (operations record)",
        _cols(
            id=ID,
            tenant=ID,
            scope=M,
            value=M,
            mode=M,
            reason=Kind.CONFIG,
            set_by=W,
            set_at=M,
            released_at=M,
            released_by=W,
            release_reason=Kind.CONFIG,
        ),
    ),
    "kill_switch_epoch": TableEntry(
        "a counter bumped on every switch change",
        "kept (one row)",
        _cols(id=ID, epoch=M),
    ),
    "webhook_endpoints": TableEntry(
        "admin-registered webhook receivers (a processor each)",
        "kept until disabled",
        _cols(
            tenant=ID,
            id=ID,
            url=Kind.CONFIG,
            secret_name=Kind.CONFIG,
            events=M,
            created_by=W,
            created_at=M,
            disabled_at=M,
            last_seq=M,
            failures=M,
            next_attempt_at=M,
            lease_owner=M,
            lease_until=M,
            delivered=M,
        ),
    ),
    "webhook_deliveries": TableEntry(
        "delivery attempts of webhook events (ids and statuses only)",
        "kept (delivery log)",
        _cols(
            tenant=ID,
            id=ID,
            endpoint_id=ID,
            event_id=ID,
            event_type=M,
            attempt=M,
            status=M,
            error=M,
            at=M,
        ),
    ),
}

TABLES["reviewer_sessions"] = TableEntry(
    "reviewer-page sessions shared by replicas (key: hash of the cookie's session id)",
    "expire with the session (idle and absolute limits)",
    {
        "id_hash": H,
        "tenant": ID,
        "subject": W,
        "sid": ID,
        "issuer": Kind.CONFIG,
        "secret_blob": E,
        "created": M,
        "last_seen": M,
        "notices": M,
        "launch_patient": P,  # the SMART EHR launch's patient (ADR 0024), NULL standalone
        "launch_encounter": P,
    },
)
TABLES["reviewer_logins"] = TableEntry(
    "sign-ins in flight (key: hash of the OAuth state), taken once",
    "deleted when taken or stale",
    {
        "state_hash": H,
        "browser": H,
        "issuer": Kind.CONFIG,
        "verifier": Kind.CREDENTIAL,
        "nonce": Kind.CREDENTIAL,
        "return_to": M,
        "step_up": M,
        "created": M,
        "launch_tenant": ID,  # the tenant whose EHR launched this sign-in
    },
)

TABLES["scribe_sessions"] = TableEntry(
    "a clinician's grant of chart context for one encounter to one scribe client (issue 17)",
    "scribe_sessions (delete 30 d after the session ended)",
    {
        "tenant": ID,
        "id": ID,
        "patient": P,
        "encounter": P,
        "template": M,
        "scribe_client": W,
        "opened_by": W,
        "opened_at": M,
        "expires_at": M,
        "anchor_at": M,
        "closed_at": M,
        "encounter_end_at": M,  # the upper bound of every read window (0016)
        "closed_by": W,  # who ended the session early
        "delegated_blob": E,  # the clinician's EHR-launch token for reads (ADR 0027)
        "delegated_until": M,
    },
)
TABLES["consent_records"] = TableEntry(
    "consent to ambient documentation per encounter (evidence encrypted, ADR 0025)",
    "consent_records (delete 6 y after recording, never before the encounter's drafts)",
    {
        "tenant": ID,
        "id": ID,
        "encounter": P,
        "digest": H,
        "record_blob": E,
        "recorded_at": M,
    },
)

OUTBOUND: dict[str, str] = {
    "ehr": "the tenant's EHR (FHIR REST): approved notes, Provenance, chart reads",
    "audit-sink": "a FHIR AuditEvent repository: ledger entries (pseudonymised)",
    "webhook": "admin-registered receivers: event ids, types and states (no note text)",
    "identity": "identity providers: discovery, keys, the reviewer's code exchange (no PHI)",
    "tsa": "the RFC 3161 timestamp authority: SHA-256 of a signed checkpoint (no PHI)",
}
"""Every purpose an outbound client is built for (``gate.bound(purpose=...)`` in src/)."""
