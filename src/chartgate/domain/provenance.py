"""The Provenance that travels with every write-back.

One Provenance per write, whose ``target`` is the version-specific document it describes:
the approving clinician as author and verifier, the AI model as a contained Device in the
assembler role (HL7 AI Transparency IG, AI-Provenance: the AI agent is a Device), chartgate
itself as transmitter, and entities for the draft version, the transcript hash and the
prompt template. ``policy`` records the write-back matrix's content hash.
See http://hl7.org/fhir/R4/provenance.html and FHIR-FACTS.md "Provenance codes".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chartgate.domain import fhir_codes as fc
from chartgate.domain.submission import Origin


@dataclass(frozen=True, slots=True)
class ProvenanceFacts:
    """What the Provenance asserts, all fixed at approval time."""

    writeback_id: str
    target: str  # "DocumentReference/<id>/_history/<vid>"
    activity: str  # CREATE | UPDATE
    recorded: datetime
    clinician: str  # fhirUser of the approving clinician
    origin: Origin
    draft_id: str
    version: int
    content_hash: str
    policy_hash: str
    gateway_version: str
    revises: str | None = None  # "DocumentReference/<id>" an amendment replaces


ACTIVITY_BY_KIND = {
    "approve": "CREATE",
    "amend": "CREATE",
    "finalize": "UPDATE",
    "retract": "NULLIFY",
}
"""v3-DataOperation code per write-back kind (NULLIFY: the act is now entered-in-error)."""


def build_provenance(facts: ProvenanceFacts) -> dict[str, Any]:
    """Build the Provenance JSON for one write (deterministic)."""
    resource = _provenance(facts)
    if facts.revises is not None:
        resource["entity"].append({"role": "revision", "what": {"reference": facts.revises}})
    return resource


def _provenance(facts: ProvenanceFacts) -> dict[str, Any]:
    model = facts.origin.model
    return {
        "resourceType": "Provenance",
        "meta": {
            "tag": [fc.coding(fc.WRITEBACK_SYSTEM, facts.writeback_id)],
            "security": fc.ai_security_labels(),
        },
        "contained": [
            {
                "resourceType": "Device",
                "id": "ai-model",
                "identifier": [
                    {"system": fc.MODEL_SYSTEM, "value": f"{model.name}|{model.version}"}
                ],
                "deviceName": [{"name": model.name, "type": "model-name"}],
                "version": [{"value": model.version}],
                "type": {"text": "Artificial-Intelligence"},
            },
            {
                "resourceType": "Device",
                "id": "gateway",
                "deviceName": [{"name": "chartgate", "type": "manufacturer-name"}],
                "version": [{"value": facts.gateway_version}],
            },
        ],
        "target": [{"reference": facts.target}],
        "recorded": facts.recorded.isoformat().replace("+00:00", "Z"),
        "policy": [fc.POLICY_URI_PREFIX + facts.policy_hash],
        "activity": fc.concept(fc.DATA_OPERATION, facts.activity),
        "agent": [
            {
                "type": fc.concept(fc.PARTICIPANT_TYPE, "author", "Author"),
                "who": {"reference": facts.clinician},
            },
            {
                "type": fc.concept(fc.PARTICIPANT_TYPE, "verifier", "Verifier"),
                "who": {"reference": facts.clinician},
            },
            {
                "type": fc.concept(fc.PARTICIPANT_TYPE, "assembler", "Assembler"),
                "role": [{"text": "Artificial-Intelligence"}],
                "who": {"reference": "#ai-model", "display": f"{model.name} {model.version}"},
            },
            {
                "type": fc.concept(fc.US_CORE_PARTICIPANT_TYPE, "transmitter", "Transmitter"),
                "who": {"reference": "#gateway", "display": "chartgate"},
            },
        ],
        "entity": [
            {
                "role": "derivation",
                "what": {
                    "identifier": {
                        "system": fc.DRAFT_VERSION_SYSTEM,
                        "value": f"{facts.draft_id}/v{facts.version}",
                    },
                    "display": f"approved draft version {facts.version} ({facts.content_hash})",
                },
            },
            {
                "role": "source",
                "what": {
                    "identifier": {
                        "system": fc.TRANSCRIPT_SYSTEM,
                        "value": facts.origin.transcript_sha256,
                    },
                    "display": "visit transcript (hash only)",
                },
            },
            {
                "role": "derivation",
                "what": {
                    "identifier": {
                        "system": fc.PROMPT_TEMPLATE_SYSTEM,
                        "value": facts.origin.prompt_template,
                    },
                    "display": "prompt template",
                },
            },
        ],
    }


def provenance_tag_query(writeback_id: str) -> str:
    """The search that finds this write-back's Provenance (reconciliation, If-None-Exist)."""
    return f"_tag={fc.WRITEBACK_SYSTEM}|{writeback_id}"
