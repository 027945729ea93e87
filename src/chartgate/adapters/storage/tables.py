"""The schema: one set of tables for SQLite and PostgreSQL, tenant in every key.

Clinical content (note text, structured resources, diffs, outbound payloads) is stored only
as ciphertext (``*_blob``); everything in clear is an id, a state, a hash or a time.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from chartgate.adapters.storage.types import UtcDateTime

# Ledger positions (0004): 8 bytes on PostgreSQL; SQLite's INTEGER is 8 bytes already.
SEQ = BigInteger().with_variant(Integer(), "sqlite")
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UTC_TS = UtcDateTime()  # aware UTC in and out, on SQLite and PostgreSQL (types.py)
ID = String(64)

tenant_keys = Table(
    "tenant_keys",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", UTC_TS, nullable=False),
)

# Keys the deployment uses (0012, docs/keys.md): made only by ``chartgate keys init`` and
# ``keys rotate``; each replica checks at startup that it reaches exactly these keys.
key_registry = Table(
    "key_registry",
    metadata,
    Column("purpose", String(16), primary_key=True),  # "kek" or "ledger"
    Column("key_id", ID, primary_key=True),
    Column("provider", String(16), nullable=False),  # "local" or "pkcs11"
    Column("public", Text),  # a signing key's verifier key (vkey); None for a KEK
    Column("current", Boolean, nullable=False),
    Column("created_at", UTC_TS, nullable=False),
    Column("retired_at", UTC_TS),
)

drafts = Table(
    "drafts",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("patient", String(200), nullable=False),
    Column("encounter", String(200), nullable=False),
    Column("origin", JSON, nullable=False),
    Column("baseline", JSON, nullable=False),
    Column("correlation_id", ID, nullable=False),
    Column("state", String(20), nullable=False),
    Column("approved_version", Integer),
    Column("doc_status", String(20)),
    Column("created_at", UTC_TS, nullable=False),
    Column("updated_at", UTC_TS, nullable=False),
    Column("row_version", Integer, nullable=False),
    # The W3C traceparent of the scribe's submit request (0006; NULL when tracing is off).
    Column("traceparent", String(55)),
)

draft_versions = Table(
    "draft_versions",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("draft_id", ID, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("author", String(200), nullable=False),
    Column("created_at", UTC_TS, nullable=False),
    Column("content_hash", String(80), nullable=False),
    Column("content_blob", LargeBinary, nullable=False),
    # What approving this version sends passed the FHIR schema at save (0018, ADR 0032).
    Column("schema_stamp", String(80)),
    ForeignKeyConstraint(["tenant", "draft_id"], ["drafts.tenant", "drafts.id"]),
)

approvals = Table(
    "approvals",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("draft_id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("content_hash", String(80), nullable=False),
    Column("approver", JSON, nullable=False),
    Column("approved_at", UTC_TS, nullable=False),
    Column("diff_blob", LargeBinary, nullable=False),
    Column("policy_hash", String(80), nullable=False),
    Column("writeback_id", ID, nullable=False, unique=True),
    Column("consent_digest", String(80)),  # the consent record on file (0011, issue 17)
    Column("system_text_hash", String(80)),  # what chartgate appended to the note (0011)
    ForeignKeyConstraint(["tenant", "draft_id"], ["drafts.tenant", "drafts.id"]),
    # One approval per version for the chart: a second approve of the same version cannot
    # commit. Follow-ups (finalize, amend, retract) may be approved again after a refusal.
    Index(
        "uq_approvals_once",
        "tenant",
        "draft_id",
        "version",
        unique=True,
        sqlite_where=text("kind = 'approve'"),
        postgresql_where=text("kind = 'approve'"),
    ),
    Index("ix_approvals_draft", "tenant", "draft_id"),  # a draft's approvals (0019)
)

writebacks = Table(
    "writebacks",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("draft_id", ID, nullable=False),
    # The claim: exactly one write-back row per approval, taken in the approval's transaction.
    Column("approval_id", ID, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column("may_have_landed", Boolean, nullable=False),
    Column("payload_blob", LargeBinary, nullable=False),
    Column("payload_hash", String(80), nullable=False),
    Column("correlation_id", ID, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTC_TS, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", UTC_TS),
    Column("document_id", String(100)),
    Column("document_version", String(100)),
    Column("provenance_id", String(100)),
    Column("last_status", Integer),
    Column("last_reason", Text),
    Column("created_at", UTC_TS, nullable=False),
    Column("updated_at", UTC_TS, nullable=False),
    # Set once, when a person was told (after ``worker_max_attempts``); retries go on.
    Column("escalated_at", UTC_TS),
    # The trace the write-back continues (0006): the draft's submit traceparent, else the
    # approval's; the worker's EHR calls are its children (adapters/telemetry.py).
    Column("traceparent", String(55)),
    # The note's LOINC type in clear (0007), so a kill switch on a note type keeps its rows
    # out of a worker's hands in SQL. NULL for rows older than 0007 (the worker's check
    # before every request still holds them).
    Column("note_type", String(40)),
    # One row per part of an approval (0015): 0 the note, 1.. its structured resources in
    # write order; ``after_id`` is the write-back that must be settled before this one sends.
    Column("part", Integer, nullable=False, server_default="0"),
    Column("after_id", ID),
    # The resource type it writes, in clear (0015): a kill switch on it holds the row in SQL.
    Column("target_type", String(40)),
    UniqueConstraint("tenant", "approval_id", "part", name="uq_writebacks_claim"),
    ForeignKeyConstraint(["tenant", "approval_id"], ["approvals.tenant", "approvals.id"]),
    Index("ix_writebacks_due", "state", "next_attempt_at"),
    Index("ix_writebacks_draft", "tenant", "draft_id"),  # a draft's write-backs (0019)
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("seq", SEQ, primary_key=True),
    Column("type", String(60), nullable=False),
    Column("at", UTC_TS, nullable=False),
    Column("correlation_id", ID, nullable=False),
    Column("request_id", String(200)),
    Column("actor", String(200), nullable=False),
    Column("draft_id", ID),
    Column("writeback_id", ID),
    Column("event", JSON, nullable=False),
    # The ledger (0002): the exact RFC 8785 bytes hashed, their RFC 9162 leaf hash, and the
    # patient's keyed HMAC for auditors' filters. Nullable only for rows older than 0002.
    Column("canonical", LargeBinary),
    Column("leaf_hash", LargeBinary(32)),
    Column("patient", String(80)),
    Index("ix_audit_events_correlation", "tenant", "correlation_id"),
    Index("ix_audit_events_patient", "tenant", "patient"),
    Index("ix_audit_events_at", "tenant", "at"),
)

ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("tenant", ID, primary_key=True),
    # The tenant's tree size (= the next 0-based seq) and its RFC 9162 compact range: the
    # subtree roots as concatenated 32-byte hashes, enough for the root in O(log n).
    Column("next_seq", SEQ, nullable=False),
    Column("compact_range", LargeBinary),
)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("size", SEQ, primary_key=True),
    Column("root", LargeBinary(32), nullable=False),
    # The C2SP signed note exactly as signed, and the compact range at this size, which
    # gives consistency proofs from here without re-reading older leaves.
    Column("note", Text, nullable=False),
    Column("compact_range", LargeBinary, nullable=False),
    Column("signed_at", UTC_TS, nullable=False),
)

# RFC 3161 timestamp tokens over signed checkpoints (0012, docs/ledger.md#timestamps).
checkpoint_timestamps = Table(
    "checkpoint_timestamps",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("size", SEQ, primary_key=True),
    Column("token", LargeBinary, nullable=False),
    Column("tsa", String(300), nullable=False),
    Column("stamped_at", UTC_TS, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant", ID, primary_key=True),
    Column("principal", String(200), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(80), nullable=False),
    Column("state", String(20), nullable=False),
    Column("status_code", Integer),
    Column("response", JSON),
    Column("created_at", UTC_TS, nullable=False),
)

audit_sink_cursors = Table(
    "audit_sink_cursors",
    metadata,
    # The audit sink's cursor (0003): the last ledger seq a FHIR endpoint acknowledged, per
    # tenant and sink URL; the ledger itself is the outbox (docs/audit-export.md).
    Column("tenant", ID, primary_key=True),
    Column("sink", String(500), primary_key=True),
    Column("last_seq", SEQ, nullable=False),
    Column("pushed", SEQ, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", UTC_TS),
    Column("last_error", String(200)),
    Column("updated_at", UTC_TS, nullable=False),
)

ehr_rate_buckets = Table(
    "ehr_rate_buckets",
    metadata,
    # The outbound rate governor (0008, adapters/ehr/rate.py): one token bucket per tenant EHR,
    # shared by every worker. Times are epoch seconds (the workers' clocks, kept by NTP).
    Column("bucket", String(200), primary_key=True),
    Column("tokens", Float(precision=53), nullable=False),
    Column("updated_at", Float(precision=53), nullable=False),
    Column("blocked_until", Float(precision=53), nullable=False),
)

kill_switches = Table(
    "kill_switches",
    metadata,
    # Kill switches (0007): engaged while released_at is NULL; never deleted (the ledger
    # has the events, this table the state every replica reads in its own transaction).
    Column("id", ID, primary_key=True),
    Column("tenant", ID, nullable=False),  # a tenant id, or "*" for every tenant
    Column("scope", String(30), nullable=False),
    Column("value", String(200), nullable=False),
    Column("mode", String(30), nullable=False),
    Column("reason", Text, nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", UTC_TS, nullable=False),
    Column("released_at", UTC_TS),
    Column("released_by", String(200)),
    Column("release_reason", Text),
    Index("ix_kill_switches_engaged", "released_at", "tenant"),
)

kill_switch_epoch = Table(
    "kill_switch_epoch",
    metadata,
    # One row: engaging or releasing a switch updates it (an exclusive row lock), and every
    # guarded action reads it FOR SHARE before it reads the switches, so on PostgreSQL a
    # switch is acknowledged only after every action that could have missed it committed.
    Column("id", Integer, primary_key=True),
    Column("epoch", Integer, nullable=False),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    # Webhook endpoints (0007): registered by a tenant's admin. The ledger is the outbox:
    # ``last_seq`` is the last ledger seq this endpoint acknowledged (or skipped).
    Column("tenant", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("url", String(500), nullable=False),
    Column("secret_name", String(100), nullable=False),
    Column("events", JSON, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTC_TS, nullable=False),
    Column("disabled_at", UTC_TS),
    Column("last_seq", SEQ, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("next_attempt_at", UTC_TS, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", UTC_TS),
    Column("delivered", SEQ, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # Every delivery attempt (0007): what the admin's delivery log shows (no payloads).
    Column("tenant", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("endpoint_id", ID, nullable=False),
    Column("event_id", String(100), nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", Integer),
    Column("error", String(200)),
    Column("at", UTC_TS, nullable=False),
    Index("ix_webhook_deliveries_endpoint", "tenant", "endpoint_id", "at"),
)

reviewer_sessions = Table(
    "reviewer_sessions",
    metadata,
    # Reviewer-page sessions (0010, ADR 0020): every replica reads the same rows. The key is
    # the SHA-256 of the cookie's session id (a database read gives no usable cookie); the
    # access token and the CSRF token are ciphertext under the tenant's data key.
    Column("id_hash", String(64), primary_key=True),
    Column("tenant", ID, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("sid", String(200)),
    Column("issuer", String(500), nullable=False),
    Column("secret_blob", LargeBinary, nullable=False),
    Column("created", Float(precision=53), nullable=False),
    Column("last_seen", Float(precision=53), nullable=False),
    Column("notices", JSON, nullable=False),
    # SMART EHR launch context from the token answer (0014, ADR 0024); NULL: standalone.
    Column("launch_patient", String(200)),
    Column("launch_encounter", String(200)),
    Index("ix_reviewer_sessions_subject", "tenant", "subject"),
    Index("ix_reviewer_sessions_sid", "issuer", "sid"),  # identity-provider logout (0014)
)

reviewer_logins = Table(
    "reviewer_logins",
    metadata,
    # Sign-ins in flight (0010): keyed by the SHA-256 of the OAuth ``state``, taken once.
    Column("state_hash", String(64), primary_key=True),
    Column("browser", String(64), nullable=False),
    Column("issuer", String(500), nullable=False),
    Column("verifier", String(128), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("return_to", String(200), nullable=False),
    Column("step_up", Boolean, nullable=False),
    Column("created", Float(precision=53), nullable=False),
    Column("launch_tenant", ID),  # an EHR launch: the tenant whose EHR sent iss (0014)
    Index("ix_reviewer_logins_created", "created"),
)

scribe_sessions = Table(
    "scribe_sessions",
    metadata,
    # A clinician's grant of context for one encounter to one scribe client (0011, issue 17).
    # References in clear like drafts.patient/encounter; nothing clinical is stored here.
    Column("tenant", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("patient", String(200), nullable=False),
    Column("encounter", String(200), nullable=False),
    Column("template", String(64), nullable=False),
    Column("scribe_client", String(200), nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("opened_at", UTC_TS, nullable=False),
    Column("expires_at", UTC_TS, nullable=False),
    Column("anchor_at", UTC_TS, nullable=False),
    Column("closed_at", UTC_TS),
    # 0016: the encounter's end (upper bound of every read window; NULL while in progress),
    # who ended the session early, and the clinician's EHR-launch token used for reads
    # (ciphertext under the tenant's data key, bound to the row) with when it stops serving.
    Column("encounter_end_at", UTC_TS),
    Column("closed_by", String(200)),
    Column("delegated_blob", LargeBinary),
    Column("delegated_until", UTC_TS),
)

consent_records = Table(
    "consent_records",
    metadata,
    # Consent to ambient documentation (0011, issue 17): who, how, when, where, what scope and
    # who captured it live only in record_blob (AES-256-GCM under the tenant's data key);
    # digest is the sha256 of the canonical record that approvals and Provenance carry.
    Column("tenant", ID, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("encounter", String(200), nullable=False),
    Column("digest", String(80), nullable=False),
    Column("record_blob", LargeBinary, nullable=False),
    Column("recorded_at", UTC_TS, nullable=False),
    Index("ix_consent_records_encounter", "tenant", "encounter", "recorded_at"),
)
