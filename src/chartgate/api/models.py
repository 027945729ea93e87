"""The API's answers as pydantic models: the contract ``/openapi.json`` publishes.

Routes build their JSON with ``api.schemas`` (one place per shape); these models describe
exactly that JSON so that a client generated from the spec, and schemathesis checking every
answer against it, see what is really sent. ``tests/contract`` holds them to account.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chartgate.domain.submission import Note, Origin


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Finding(_Out):
    """One validation finding (``code@location`` is its ``key``)."""

    code: str
    severity: Literal["error", "warning", "information"]
    location: str
    message: str
    stage: str
    key: str


class Diff(_Out):
    """What changed between two versions: unified text diff and RFC 6902 JSON Patch."""

    from_version: int
    to_version: int
    unified: str
    json_patch: list[dict[str, Any]]
    lines_added: int
    lines_removed: int
    changed: bool


class DiffWithFindings(Diff):
    """``GET /v1/drafts/{id}/diff``: the diff and the current version's findings."""

    findings: list[Finding]


class Version(_Out):
    """One saved version of a draft, with its content."""

    number: int
    author: str
    created_at: str
    content_hash: str
    note: Note
    resources: list[dict[str, Any]]


class Approver(_Out):
    """Who approved, and how strongly they had signed in."""

    subject: str
    fhir_user: str | None
    amr: list[str]
    acr: str | None


class Approval(_Out):
    """One approval (approve, finalize, amend or retract)."""

    id: str
    kind: str
    version: int
    content_hash: str
    approved_at: str
    approver: Approver
    policy_hash: str
    writeback_id: str
    diff: Diff


class Writeback(_Out):
    """One write-back's status: state, the EHR's resource and version, Provenance."""

    id: str
    draft_id: str
    kind: str
    state: str
    attempts: int
    escalated: bool = Field(description="A person was told it keeps failing.")
    note_in_chart: bool = Field(description="The note itself is in the chart.")
    ehr_resource: str | None
    ehr_version: str | None
    provenance: str | None
    last_status: int | None
    last_reason: str | None
    correlation_id: str
    payload_hash: str


class Draft(_Out):
    """A draft with its versions; reads add findings, approvals and write-backs."""

    id: str
    state: str
    patient: str
    encounter: str
    correlation_id: str
    created_at: str
    origin: Origin
    baseline: dict[str, str]
    current_version: int
    approved_version: int | None
    doc_status: str | None
    allowed_actions: list[str]
    versions: list[Version]
    findings: list[Finding] | None = Field(default=None, description="On reads only.")
    approvals: list[Approval] | None = Field(default=None, description="On reads only.")
    writebacks: list[Writeback] | None = Field(default=None, description="On reads only.")


class Queued(_Out):
    """Approve, finalize, amend, retract: the draft and the write-back now queued."""

    draft: Draft
    writeback: Writeback


class Resolved(_Out):
    """``POST /v1/writebacks/{id}/resolve``: the write-back after a person's decision."""

    writeback: Writeback


class Validation(_Out):
    """``POST /v1/drafts/{id}/validate``: would approval pass now, and why not."""

    draft_id: str
    version: int
    accepted: bool
    findings: list[Finding]
    blocking: list[str]
    acknowledged: list[str]


class LedgerEntry(_Out):
    """One sealed ledger event: position, RFC 9162 leaf hash, the event."""

    seq: int
    leaf_hash: str
    event: dict[str, Any]


class AuditEvents(_Out):
    """A page of the tenant's ledger."""

    origin: str
    events: list[LedgerEntry]
    next_after_seq: int | None


class Checkpoint(_Out):
    """A signed checkpoint (C2SP tlog-checkpoint) of the tenant's log."""

    origin: str
    size: int
    root: str
    signed_at: str
    note: str
    vkey: str


class ConsistencyProof(_Out):
    """RFC 9162 consistency proof between two signed checkpoints."""

    from_: Checkpoint = Field(alias="from")
    to: Checkpoint
    proof: list[str]


class InclusionProof(_Out):
    """RFC 9162 inclusion proof of one entry in a signed checkpoint."""

    seq: int
    leaf_hash: str
    canonical: str
    tree_size: int
    proof: list[str]
    checkpoint: Checkpoint


class LedgerKey(_Out):
    """A checkpoint verifier key to pin."""

    name: str
    key_id: str
    vkey: str


class LedgerKeys(_Out):
    """``/.well-known/chartgate-ledger-keys``."""

    keys: list[LedgerKey]
    origin_template: str
    checkpoint_format: str
    hashing: str


class Status(_Out):
    """Liveness: the process answers."""

    status: Literal["ok"]


class Readiness(_Out):
    """Readiness: each check's verdict (``ok`` or a short word saying what is wrong)."""

    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


class Coding(BaseModel):
    """A FHIR Coding (the finding code of an issue)."""

    system: str | None = None
    code: str | None = None


class CodeableConcept(BaseModel):
    """A FHIR CodeableConcept."""

    coding: list[Coding] | None = None


class Issue(BaseModel):
    """One ``OperationOutcome.issue``."""

    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    details: CodeableConcept | None = None
    diagnostics: str | None = None
    expression: list[str] | None = None


class OperationOutcome(BaseModel):
    """Every error: a FHIR R4 OperationOutcome (``application/fhir+json``)."""

    resourceType: Literal["OperationOutcome"]  # noqa: N815 - FHIR's name
    issue: list[Issue] = Field(min_length=1)
