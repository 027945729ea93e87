# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Vendor profiles: what one EHR family supports for note write-back, as data.

Why data and not subclasses: the executor, the validator and the sandbox all ask the same
questions (may I send ``If-None-Exist``? which attachment MIME types? may a note be
``preliminary``?), and a frozen record answers them without a class per vendor. Small code hooks,
where a vendor needs one, live in their own module beside this one.

Sources: the FHIR R4 specification (http.html), US Core and the vendors' developer docs. Facts
marked *reported* come from third-party write-ups, and facts marked *unverified* are conservative
placeholders chosen by us; both must be confirmed against the tenant's own EHR before go-live.
``max_requests_per_second`` is our own pacing, never a vendor-published limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from chartgate.domain.writeback import CreateGuard

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["VENDORS", "AmendmentMode", "CreateGuard", "VendorProfile", "get_vendor"]


class AmendmentMode(StrEnum):
    """How a committed note is amended in this EHR."""

    REPLACES = "replaces"
    """POST a new DocumentReference with ``relatesTo = replaces`` (FHIR R4 DocumentReference)."""

    UPDATE = "update"
    """PUT the same DocumentReference (``docStatus = amended``) with ``If-Match``."""

    UNSUPPORTED = "unsupported"
    """No amendment over FHIR: a human amends in the EHR's own UI."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorProfile:
    """What one EHR family supports for write-back.

    ``content_types`` are the attachment MIME types the EHR accepts, preferred first;
    ``accepts_preliminary`` False means approve and finalize are one step-up-authenticated step
    (``ARCHITECTURE.md``); ``max_attachments`` None means no known limit.
    """

    name: str
    idempotent_create: CreateGuard
    """What the EHR offers to make a create safe to resend (docs/exactly-once.md, per profile)."""
    content_types: tuple[str, ...]
    requires_if_match: bool
    empty_body_by_default: bool
    accepts_preliminary: bool
    amendment_mode: AmendmentMode
    max_requests_per_second: float | None
    max_attachments: int | None = None
    marks_superseded: bool = False
    """After an amendment, may the replaced document be set to ``status = superseded``?"""

    def __post_init__(self) -> None:
        """Refuse a profile that could not describe a real EHR."""
        if not self.name:
            raise ValueError("a vendor profile needs a name")
        if not self.content_types:
            raise ValueError(f"vendor profile {self.name!r} accepts no content type")
        if self.max_requests_per_second is not None and self.max_requests_per_second <= 0:
            raise ValueError(f"vendor profile {self.name!r}: max_requests_per_second must be > 0")
        if self.max_attachments is not None and self.max_attachments < 1:
            raise ValueError(f"vendor profile {self.name!r}: max_attachments must be >= 1")

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


def _normalise_media_type(value: str) -> str:
    return ";".join(part.strip().lower() for part in value.split(";") if part.strip())


_PLAIN_UTF8 = "text/plain; charset=utf-8"

_GENERIC_R4 = VendorProfile(
    name="generic-r4",
    # FHIR R4 http.html: conditional create is part of the standard REST API.
    idempotent_create=CreateGuard.CONDITIONAL,
    # US Core asks servers to accept text/plain (UTF-8) and application/pdf.
    content_types=(_PLAIN_UTF8, "application/pdf"),
    # R4 http.html: a server MAY demand If-Match; we always send it on updates anyway.
    requires_if_match=False,
    empty_body_by_default=False,
    accepts_preliminary=True,
    amendment_mode=AmendmentMode.REPLACES,
    max_requests_per_second=None,
    # R4 DocumentReference.status: a replaced document becomes "superseded".
    marks_superseded=True,
)

VENDORS: Mapping[str, VendorProfile] = MappingProxyType(
    {
        profile.name: profile
        for profile in (
            _GENERIC_R4,
            # Our own FHIR sandbox (chartgate.sandbox): standard behaviour, plus Markdown. It
            # accepts client-assigned ids with If-None-Match: * (FHIR-FACTS "race-free
            # create"), the one create guard that holds under parallel requests.
            VendorProfile(
                name="sandbox",
                idempotent_create=CreateGuard.CLIENT_ID,
                content_types=(_PLAIN_UTF8, "text/markdown; charset=utf-8", "application/pdf"),
                requires_if_match=False,
                empty_body_by_default=False,
                accepts_preliminary=True,
                amendment_mode=AmendmentMode.REPLACES,
                max_requests_per_second=None,
                marks_superseded=True,
            ),
            VendorProfile(
                name="epic",
                # FHIR-FACTS: conditional create is unsupported on Epic, and it has no
                # PUT-create: nothing at the EHR guards a resend, so a create whose answer was
                # lost and that a search cannot find waits for a person.
                idempotent_create=CreateGuard.NONE,
                # FHIR-FACTS: Epic accepts only text/plain (base64), and only the first
                # attachment is saved.
                content_types=("text/plain",),
                max_attachments=1,
                requires_if_match=False,  # unverified
                # FHIR-FACTS: Epic answers with an empty body unless Prefer asks for one.
                empty_body_by_default=True,
                # FHIR-FACTS: preliminary = draft for clinician review, final = signed.
                accepts_preliminary=True,
                amendment_mode=AmendmentMode.REPLACES,  # unverified
                max_requests_per_second=5.0,
            ),
            VendorProfile(
                name="cerner",
                idempotent_create=CreateGuard.NONE,  # unverified
                # Reported (FHIR-FACTS): a MIME type *with* charset from Oracle's list is
                # required, and newer Oracle docs are said to allow XHTML only. Oracle's
                # Millennium "Create a document reference" page lists pdf, text/plain,
                # text/richtext, text/rtf, text/html, application/xml, application/xhtml+xml.
                # We keep the two that satisfy both readings' charset rule.
                content_types=("application/xhtml+xml; charset=utf-8", _PLAIN_UTF8),
                requires_if_match=False,  # unverified
                empty_body_by_default=False,  # unverified
                # FHIR-FACTS: create with docStatus final only (provider access).
                accepts_preliminary=False,
                amendment_mode=AmendmentMode.REPLACES,  # unverified
                max_requests_per_second=5.0,
            ),
            # athena, Veradigm and eClinicalWorks: FHIR-FACTS has no write-back facts yet, so
            # every value below is an unverified conservative default: no conditional create
            # (never rely on a guard we have not seen work), plain text only, preliminary
            # refused (approval then needs step-up, the safer reading).
            VendorProfile(
                name="athena",
                idempotent_create=CreateGuard.NONE,  # unverified
                content_types=(_PLAIN_UTF8,),  # unverified
                requires_if_match=False,  # unverified
                empty_body_by_default=False,  # unverified
                accepts_preliminary=False,  # unverified
                amendment_mode=AmendmentMode.REPLACES,  # unverified
                max_requests_per_second=5.0,
            ),
            VendorProfile(
                name="veradigm",
                idempotent_create=CreateGuard.NONE,  # unverified
                content_types=(_PLAIN_UTF8,),  # unverified
                requires_if_match=False,  # unverified
                empty_body_by_default=False,  # unverified
                accepts_preliminary=False,  # unverified
                amendment_mode=AmendmentMode.REPLACES,  # unverified
                max_requests_per_second=5.0,
            ),
            VendorProfile(
                name="eclinicalworks",
                idempotent_create=CreateGuard.NONE,  # unverified
                content_types=(_PLAIN_UTF8,),  # unverified
                requires_if_match=False,  # unverified
                empty_body_by_default=False,  # unverified
                accepts_preliminary=False,  # unverified
                amendment_mode=AmendmentMode.REPLACES,  # unverified
                max_requests_per_second=5.0,
            ),
        )
    }
)
"""Every known vendor profile by name (the ``vendor`` of a tenant's ``[tenants.ehr]``)."""


def get_vendor(name: str) -> VendorProfile:
    """Return the profile called ``name``.

    Raises ``ValueError`` naming the known profiles, so a misspelt tenant setting fails at
    start-up (settings validators turn it into a validation error) instead of at first write.
    """
    try:
        return VENDORS[name]
    except KeyError:
        known = ", ".join(sorted(VENDORS))
        raise ValueError(f"unknown EHR vendor profile {name!r}; known: {known}") from None
