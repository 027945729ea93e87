# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The vocabulary of the AuditEvent export (``ledger/export.py``): IHE BALP codes and tables.

Code systems, our own extension and identifier systems, the RESTful interaction and the
outcome of each chartgate event type, and which event data may be shown (FHIR-FACTS.md
"AuditEvent / BALP codes"). Data only, no behaviour.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Final

# -- vocabulary (FHIR-FACTS.md "AuditEvent / BALP codes") -----------------------------------

BALP_PROFILE_BASE: Final = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
"""BALP profile canonicals: ``IHE.BasicAudit.Create``, ``.PatientCreate``, ... (BALP 1.1)."""

AUDIT_EVENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION: Final = "http://hl7.org/fhir/restful-interaction"
DICOM: Final = "http://dicom.nema.org/resources/ontology/DCM"
OUTCOME_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"
ENTITY_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE: Final = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE: Final = "http://terminology.hl7.org/CodeSystem/security-source-type"
PARTICIPATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
BALP_ENTITY_TYPE: Final = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"

LEDGER_ENTRY_URL: Final = "urn:chartgate:fhir:extension:ledger-entry"
"""Our extension: sub-extensions ``origin``, ``seq``, ``leafHash``, ``eventType``,
``correlationId`` and ``proof`` (docs/audit-export.md)."""
EVENT_TYPE_SYSTEM: Final = "urn:chartgate:audit-event-type"
"""A second ``subtype`` coding: chartgate's own event type (``draft.approved`` ...)."""
DRAFT_SYSTEM: Final = "urn:chartgate:draft"
ORIGIN_SYSTEM: Final = "urn:chartgate:ledger-origin"
ACTOR_SYSTEM: Final = "urn:chartgate:actor"
PSEUDONYM_SYSTEM: Final = "urn:chartgate:patient-pseudonym"
"""Identifier system of the patient entity: the value is ``hmac-sha256:<hex>``."""

ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:chartgate:audit-event")
MAX_DETAIL_CHARS: Final = 200


class Interaction(StrEnum):
    """The RESTful interaction an event stands for (BALP's profile family)."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    SEARCH = "search-type"


ACTION: Final = {
    Interaction.CREATE: "C",
    Interaction.READ: "R",
    Interaction.UPDATE: "U",
    Interaction.DELETE: "D",
    Interaction.SEARCH: "E",  # BALP records a query as Execute
}
PROFILE: Final = {
    Interaction.CREATE: "Create",
    Interaction.READ: "Read",
    Interaction.UPDATE: "Update",
    Interaction.DELETE: "Delete",
    Interaction.SEARCH: "Query",
}


class Outcome(StrEnum):
    """``AuditEvent.outcome`` (http://hl7.org/fhir/R4/valueset-audit-event-outcome.html)."""

    SUCCESS = "0"
    MINOR = "4"  # refused or failed for a reason the caller can fix (user error, conflict)
    SERIOUS = "8"  # failed for a system reason (no answer, server error)
    MAJOR = "12"  # the integrity guard stopped the action


# chartgate event type -> the interaction it records. Write-back outcomes are decided by the
# write-back's kind (approve and amend create a document; finalize and retract update it).
BY_TYPE: Final[dict[str, Interaction]] = {
    "draft.received": Interaction.CREATE,
    "draft.viewed": Interaction.READ,
    "draft.validated": Interaction.READ,
    "draft.version_saved": Interaction.UPDATE,
    "draft.approved": Interaction.UPDATE,
    "draft.finalize_approved": Interaction.UPDATE,
    "draft.discarded": Interaction.UPDATE,
    "draft.amend_approved": Interaction.UPDATE,
    "draft.retract_approved": Interaction.UPDATE,
    "draft.rebased": Interaction.UPDATE,
    "writeback.queued": Interaction.CREATE,
    "audit.read": Interaction.SEARCH,
    "context.read": Interaction.READ,  # BALP PatientRead (issue 17)
    "context.query": Interaction.SEARCH,  # BALP PatientQuery
    "context.session_opened": Interaction.CREATE,
    "context.session_closed": Interaction.UPDATE,
    "consent.recorded": Interaction.CREATE,
    "retention.deleted": Interaction.DELETE,
}
BY_METHOD: Final = {
    "POST": Interaction.CREATE,
    "PUT": Interaction.UPDATE,
    "PATCH": Interaction.UPDATE,
    "GET": Interaction.READ,
    "DELETE": Interaction.DELETE,
}
BY_KIND: Final = {
    "approve": Interaction.CREATE,
    "amend": Interaction.CREATE,
    "finalize": Interaction.UPDATE,
    "retract": Interaction.UPDATE,
    "structured": Interaction.CREATE,
    "structured-retract": Interaction.UPDATE,
    "structured-update": Interaction.UPDATE,
}
OUTCOME_BY_TYPE: Final = {
    "writeback.conflict": Outcome.MINOR,
    "writeback.rejected": Outcome.MINOR,
    "writeback.retry_scheduled": Outcome.MINOR,
    "writeback.lease_lost": Outcome.MINOR,
    "writeback.ambiguous": Outcome.SERIOUS,
    "writeback.supersede_refused": Outcome.SERIOUS,
    "writeback.integrity_refused": Outcome.MAJOR,
    "writeback.escalated": Outcome.SERIOUS,
    "writeback.partial": Outcome.SERIOUS,
    "writeback.needs_person": Outcome.SERIOUS,
    "security.authn_failed": Outcome.MINOR,
    "security.authz_denied": Outcome.MINOR,
    "context.refused": Outcome.MINOR,
    "processor.disclosure_refused": Outcome.SERIOUS,
}

# Events that are not RESTful interactions: DICOM event type and subtype, no BALP profile.
# https://dicom.nema.org/medical/dicom/current/output/chtml/part16/sect_CID_400.html
DICOM_EVENTS: Final = {
    "security.authn_failed": (("110114", "User Authentication"), ("110122", "Login")),
    "security.authz_denied": (
        ("110113", "Security Alert"),
        ("110132", "Use of Restricted Function"),
    ),
    "policy.loaded": (("110113", "Security Alert"), ("110129", "Security Configuration")),
    "key.created": (("110113", "Security Alert"), ("110129", "Security Configuration")),
    "key.destroyed": (("110113", "Security Alert"), ("110129", "Security Configuration")),
    "retention.archived": (
        ("110100", "Application Activity"),
        ("110131", "Software Configuration"),
    ),
    # A disclosure (data leaving to another party) that the BAA registry stopped: DICOM Export.
    "processor.disclosure_refused": (("110106", "Export"), None),
    "compliance.access_review_signed": (
        ("110100", "Application Activity"),
        ("110131", "Software Configuration"),
    ),
}
APPLICATION_ACTIVITY: Final = (("110100", "Application Activity"), None)

# Event data copied into the data entity's ``detail``: ids, hashes, codes and counts only.
DETAIL_KEYS: Final = (
    "state",
    "kind",
    "version",
    "content_hash",
    "payload_hash",
    "policy_hash",
    "note_type",
    "model",
    "model_version",
    "prompt_template",
    "transcript_sha256",
    "method",
    "resource_type",
    "status",
    "resource_id",
    "version_id",
    "etag",
    "attempt",
    "acr",
    "amr",
    "auth_time",
    "ehr_resource",
    "ehr_version_id",
    "provenance",
    "class",
    "rule",
    "what",
    "results",
    "template",
    "purpose_of_use",
    "digest",
    "consent_digest",
    "processor",
    "destination",
    "baa_status",
    "period",
)

HUMAN_ROLES: Final = frozenset({"clinician", "admin", "auditor"})
