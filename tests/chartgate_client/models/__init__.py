""" Contains all the data models used in inputs/outputs """

from .approval import Approval
from .approve_body import ApproveBody
from .approver import Approver
from .audit_events import AuditEvents
from .bundle_entry import BundleEntry
from .bundle_entry_resource import BundleEntryResource
from .checkpoint import Checkpoint
from .codeable_concept import CodeableConcept
from .coding import Coding
from .consent_body import ConsentBody
from .consent_method import ConsentMethod
from .consent_recorded import ConsentRecorded
from .consenter import Consenter
from .consistency_proof import ConsistencyProof
from .context_bundle import ContextBundle
from .diff import Diff
from .diff_json_patch_item import DiffJsonPatchItem
from .diff_with_findings import DiffWithFindings
from .diff_with_findings_json_patch_item import DiffWithFindingsJsonPatchItem
from .draft import Draft
from .draft_baseline import DraftBaseline
from .draft_item import DraftItem
from .draft_submission import DraftSubmission
from .draft_submission_baseline import DraftSubmissionBaseline
from .draft_submission_resources_item import DraftSubmissionResourcesItem
from .draft_worklist import DraftWorklist
from .engage_body import EngageBody
from .finding import Finding
from .finding_severity import FindingSeverity
from .inclusion_proof import InclusionProof
from .issue import Issue
from .issue_severity import IssueSeverity
from .kill_switch import KillSwitch
from .kill_switch_engaged import KillSwitchEngaged
from .kill_switch_released import KillSwitchReleased
from .kill_switches import KillSwitches
from .ledger_entry import LedgerEntry
from .ledger_entry_event import LedgerEntryEvent
from .ledger_key import LedgerKey
from .ledger_keys import LedgerKeys
from .mode import Mode
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
from .recording_scope import RecordingScope
from .release_body import ReleaseBody
from .resolve_body import ResolveBody
from .resolve_body_action import ResolveBodyAction
from .resolved import Resolved
from .retract_body import RetractBody
from .retract_body_reason import RetractBodyReason
from .scope import Scope
from .scribe_session import ScribeSession
from .scribe_session_closed import ScribeSessionClosed
from .session_body import SessionBody
from .status import Status
from .structured_item import StructuredItem
from .validation import Validation
from .version import Version
from .version_edit import VersionEdit
from .version_edit_resources_item import VersionEditResourcesItem
from .version_resources_item import VersionResourcesItem
from .webhook_body import WebhookBody
from .webhook_deliveries import WebhookDeliveries
from .webhook_delivery import WebhookDelivery
from .webhook_endpoint import WebhookEndpoint
from .webhook_list import WebhookList
from .webhook_one import WebhookOne
from .writeback import Writeback
from .writeback_item import WritebackItem
from .writeback_worklist import WritebackWorklist

__all__ = (
    "Approval",
    "ApproveBody",
    "Approver",
    "AuditEvents",
    "BundleEntry",
    "BundleEntryResource",
    "Checkpoint",
    "CodeableConcept",
    "Coding",
    "ConsentBody",
    "Consenter",
    "ConsentMethod",
    "ConsentRecorded",
    "ConsistencyProof",
    "ContextBundle",
    "Diff",
    "DiffJsonPatchItem",
    "DiffWithFindings",
    "DiffWithFindingsJsonPatchItem",
    "Draft",
    "DraftBaseline",
    "DraftItem",
    "DraftSubmission",
    "DraftSubmissionBaseline",
    "DraftSubmissionResourcesItem",
    "DraftWorklist",
    "EngageBody",
    "Finding",
    "FindingSeverity",
    "InclusionProof",
    "Issue",
    "IssueSeverity",
    "KillSwitch",
    "KillSwitchEngaged",
    "KillSwitches",
    "KillSwitchReleased",
    "LedgerEntry",
    "LedgerEntryEvent",
    "LedgerKey",
    "LedgerKeys",
    "Mode",
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
    "RecordingScope",
    "ReleaseBody",
    "ResolveBody",
    "ResolveBodyAction",
    "Resolved",
    "RetractBody",
    "RetractBodyReason",
    "Scope",
    "ScribeSession",
    "ScribeSessionClosed",
    "SessionBody",
    "Status",
    "StructuredItem",
    "Validation",
    "Version",
    "VersionEdit",
    "VersionEditResourcesItem",
    "VersionResourcesItem",
    "WebhookBody",
    "WebhookDeliveries",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookList",
    "WebhookOne",
    "Writeback",
    "WritebackItem",
    "WritebackWorklist",
)
