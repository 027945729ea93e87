"""The last check before a write-back sends anything: it is exactly what was approved.

The payload must hash to what was stored at approval, the approved version must still hash
to what the clinician approved, and the note text in the payload must be that version's text
(with, where the EHR takes no Provenance, chartgate's own deterministic attestation footer:
``service/provenance_travel.py``). Anything else is refused and recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chartgate.domain.events import EventType
from chartgate.domain.hashing import content_hash
from chartgate.domain.outcomes import Decision
from chartgate.service.ehr_channel import EhrChannel, Ended, Stop
from chartgate.service.provenance_travel import carries_approved_text

if TYPE_CHECKING:
    from chartgate.domain.drafts import Approval, Draft
    from chartgate.domain.writeback import Writeback

__all__ = ["check_integrity"]


def check_integrity(
    channel: EhrChannel, draft: Draft, approval: Approval, record: Writeback
) -> None:
    """Refuse to send anything that differs from what the clinician approved."""
    version = draft.version(approval.version)
    payload_ok = content_hash(record.payload) == record.payload_hash
    version_ok = version.content_hash == approval.content_hash
    text_ok = carries_approved_text(
        record.payload,
        note=version.content.note.text,
        origin=draft.origin,
        version=approval.version,
        system_text_hash=approval.system_text_hash,
    )
    if not (payload_ok and version_ok and text_ok):
        channel.event(
            draft,
            record,
            EventType.INTEGRITY_REFUSED,
            {
                "payload_hash_ok": payload_ok,
                "version_hash_ok": version_ok,
                "text_matches_approved": text_ok,
            },
        )
        if record.document_landed:
            # Never the note itself: what is in the chart stays; nothing more is sent.
            raise Stop(Ended(Decision.NEEDS_PERSON, reason="integrity: payload changed"))
        raise Stop(Ended(Decision.REJECT, reason="integrity: payload differs from approval"))
