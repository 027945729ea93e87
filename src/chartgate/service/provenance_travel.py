"""How a write-back's Provenance travels: as the tenant's vendor profile says.

``separate-create`` (the IG's "most widely supported approach"): the executor creates the
Provenance after the note, through the outcome table like the note itself. ``none``: the EHR
takes no Provenance; the executor keeps it, whole, in chartgate's ledger
(``writeback.provenance_kept``) and the note text carries a short attestation footer, added
at approval so it is part of the approved, hashed payload (``note_footer``). Transaction
Bundle and ``X-Provenance`` header: ``service/provenance_modes.py`` (no shipped profile
declares them; a tenant's settings may, ``EhrSettings.provenance_mode``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chartgate.domain.consent import sent_text_matches
from chartgate.domain.documents import attachment_text
from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM
from chartgate.domain.outcomes import Decision
from chartgate.domain.provenance import ProvenanceFacts, attestation_footer, build_provenance
from chartgate.domain.vendor_profile import ProvenanceMode, VendorProfile
from chartgate.service.ehr_channel import Ended, Stop

if TYPE_CHECKING:
    from chartgate.domain.drafts import Approval, Draft
    from chartgate.domain.submission import Origin
    from chartgate.domain.writeback import Writeback
    from chartgate.service.ports import JsonObject

__all__ = [
    "GATEWAY_VERSION",
    "SUPPORTED_MODES",
    "carries_approved_text",
    "note_footer",
    "provenance_of",
    "refuse_unsupported",
]

GATEWAY_VERSION = "0.1.0"

SUPPORTED_MODES = frozenset(ProvenanceMode)
"""The modes the executor carries out (all four since issue 13: ``service/provenance_modes``);
a mode added later is refused before anything is sent until the executor carries it out."""


def provenance_of(draft: Draft, approval: Approval, record: Writeback) -> JsonObject:
    """The AI-Provenance of what ``record`` wrote (its target: the version that landed)."""
    return build_provenance(
        ProvenanceFacts(
            writeback_id=record.id,
            target=f"{record.target_type}/{record.document_id}/_history/{record.document_version}",
            activity=record.kind.activity,
            recorded=approval.approved_at,
            clinician=str(approval.approver.fhir_user),
            origin=draft.origin,
            draft_id=draft.id,
            version=approval.version,
            content_hash=approval.content_hash,
            policy_hash=approval.policy_hash,
            gateway_version=GATEWAY_VERSION,
            revises=record.replaces,
            consent_digest=approval.consent_digest,
        )
    )


def note_footer(mode: ProvenanceMode, *, origin: Origin, writeback_id: str, version: int) -> str:
    """The attestation footer the note text carries where the EHR takes no Provenance, or ""."""
    if mode is not ProvenanceMode.NONE:
        return ""
    return attestation_footer(origin=origin, writeback_id=writeback_id, version=version)


def carries_approved_text(
    payload: JsonObject,
    *,
    note: str,
    origin: Origin,
    version: int,
    system_text_hash: str | None = None,
) -> bool:
    """True when the payload's note text is the approved text, with or without our footer.

    The footer is deterministic (``note_footer``): the write-back id on the document's
    identifier and the approved version, nothing else. Between the approved text and the
    footer only chartgate's own consent/disclosure text may stand, exactly the text whose
    hash the approval recorded (``domain/consent.sent_text_matches``, issue 17); any other
    difference is refused.
    """
    text = attachment_text(payload)
    if sent_text_matches(text, note, system_text_hash):
        return True
    marks = [
        i.get("value")
        for i in payload.get("identifier", [])
        if isinstance(i, dict) and i.get("system") == WRITEBACK_SYSTEM
    ]
    if len(marks) != 1:
        return False
    footer = attestation_footer(origin=origin, writeback_id=str(marks[0]), version=version)
    return text.endswith(footer) and sent_text_matches(text[: -len(footer)], note, system_text_hash)


def refuse_unsupported(profile: VendorProfile) -> None:
    """``Stop`` (a person looks) before anything is sent in a mode the executor cannot do."""
    if profile.provenance_mode not in SUPPORTED_MODES:
        reason = f"configuration: provenance mode {profile.provenance_mode.value} is not supported"
        raise Stop(Ended(Decision.NEEDS_PERSON, reason=reason))
