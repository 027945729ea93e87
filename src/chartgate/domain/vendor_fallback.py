"""The fail-safe vendor profile, and the source phrases every profile shares.

Why its own module: for a vendor we hold no write-back facts for (athenaOne, Veradigm,
eClinicalWorks, AdvancedMD) every value is the guess that fails safe: no create guard, no
Provenance the EHR may refuse, final-only notes, a low request rate. ``domain/vendors.py``
names the vendors that get it.
"""

from __future__ import annotations

from types import MappingProxyType

from chartgate.domain.vendor_errors import VendorErrorTable
from chartgate.domain.vendor_profile import (
    AmendmentMode,
    AuthenticatorRouting,
    ProvenanceMode,
    RateLimit,
    VendorProfile,
)
from chartgate.domain.writeback import CreateGuard

__all__ = [
    "NOTE_ONLY",
    "NOT_APPLICABLE",
    "NO_CODES",
    "NO_ELEMENTS",
    "NO_PROVENANCE",
    "PLAIN",
    "RATE_DEFAULT",
    "UNVERIFIED_ID_SEARCH",
    "conservative",
]

PLAIN = "text/plain; charset=utf-8"
NOTE_ONLY = frozenset({"DocumentReference"})
NO_CODES = VendorErrorTable()
NO_ELEMENTS = "unverified: _elements not relied on; whole Patient/Encounter read"
RATE_DEFAULT = "unverified: no published limit; our conservative default"
UNVERIFIED_ID_SEARCH = "unverified: confirm that identifier search finds our note"
NO_PROVENANCE = "unverified: no documented Provenance create; kept in the ledger instead"
NOT_APPLICABLE = "not applicable: no Provenance is written"


def conservative(name: str, title: str) -> VendorProfile:
    """A vendor we have no write-back facts for: every value the fail-safe guess."""
    unverified = "unverified: conservative default"
    return VendorProfile(
        name=name,
        title=title,
        writable_types=NOTE_ONLY,
        content_types=(PLAIN,),
        max_attachments=1,
        max_note_bytes=None,
        accepts_preliminary=False,
        provenance_mode=ProvenanceMode.NONE,
        idempotent_create=CreateGuard.NONE,
        requires_if_match=True,
        identifier_search=True,
        tag_search=False,
        amendment_mode=AmendmentMode.REPLACES,
        marks_superseded=False,
        authenticator=AuthenticatorRouting.ON_FINAL,
        documentable_encounter_statuses=frozenset({"in-progress", "finished"}),
        elements_search=False,
        max_transaction_entries=None,
        rate_limit=RateLimit(requests_per_second=5.0, burst=5),
        errors=NO_CODES,
        sources=MappingProxyType(
            {
                "writable_types": f"{unverified}: notes only",
                "content_types": f"{unverified}: plain text",
                "max_attachments": f"{unverified}: one attachment",
                "max_note_bytes": "unverified: no documented limit",
                "accepts_preliminary": f"{unverified}: final only (approval needs step-up)",
                "provenance_mode": NO_PROVENANCE,
                "idempotent_create": f"{unverified}: no create guard relied on",
                "requires_if_match": f"{unverified}: always sent anyway",
                "identifier_search": UNVERIFIED_ID_SEARCH,
                "tag_search": NOT_APPLICABLE,
                "amendment_mode": f"{unverified}: relatesTo replaces",
                "marks_superseded": f"{unverified}: the replaced note is left alone",
                "authenticator": f"{unverified}: US Core reading",
                "documentable_encounter_statuses": f"{unverified}: in-progress or finished",
                "elements_search": NO_ELEMENTS,
                "max_transaction_entries": NOT_APPLICABLE,
                "rate_limit": RATE_DEFAULT,
                "errors": "unverified: no published error codes",
            }
        ),
    )
