# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The vendor profiles: what each EHR family supports for note write-back, with sources.

The record type and its enums are in ``domain/vendor_profile.py``; this module holds the facts.
Every fact names its source in ``sources``: the FHIR specification, a vendor's developer
documentation, or a third-party report ("reported"). A value starting with "unverified" is our
conservative guess and must be confirmed against the tenant's own EHR before go-live; where we
guess, we guess the way that fails safe (no create guard we have not seen work, no Provenance
the EHR may refuse, final-only notes, a low request rate). ``chartgate vendors`` prints the
matrix, and ``docs/vendors.md`` explains each column.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from chartgate.domain.vendor_errors import VendorErrorClass, VendorErrorTable
from chartgate.domain.vendor_fallback import (
    NO_CODES,
    NO_ELEMENTS,
    NO_PROVENANCE,
    NOT_APPLICABLE,
    NOTE_ONLY,
    PLAIN,
    RATE_DEFAULT,
    UNVERIFIED_ID_SEARCH,
    conservative,
)
from chartgate.domain.vendor_profile import (
    AmendmentMode,
    AuthenticatorRouting,
    ProvenanceMode,
    RateLimit,
    VendorProfile,
)
from chartgate.domain.writeback import CreateGuard

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ALIASES",
    "VENDORS",
    "AmendmentMode",
    "CreateGuard",
    "ProvenanceMode",
    "VendorProfile",
    "get_vendor",
    "resolve_vendor_name",
]

_MARKDOWN = "text/markdown; charset=utf-8"
_NOTE_AND_PROVENANCE = frozenset({"DocumentReference", "Provenance"})
_STANDARD_TYPES = frozenset(
    {
        "DocumentReference",
        "Provenance",
        "Composition",
        "Condition",
        "AllergyIntolerance",
        "Observation",
        "MedicationRequest",
    }
)
# FHIR R4 Encounter.status: documentation during and after the visit, never on a planned,
# cancelled or entered-in-error one.
_DOCUMENTABLE = frozenset({"arrived", "triaged", "in-progress", "onleave", "finished"})
_DOCUMENTABLE_SRC = "FHIR R4 Encounter.status (during and after the visit)"
_ELEMENTS_SRC = "FHIR R4 search.html#elements"

_R4 = "FHIR R4 http.html"
_US_CORE_SIZE = "US Core: servers accept inline attachments of at least 5 MiB"
_IG_SEPARATE = 'AI Transparency IG: separate creates, target first, "most widely supported"'

_EPIC_ERRORS = VendorErrorTable(
    # FHIR-FACTS "Epic error codes seen" (third-party sandbox reports). 59109 (unsupported or
    # ignored element) is informational and 4101/59011/59013 belong to $match: not here.
    codes=MappingProxyType(
        {
            "59108": VendorErrorClass.REJECT,  # required element missing
            "59111": VendorErrorClass.REJECT,  # required element invalid
            "59012": VendorErrorClass.REJECT,  # 422: unaccepted modifier value
            "59141": VendorErrorClass.DUPLICATE,  # duplicate record
            "59189": VendorErrorClass.DUPLICATE,  # reading already exists
        }
    ),
    empty_forbidden=VendorErrorClass.CONFIGURATION,  # 403 + empty body: API not registered
)


