""" Contains all the data models used in inputs/outputs """

from .approval import Approval
from .approve_body import ApproveBody
from .approver import Approver
from .audit_events import AuditEvents
from .checkpoint import Checkpoint
from .codeable_concept import CodeableConcept
from .coding import Coding
from .consistency_proof import ConsistencyProof
from .diff import Diff
from .diff_json_patch_item import DiffJsonPatchItem
from .diff_with_findings import DiffWithFindings
from .diff_with_findings_json_patch_item import DiffWithFindingsJsonPatchItem
from .draft import Draft
from .draft_baseline import DraftBaseline
from .draft_submission import DraftSubmission
from .draft_submission_baseline import DraftSubmissionBaseline
from .draft_submission_resources_item import DraftSubmissionResourcesItem
from .finding import Finding
from .finding_severity import FindingSeverity
from .inclusion_proof import InclusionProof
from .issue import Issue
from .issue_severity import IssueSeverity
from .ledger_entry import LedgerEntry
from .ledger_entry_event import LedgerEntryEvent
from .ledger_key import LedgerKey
from .ledger_keys import LedgerKeys
from .model_ref import ModelRef
from .note import Note
from .note_content_type import NoteContentType
from .operation_outcome import OperationOutcome
from .origin import Origin
from .queued import Queued
from .readiness import Readiness
from .readiness_checks import ReadinessChecks
from .readiness_status import ReadinessStatus
from .rebase_body import RebaseBody
from .rebase_body_baseline import RebaseBodyBaseline
from .resolve_body import ResolveBody
from .resolve_body_action import ResolveBodyAction
from .resolved import Resolved
from .retract_body import RetractBody
from .retract_body_reason import RetractBodyReason
from .status import Status
from .validation import Validation
from .version import Version
from .version_edit import VersionEdit
from .version_edit_resources_item import VersionEditResourcesItem
from .version_resources_item import VersionResourcesItem
from .writeback import Writeback

__all__ = (
    "Approval",
    "ApproveBody",
    "Approver",
    "AuditEvents",
    "Checkpoint",
    "CodeableConcept",
    "Coding",
    "ConsistencyProof",
    "Diff",
    "DiffJsonPatchItem",
    "DiffWithFindings",
    "DiffWithFindingsJsonPatchItem",
    "Draft",
    "DraftBaseline",
    "DraftSubmission",
    "DraftSubmissionBaseline",
    "DraftSubmissionResourcesItem",
    "Finding",
    "FindingSeverity",
    "InclusionProof",
    "Issue",
    "IssueSeverity",
    "LedgerEntry",
    "LedgerEntryEvent",
    "LedgerKey",
    "LedgerKeys",
    "ModelRef",
    "Note",
    "NoteContentType",
    "OperationOutcome",
    "Origin",
    "Queued",
    "Readiness",
    "ReadinessChecks",
    "ReadinessStatus",
    "RebaseBody",
    "RebaseBodyBaseline",
    "ResolveBody",
    "ResolveBodyAction",
    "Resolved",
    "RetractBody",
    "RetractBodyReason",
    "Status",
    "Validation",
    "Version",
    "VersionEdit",
    "VersionEditResourcesItem",
    "VersionResourcesItem",
    "Writeback",
)
