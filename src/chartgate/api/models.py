"""The API's answers as pydantic models: the contract ``/openapi.json`` publishes.

Routes build their JSON with ``api.schemas`` (one place per shape); these models describe
exactly that JSON so that a client generated from the spec, and schemathesis checking every
answer against it, see what is really sent. ``tests/contract`` holds them to account.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from chartgate.api.writeback_models import Out as _Out
from chartgate.api.writeback_models import StructuredItem as StructuredItem  # noqa: PLC0414
from chartgate.api.writeback_models import Writeback as Writeback  # noqa: PLC0414 - re-exported
from chartgate.domain.submission import Note, Origin


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
    writebacks: list[Writeback] | None = Field(
        default=None, description="On reads only: the note's write-backs."
    )
    structured: list[StructuredItem] | None = Field(
        default=None,
        description="On reads only: each structured proposal, its fate and its write-back"
        " (issue 13: partial states are visible here).",
    )


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


# -- issue 14: kill switch, worklists, webhooks ---------------------------------------------


class KillSwitch(_Out):
    """One kill switch, engaged or released."""

    id: str
    tenant: str = Field(description='A tenant id, or "*" for every tenant.')
    scope: str
    value: str | None
    mode: str
    reason: str
    set_by: str
    set_at: str
    engaged: bool
    released_at: str | None
    released_by: str | None
    release_reason: str | None


class KillSwitches(_Out):
    """The switches that cover your tenant, and the recent history."""

    engaged: list[KillSwitch]
    history: list[KillSwitch]


class KillSwitchEngaged(_Out):
    """The answer to engage: the switch, and whether it holds yet."""

    switch: KillSwitch
    created: bool = Field(description="false when the same switch was already engaged.")
    acknowledged: bool = Field(description="Nothing that could have missed it is in flight.")
    drained: int
    still_in_flight: int


class KillSwitchReleased(_Out):
    """The released switch."""

    switch: KillSwitch


class DraftItem(_Out):
    """One line of a clinician's worklist."""

    id: str
    state: str
    patient: str
    encounter: str
    created_at: str
    updated_at: str


class DraftWorklist(_Out):
    """A page of a clinician's worklist."""

    drafts: list[DraftItem]
    next_cursor: str | None


class WritebackItem(_Out):
    """One write-back of the operators' worklist: ids and states only."""

    id: str
    draft_id: str
    kind: str
    state: str
    attempts: int
    escalated: bool
    held: bool
    last_status: int | None
    created_at: str
    updated_at: str


class WritebackWorklist(_Out):
    """A page of the operators' worklist."""

    writebacks: list[WritebackItem]
    next_cursor: str | None


class WebhookEndpoint(_Out):
    """A webhook endpoint and where its cursor stands (the secret's name, never its value)."""

    id: str
    url: str
    secret: str
    events: list[str]
    created_by: str
    created_at: str
    disabled_at: str | None
    last_seq: int
    delivered: int
    failures: int
    next_attempt_at: str | None


class WebhookOne(_Out):
    """One endpoint."""

    webhook: WebhookEndpoint


class WebhookList(_Out):
    """Your tenant's endpoints."""

    webhooks: list[WebhookEndpoint]


class WebhookDelivery(_Out):
    """One delivery attempt (no payload)."""

    event_id: str
    type: str
    attempt: int
    status: int | None
    error: str | None
    at: str


class WebhookDeliveries(_Out):
    """An endpoint's newest delivery attempts."""

    deliveries: list[WebhookDelivery]


class ScribeSession(_Out):
    """An open scribe session (issue 17): the scribe names ``id`` on every context read."""

    id: str
    patient: str
    encounter: str
    template: str
    scribe_client: str
    expires_at: str


class BundleEntry(_Out):
    """One resource, cut to the read profile and tagged ``SUBSETTED``."""

    resource: dict[str, Any]


class ContextBundle(_Out):
    """A FHIR ``searchset`` Bundle of minimum-necessary context."""

    resourceType: Literal["Bundle"]  # noqa: N815 - the FHIR element name
    type: Literal["searchset"]
    total: int
    entry: list[BundleEntry]


class ScribeSessionClosed(_Out):
    """A scribe session ended before its expiry: every later read in it is refused."""

    id: str
    closed_at: str
    closed_by: str


class ConsentRecorded(_Out):
    """A stored consent record: its id and the digest approvals and Provenance carry."""

    id: str
    digest: str
    recorded_at: str
