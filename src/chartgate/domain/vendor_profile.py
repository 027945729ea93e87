"""What one EHR family supports for write-back, as a frozen record the code obeys.

Why in the domain: the executor, the approval handlers, the validator and the gateway all ask
the same questions (may I send ``If-None-Exist``? which attachment type? may a note be
``preliminary``? how does the Provenance travel?), and a pure record answers them without a
class per vendor. The records themselves (the facts, each with its source) live in
``adapters/ehr/vendors.py``; ``EhrDirectory.profile(tenant)`` hands a tenant's one to the
service layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from chartgate.domain.vendor_errors import VendorErrorTable
from chartgate.domain.writeback import CreateGuard

__all__ = [
    "AmendmentMode",
    "AuthenticatorRouting",
    "ProvenanceMode",
    "RateLimit",
    "VendorProfile",
    "profile_fields",
]


class AmendmentMode(StrEnum):
    """How a committed note is amended in this EHR."""

    REPLACES = "replaces"
    """POST a new DocumentReference with ``relatesTo = replaces`` (FHIR R4 DocumentReference)."""

    UPDATE = "update"
    """PUT the same DocumentReference (``docStatus = amended``) with ``If-Match``."""

    NEW_NOTE_ONLY = "new-note-only"
    """Every API write makes a new document and links are not kept (athenaPractice "API
    Update"): an amendment is a new note; the old one is corrected in the EHR's own UI."""


class ProvenanceMode(StrEnum):
    """How the Provenance of a written note reaches the EHR (FHIR-FACTS, AI Transparency IG)."""

    SEPARATE = "separate-create"
    """Create the note, then the Provenance: "the most widely supported approach"."""

    TRANSACTION = "transaction-bundle"
    """One transaction Bundle holding the note and its Provenance: atomic."""

    HEADER = "x-provenance-header"
    """The Provenance rides in the ``X-Provenance`` header of the note's create
    (https://hl7.org/fhir/R4/provenance.html#header); not widely implemented."""

    NONE = "none"
    """The EHR takes no Provenance: it stays in chartgate's ledger, and a short attestation
    footer (``domain.provenance.attestation_footer``) goes into the note text."""


class AuthenticatorRouting(StrEnum):
    """What ``DocumentReference.authenticator`` means to this EHR."""

    ON_FINAL = "on-final"
    """US Core reading: the signer, present only once ``docStatus`` is ``final``."""

    ROUTES_FOR_SIGNING = "routes-for-signing"
    """Sent on every create: the EHR routes the new document to this Practitioner for
    signature (athenaPractice; the Practitioner must be allowed to sign that type)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """Outbound pacing for one tenant's EHR: a token bucket shared by all its workers."""

    requests_per_second: float
    burst: int = 1
    published: bool = False
    """True when the vendor publishes the number; False: our conservative default."""

    def __post_init__(self) -> None:
        """Refuse a bucket that could never hand out a token."""
        if self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be > 0")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorProfile:
    """What one EHR family supports for write-back; every field is read by chartgate.

    ``sources`` names, per field, where the fact comes from ("unverified: …" when it is our
    conservative guess); a profile without a source for some field is refused.
    """

    name: str
    title: str
    writable_types: frozenset[str]
    """Resource types chartgate may create or update there (the gateway refuses others)."""
    content_types: tuple[str, ...]
    """Attachment MIME types the EHR takes for a note, preferred first."""
    max_attachments: int | None
    """Content elements kept per DocumentReference (None: no known limit)."""
    max_note_bytes: int | None
    """Largest note attachment the EHR takes, in bytes (None: no known limit)."""
    accepts_preliminary: bool
    """False: notes can only be written signed (``final``); approve and finalize are one
    step-up-authenticated act."""
    provenance_mode: ProvenanceMode
    idempotent_create: CreateGuard
    """What the EHR offers to make a create safe to resend (docs/exactly-once.md)."""
    requires_if_match: bool
    """The EHR answers 400 to an update without ``If-Match`` (R4 allows it to)."""
    identifier_search: bool
    """``DocumentReference?identifier=`` works: reconciliation can find our note."""
    tag_search: bool
    """``Provenance?_tag=`` works: reconciliation can find our Provenance."""
    amendment_mode: AmendmentMode
    marks_superseded: bool
    """After an amendment, the replaced document may be set to ``status = superseded``."""
    authenticator: AuthenticatorRouting
    documentable_encounter_statuses: frozenset[str]
    """Encounter statuses the EHR takes documentation for; others refuse approval
    (``domain/patient_context.py``)."""
    elements_search: bool
    """``_id`` search with ``_elements`` works: Patient and Encounter are read minimally."""
    max_transaction_entries: int | None
    """Entries one transaction Bundle may hold (None: no known limit). In
    ``transaction-bundle`` mode the note's Bundle carries only the structured resources that
    fit; the rest follow it one by one (``service/structured_writes.carried_parts``)."""
    rate_limit: RateLimit
    errors: VendorErrorTable
    sources: Mapping[str, str]

    def __post_init__(self) -> None:
        """Refuse a profile that could not describe a real EHR, or has an unsourced fact."""
        if not self.name or not self.title:
            raise ValueError("a vendor profile needs a name and a title")
        if not self.content_types:
            raise ValueError(f"vendor profile {self.name!r} accepts no content type")
        if "DocumentReference" not in self.writable_types:
            raise ValueError(f"vendor profile {self.name!r} cannot take notes")
        if self.provenance_mode is not ProvenanceMode.NONE and (
            "Provenance" not in self.writable_types
        ):
            raise ValueError(f"vendor profile {self.name!r} sends Provenance it cannot write")
        if self.max_attachments is not None and self.max_attachments < 1:
            raise ValueError(f"vendor profile {self.name!r}: max_attachments must be >= 1")
        if not self.documentable_encounter_statuses:
            raise ValueError(f"vendor profile {self.name!r} documents no encounter status")
        if self.max_note_bytes is not None and self.max_note_bytes < 1:
            raise ValueError(f"vendor profile {self.name!r}: max_note_bytes must be >= 1")
        facts = set(profile_fields())
        missing, unknown = facts - set(self.sources), set(self.sources) - facts
        if missing or unknown:
            raise ValueError(
                f"vendor profile {self.name!r}: sources missing for {sorted(missing)},"
                f" unknown {sorted(unknown)}"
            )

    @property
    def supports_conditional_create(self) -> bool:
        """Whether the EHR honours ``If-None-Exist``."""
        return self.idempotent_create is CreateGuard.CONDITIONAL

    def accepts_content_type(self, content_type: str) -> bool:
        """True when the attachment MIME type (parameters included) is one this EHR accepts.

        Compared case-insensitively and ignoring blanks around ``;`` (RFC 9110 §8.3.1), so
        ``text/plain;charset=UTF-8`` matches ``text/plain; charset=utf-8``.
        """
        wanted = _normalise_media_type(content_type)
        return any(_normalise_media_type(known) == wanted for known in self.content_types)

    def note_media_type(self, requested: str) -> str:
        """The media type (no parameters) a note of type ``requested`` is sent as.

        The requested one when the EHR takes it, else the profile's preferred type; the
        conversion is lossless (``domain/note_content.py``).
        """
        wanted = _base(requested)
        bases = [_base(known) for known in self.content_types]
        return wanted if wanted in bases else bases[0]

    def unverified(self) -> tuple[str, ...]:
        """The fields whose source says they are not verified against the vendor."""
        return tuple(k for k, v in self.sources.items() if v.lower().startswith("unverified"))


def profile_fields() -> tuple[str, ...]:
    """The facts a profile states (every field except ``name``, ``title`` and ``sources``)."""
    return tuple(
        f.name
        for f in dataclasses.fields(VendorProfile)
        if f.name not in {"name", "title", "sources"}
    )


def _base(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _normalise_media_type(value: str) -> str:
    return ";".join(part.strip().lower() for part in value.split(";") if part.strip())