_PROFILES: tuple[VendorProfile, ...] = (
    VendorProfile(
        name="generic-r4",
        title="FHIR R4 server following US Core clinical notes",
        writable_types=_STANDARD_TYPES,
        content_types=(PLAIN, "application/pdf"),
        max_attachments=None,
        max_note_bytes=5 * 1024 * 1024,
        accepts_preliminary=True,
        provenance_mode=ProvenanceMode.SEPARATE,
        idempotent_create=CreateGuard.CONDITIONAL,
        requires_if_match=False,
        identifier_search=True,
        tag_search=True,
        amendment_mode=AmendmentMode.REPLACES,
        marks_superseded=True,
        authenticator=AuthenticatorRouting.ON_FINAL,
        documentable_encounter_statuses=_DOCUMENTABLE,
        max_transaction_entries=None,
        elements_search=True,
        rate_limit=RateLimit(requests_per_second=10.0, burst=10),
        errors=NO_CODES,
        sources=MappingProxyType(
            {
                "writable_types": "US Core; confirm against the server's CapabilityStatement",
                "content_types": "US Core: servers accept text/plain (UTF-8) and application/pdf",
                "max_attachments": "FHIR R4 DocumentReference.content 1..*",
                "max_note_bytes": _US_CORE_SIZE,
                "accepts_preliminary": "FHIR R4 DocumentReference.docStatus",
                "provenance_mode": _IG_SEPARATE,
                "idempotent_create": f"{_R4}: conditional create",
                "requires_if_match": f"{_R4}: a server MAY demand If-Match; always sent anyway",
                "identifier_search": "FHIR R4 DocumentReference search parameter identifier",
                "tag_search": "FHIR R4 search parameter _tag",
                "amendment_mode": "FHIR R4 DocumentReference.relatesTo replaces",
                "marks_superseded": "FHIR R4 DocumentReference.status superseded",
                "authenticator": "US Core DocumentReference",
                "documentable_encounter_statuses": _DOCUMENTABLE_SRC,
                "elements_search": _ELEMENTS_SRC,
                "max_transaction_entries": (
                    "FHIR R4 http.html#transaction: no limit; confirm the server's"
                ),
                "rate_limit": RATE_DEFAULT,
                "errors": "none beyond the HTTP status (FHIR R4 http.html)",
            }
        ),
    ),
    VendorProfile(
        name="medplum",
        title="Medplum (FHIR R4; chartgate's reference test EHR)",
        writable_types=_STANDARD_TYPES,
        content_types=(PLAIN, _MARKDOWN, "application/pdf"),
        max_attachments=None,
        max_note_bytes=5 * 1024 * 1024,
        accepts_preliminary=True,
        provenance_mode=ProvenanceMode.SEPARATE,
        idempotent_create=CreateGuard.CONDITIONAL,
        requires_if_match=False,
        identifier_search=True,
        tag_search=True,
        amendment_mode=AmendmentMode.REPLACES,
        marks_superseded=True,
        authenticator=AuthenticatorRouting.ON_FINAL,
        documentable_encounter_statuses=_DOCUMENTABLE,
        max_transaction_entries=8,
        elements_search=True,
        rate_limit=RateLimit(requests_per_second=10.0, burst=10),
        errors=NO_CODES,
        sources=MappingProxyType(
            {
                "writable_types": "Medplum stores every R4 type (tests/integration)",
                "content_types": "Medplum stores any attachment type (tests/integration)",
                "max_attachments": "FHIR R4 DocumentReference.content 1..*",
                "max_note_bytes": _US_CORE_SIZE,
                "accepts_preliminary": "FHIR R4 DocumentReference.docStatus",
                "provenance_mode": _IG_SEPARATE,
                "idempotent_create": (
                    "FHIR-FACTS: If-None-Exist, not race-safe on the old SDK path; one lease"
                    " holder per write-back never sends two at once"
                ),
                "requires_if_match": "Medplum accepts updates without If-Match (tests)",
                "identifier_search": "Medplum search (tests/integration)",
                "tag_search": "Medplum search (tests/integration)",
                "amendment_mode": "FHIR R4 DocumentReference.relatesTo replaces",
                "marks_superseded": "FHIR R4 DocumentReference.status superseded",
                "authenticator": "US Core DocumentReference",
                "documentable_encounter_statuses": _DOCUMENTABLE_SRC,
                "elements_search": "Medplum search (tests/integration)",
                "max_transaction_entries": (
                    "Medplum fhir-router 4.5.2: 8 entries when any is conditional"
                    " ('strict isolation')"
                ),
                "rate_limit": (
                    "unverified base rate (our default); Medplum charges quota points (100 per"
                    " write, 1 per read) and reports them in the RateLimit header, which"
                    " chartgate honours (FHIR-FACTS)"
                ),
                "errors": "none beyond the HTTP status and OperationOutcome",
            }
        ),
    ),
    VendorProfile(
        name="sandbox",
        title="chartgate's own test and demo EHR (chartgate sandbox)",
        writable_types=_STANDARD_TYPES,
        content_types=(PLAIN, _MARKDOWN, "application/pdf"),
        max_attachments=None,
        max_note_bytes=16 * 1024 * 1024,
        accepts_preliminary=True,
        provenance_mode=ProvenanceMode.SEPARATE,
        idempotent_create=CreateGuard.CLIENT_ID,
        requires_if_match=False,
        identifier_search=True,
        tag_search=True,
        amendment_mode=AmendmentMode.REPLACES,
        marks_superseded=True,
        authenticator=AuthenticatorRouting.ON_FINAL,
        documentable_encounter_statuses=_DOCUMENTABLE,
        max_transaction_entries=100,
        elements_search=True,
        rate_limit=RateLimit(requests_per_second=50.0, burst=50),
        errors=NO_CODES,
        sources=MappingProxyType(
            {
                "writable_types": "chartgate.sandbox.fhir RESOURCE_TYPES",
                "content_types": "chartgate.sandbox (generic-r4 behaviour takes any type)",
                "max_attachments": "chartgate.sandbox keeps every attachment",
                "max_note_bytes": "chartgate.sandbox MAX_BODY_BYTES",
                "accepts_preliminary": "chartgate.sandbox",
                "provenance_mode": _IG_SEPARATE,
                "idempotent_create": (
                    "FHIR-FACTS race-free create: PUT with If-None-Match: * (chartgate.sandbox)"
                ),
                "requires_if_match": "chartgate.sandbox (generic-r4 behaviour)",
                "identifier_search": "chartgate.sandbox search",
                "tag_search": "chartgate.sandbox search",
                "amendment_mode": "FHIR R4 DocumentReference.relatesTo replaces",
                "marks_superseded": "FHIR R4 DocumentReference.status superseded",
                "authenticator": "US Core DocumentReference",
                "documentable_encounter_statuses": _DOCUMENTABLE_SRC,
                "elements_search": "chartgate.sandbox search",
                "max_transaction_entries": "chartgate.sandbox.transactions MAX_ENTRIES",
                "rate_limit": (
                    "ours: a local test server takes whatever it is sent; a test that needs a"
                    " limit sets rate_limit_per_second"
                ),
                "errors": "none beyond the HTTP status and OperationOutcome",
            }
        ),
    ),
    VendorProfile(
        name="epic",
        title="Epic (FHIR R4, Clinical Notes)",
        writable_types=_NOTE_AND_PROVENANCE,
        content_types=("text/plain",),
        max_attachments=1,
        max_note_bytes=None,
        accepts_preliminary=True,
        provenance_mode=ProvenanceMode.SEPARATE,
        idempotent_create=CreateGuard.NONE,
        requires_if_match=False,
        identifier_search=True,
        tag_search=True,
        amendment_mode=AmendmentMode.REPLACES,
        marks_superseded=False,
        authenticator=AuthenticatorRouting.ON_FINAL,
        documentable_encounter_statuses=_DOCUMENTABLE,
        max_transaction_entries=None,
        elements_search=False,
        rate_limit=RateLimit(requests_per_second=5.0, burst=5),
        errors=_EPIC_ERRORS,
        sources=MappingProxyType(
            {
                "writable_types": (
                    "FHIR-FACTS: Clinical Notes create; Provenance create unverified (a refusal"
                    " shows as a partial write-back)"
                ),
                "content_types": "FHIR-FACTS: Epic accepts only text/plain (base64)",
                "max_attachments": "FHIR-FACTS: only the first attachment is saved",
                "max_note_bytes": "unverified: no documented limit",
                "accepts_preliminary": (
                    "FHIR-FACTS: preliminary = draft for clinician review, final = signed"
                ),
                "provenance_mode": f"unverified: {_IG_SEPARATE}",
                "idempotent_create": (
                    "FHIR-FACTS: conditional create unsupported on Epic, no PUT-create"
                ),
                "requires_if_match": "unverified: always sent anyway",
                "identifier_search": UNVERIFIED_ID_SEARCH,
                "tag_search": "unverified: confirm that meta.tag survives and is searchable",
                "amendment_mode": "unverified: relatesTo replaces",
                "marks_superseded": "unverified: the replaced note is left alone",
                "authenticator": "FHIR-FACTS: final = signed",
                "documentable_encounter_statuses": f"unverified: {_DOCUMENTABLE_SRC}",
                "elements_search": NO_ELEMENTS,
                "max_transaction_entries": NOT_APPLICABLE,
                "rate_limit": (
                    "unverified: Epic publishes no numbers and expects clients to throttle"
                    " (FHIR-FACTS); our conservative default"
                ),
                "errors": "FHIR-FACTS: Epic error codes seen (third-party reports)",
            }
        ),
    ),
    VendorProfile(
        name="oracle-health",
        title="Oracle Health Millennium (FHIR R4; formerly Cerner)",
        writable_types=NOTE_ONLY,
        content_types=(
            PLAIN,
            "text/html; charset=utf-8",
            "application/xhtml+xml; charset=utf-8",
            "application/pdf",
        ),
        max_attachments=None,
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
        documentable_encounter_statuses=_DOCUMENTABLE,
        max_transaction_entries=None,
        elements_search=False,
        rate_limit=RateLimit(requests_per_second=5.0, burst=5),
        errors=NO_CODES,
        sources=MappingProxyType(
            {
                "writable_types": "FHIR-FACTS: Millennium R4 DocumentReference create/update",
                "content_types": (
                    "FHIR-FACTS: Millennium R4 takes pdf, text/plain, text/richtext, text/rtf,"
                    " text/html, application/xml, application/xhtml+xml (MIME type with"
                    " charset); the DSTU2 XHTML-only rule is retired"
                ),
                "max_attachments": "unverified: no documented limit",
                "max_note_bytes": "unverified: no documented limit",
                "accepts_preliminary": "FHIR-FACTS: create with docStatus final only",
                "provenance_mode": NO_PROVENANCE,
                "idempotent_create": "unverified: no create guard relied on",
                "requires_if_match": "unverified: always sent anyway",
                "identifier_search": UNVERIFIED_ID_SEARCH,
                "tag_search": NOT_APPLICABLE,
                "amendment_mode": "unverified: relatesTo replaces",
                "marks_superseded": "unverified: the replaced note is left alone",
                "authenticator": "US Core DocumentReference (Millennium supports US Core 6.1.0)",
                "documentable_encounter_statuses": f"unverified: {_DOCUMENTABLE_SRC}",
                "elements_search": NO_ELEMENTS,
                "max_transaction_entries": NOT_APPLICABLE,
                "rate_limit": (
                    "unverified: no published rate limits or rate-limit headers (FHIR-FACTS);"
                    " our conservative default"
                ),
                "errors": "FHIR-FACTS: none published",
            }
        ),
    ),
    conservative("athenaone", "athenaOne (athenahealth cloud)"),
    VendorProfile(
        name="athenapractice",
        title="athenaPractice / athenaFlow (on-premises; not athenaOne)",
        writable_types=NOTE_ONLY,
        content_types=("text/rtf",),
        max_attachments=1,
        max_note_bytes=None,
        accepts_preliminary=True,
        provenance_mode=ProvenanceMode.NONE,
        idempotent_create=CreateGuard.NONE,
        requires_if_match=True,
        identifier_search=False,
        tag_search=False,
        amendment_mode=AmendmentMode.NEW_NOTE_ONLY,
        marks_superseded=False,
        authenticator=AuthenticatorRouting.ROUTES_FOR_SIGNING,
        documentable_encounter_statuses=_DOCUMENTABLE,
        max_transaction_entries=None,
        elements_search=False,
        rate_limit=RateLimit(requests_per_second=2.0, burst=2),
        errors=NO_CODES,
        sources=MappingProxyType(
            {
                "writable_types": "FHIR-FACTS: DocumentReference POST creates a Chart document;"
                " no Encounter write",
                "content_types": "FHIR-FACTS: text/rtf or text/xml (C-CDA) only",
                "max_attachments": "unverified: one document per create",
                "max_note_bytes": "unverified: no documented limit",
                "accepts_preliminary": (
                    "FHIR-FACTS: the document is routed for signing in the EHR"
                ),
                "provenance_mode": NO_PROVENANCE,
                "idempotent_create": "FHIR-FACTS: every API write creates a new document",
                "requires_if_match": "unverified: always sent anyway",
                "identifier_search": "unverified: assumed not searchable (a person confirms)",
                "tag_search": NOT_APPLICABLE,
                "amendment_mode": "FHIR-FACTS: every API write creates a new document",
                "marks_superseded": "FHIR-FACTS: every API write creates a new document",
                "authenticator": (
                    "FHIR-FACTS: routed for signing to the Practitioner in authenticator"
                ),
                "documentable_encounter_statuses": f"unverified: {_DOCUMENTABLE_SRC}",
                "elements_search": NO_ELEMENTS,
                "max_transaction_entries": NOT_APPLICABLE,
                "rate_limit": "unverified: on-premises server; a lower default",
                "errors": "unverified: no published error codes",
            }
        ),
    ),
    conservative("veradigm", "Veradigm (Allscripts)"),
    conservative("eclinicalworks", "eClinicalWorks"),
    conservative("advancedmd", "AdvancedMD"),
)

