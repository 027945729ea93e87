"""The Provenance that travels with every write-back, shaped as the IG's AI-Provenance.

HL7 AI Transparency on FHIR as reconciled (https://build.fhir.org/ig/HL7/aitransparency-ig/,
profile ``AI-Provenance``; "created by AI, verified by a human"). One Provenance per write:

- ``target``: the version-specific document it describes;
- ``reason``: ``v3-ObservationValue#AIAST`` (slice AIReason), and ``meta.security`` ``AIAST``;
- ``agent``: the scribe model as a contained AI-Device (``type`` author, ``role``
  ``AIdeviceTypeCS#Artificial-Intelligence``: slice AIagent); the approving clinician as
  verifier and as author of the note; chartgate as US Core transmitter;
- ``entity``: the approved draft version, the transcript (hash only), the input prompt as a
  *reference* to the prompt template (role derivation, slice inputPrompt) and, when known,
  the model card (slice modelCard). Never the rendered prompt: it embeds PHI.

``meta.tag`` carries the write-back id: the executor finds its own Provenance by it, so it
stays exactly as it is. ``policy`` records the write-back matrix's content hash.
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
    consent_digest: str | None = None  # the encounter's consent record (issue 17), hash only
    model_card: str | None = None  # reference to the model's AI-ModelCard DocumentReference


ACTIVITY_BY_KIND = {
    "approve": "CREATE",
    "amend": "CREATE",
    "finalize": "UPDATE",
    "retract": "NULLIFY",
    "structured": "CREATE",
    "structured-retract": "NULLIFY",
    "structured-update": "UPDATE",
}
"""v3-DataOperation code per write-back kind (NULLIFY: the act is now entered-in-error)."""


def build_provenance(facts: ProvenanceFacts) -> dict[str, Any]:
    """Build the Provenance JSON for one write (deterministic)."""
    resource = _provenance(facts)
    if facts.revises is not None:
        resource["entity"].append({"role": "revision", "what": {"reference": facts.revises}})
    return resource


def _provenance(facts: ProvenanceFacts) -> dict[str, Any]:
    return {
        "resourceType": "Provenance",
        "meta": {
            "profile": [fc.AI_PROVENANCE_PROFILE],
            "tag": [fc.coding(fc.WRITEBACK_SYSTEM, facts.writeback_id)],
            "security": fc.ai_security_labels(),
        },
        "contained": [
            _ai_device(facts),
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
        "reason": [fc.concept(fc.V3_OBSERVATION_VALUE, fc.AI_ASSERTED, fc.AI_ASSERTED_DISPLAY)],
        "activity": fc.concept(fc.DATA_OPERATION, facts.activity),
        "agent": [
            {
                # AIagent: "type" is how the AI was used (it drafted the note).
                "type": fc.concept(fc.PARTICIPANT_TYPE, "author", "Author"),
                "role": [fc.concept(fc.AI_DEVICE_TYPE, fc.ARTIFICIAL_INTELLIGENCE)],
                "who": {
                    "reference": f"#{AI_DEVICE_ID}",
                    "display": f"{facts.origin.model.name} {facts.origin.model.version}",
                },
            },
            {
                "type": fc.concept(fc.PARTICIPANT_TYPE, "verifier", "Verifier"),
                "who": {"reference": facts.clinician},
            },
            {
                "type": fc.concept(fc.PARTICIPANT_TYPE, "author", "Author"),
                "who": {"reference": facts.clinician},
            },
            {
                "type": fc.concept(fc.US_CORE_PARTICIPANT_TYPE, "transmitter", "Transmitter"),
                "who": {"reference": "#gateway", "display": "chartgate"},
            },
        ],
        "entity": _entities(facts),
    }


AI_DEVICE_ID = "ai-model"
"""The contained AI-Device's id (the AIagent's ``who`` is ``#ai-model``)."""


def _ai_device(facts: ProvenanceFacts) -> dict[str, Any]:
    """The scribe model as an AI-Device: type Artificial-Intelligence, AIKind an LLM."""
    model = facts.origin.model
    extensions: list[dict[str, Any]] = [
        {
            "url": fc.AI_KIND_EXTENSION,
            "valueCodeableConcept": fc.concept(fc.AI_DEVICE_TYPE, fc.LARGE_LANGUAGE_MODELS),
        }
    ]
    if facts.model_card is not None:
        extensions.append(
            {"url": fc.MODEL_CARD_EXTENSION, "valueReference": {"reference": facts.model_card}}
        )
    return {
        "resourceType": "Device",
        "id": AI_DEVICE_ID,
        "meta": {"profile": [fc.AI_DEVICE_PROFILE]},
        "extension": extensions,
        "identifier": [{"system": fc.MODEL_SYSTEM, "value": f"{model.name}|{model.version}"}],
        "deviceName": [{"name": model.name, "type": "model-name"}],
        "type": fc.concept(fc.AI_DEVICE_TYPE, fc.ARTIFICIAL_INTELLIGENCE),
        "version": [{"value": model.version}],
    }


def _entities(facts: ProvenanceFacts) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = [
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
            # inputPrompt: a logical reference to the template, never the rendered prompt.
            "role": "derivation",
            "what": {
                "type": "DocumentReference",
                "identifier": {
                    "system": fc.PROMPT_TEMPLATE_SYSTEM,
                    "value": facts.origin.prompt_template,
                },
                "display": "input prompt template",
            },
        },
    ]
    if facts.model_card is not None:
        entities.append({"role": "derivation", "what": {"reference": facts.model_card}})
    if facts.consent_digest is not None:
        entities.append(
            {
                "role": "source",
                "what": {
                    "identifier": {"system": fc.CONSENT_SYSTEM, "value": facts.consent_digest},
                    "display": "consent to ambient documentation (record hash only)",
                },
            }
        )
    return entities


def provenance_tag_query(writeback_id: str) -> str:
    """The search that finds this write-back's Provenance (reconciliation, If-None-Exist)."""
    return f"_tag={fc.WRITEBACK_SYSTEM}|{writeback_id}"


def attestation_footer(*, origin: Origin, writeback_id: str, version: int) -> str:
    """The short footer put into the note text where the EHR takes no Provenance.

    For profiles with ``ProvenanceMode.NONE`` (``domain/vendor_profile.py``): the full
    Provenance stays in chartgate's ledger, and the reader of the chart still learns that AI
    drafted the note and a clinician verified it, and where to look. Ids and the model only:
    no PHI. It is part of the approved text, so the clinician sees it before approving.
    """
    model = origin.model
    return (
        "\n\n--\n"
        f"Drafted with AI ({model.name} {model.version}); reviewed and approved by the"
        " signing clinician. Provenance: chartgate write-back"
        f" {writeback_id}, draft version {version}."
    )