VENDORS: Mapping[str, VendorProfile] = MappingProxyType({p.name: p for p in _PROFILES})
"""Every vendor profile by name (the ``vendor`` of a tenant's ``[tenants.ehr]``)."""

ALIASES: Mapping[str, str] = MappingProxyType({"cerner": "oracle-health"})
"""Old names that still work and say what they now mean."""

_RETIRED: Mapping[str, str] = MappingProxyType(
    {
        "athena": (
            "EHR vendor profile 'athena' was split: use 'athenaone' (cloud) or"
            " 'athenapractice' (on-premises athenaPractice/athenaFlow)"
        ),
    }
)


def resolve_vendor_name(name: str) -> str:
    """The canonical profile name for ``name`` (an alias resolves; others must exist).

    Raises ``ValueError`` with one line naming the known profiles, so a misspelt tenant
    setting fails when settings load, not at the first write.
    """
    if name in VENDORS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    if name in _RETIRED:
        raise ValueError(_RETIRED[name])
    known = ", ".join(sorted(VENDORS))
    raise ValueError(f"unknown EHR vendor profile {name!r}; known: {known}")


def get_vendor(name: str) -> VendorProfile:
    """Return the profile called ``name`` (or the one an alias such as ``cerner`` names)."""
    return VENDORS[resolve_vendor_name(name)]
