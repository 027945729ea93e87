"""Vendor profiles of the sandbox EHR: how one EHR family behaves, as data.

The sandbox imitates the write-back behaviour chartgate's vendor profiles
(``adapters/ehr/vendors.py``) describe, so that every profile can be exercised end to end
without the vendor: content types, docStatus rules, missing conditional create, Provenance
refused, identifier search missing, rate limits answered with ``429``/``Retry-After`` and a
``RateLimit`` header, and the vendor's own error codes. Each behaviour is a field, so a test
can build its own profile with ``dataclasses.replace``. The rules come from
https://hl7.org/fhir/R4/http.html and FHIR-FACTS; vendor behaviour taken from third-party
write-ups ("reported") or our unverified assumptions is imitated as the product profile states
it, never as verified vendor behaviour. ``tests/unit/test_sandbox_vendors.py`` checks that the
two sets of profiles agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

ReturnPreference = Literal["representation", "minimal", "OperationOutcome"]

EPIC_REQUIRED_MISSING = "59108"
"""Epic's "required element missing" (FHIR-FACTS): e.g. a note without context.encounter."""


@dataclass(frozen=True, slots=True)
class VendorProfile:
    """What one EHR family does with creates, updates and searches.

    Attributes:
        name: The profile's name, as given to ``create_fhir_app(vendor=...)``.
        conditional_create: Honour ``If-None-Exist``; when False the header is ignored and
            every POST creates (Epic has no conditional create).
        require_if_match: Answer 400 to an update without ``If-Match`` (R4 allows a server
            to demand it).
        update_as_create: A PUT to an unknown id creates the resource with that id.
        accepted_attachment_types: Media types (without parameters) accepted in
            ``DocumentReference.content.attachment.contentType``; None accepts any. Other
            types are refused with 422.
        first_attachment_only: Keep only the first ``content`` element (reported for Epic).
        default_return: What the body holds when the request has no ``Prefer: return=``.
        relative_location: ``Location`` is relative (``Type/id/_history/vid``) instead of
            absolute (Epic's always is).
        final_only: A DocumentReference is created only with ``docStatus = final`` (Oracle
            Health Millennium: 422 otherwise).
        writable_types: Resource types that may be created or updated (None: all); others
            answer 405.
        authenticator_required: A DocumentReference create needs ``authenticator`` (the
            Practitioner athenaPractice routes it to for signing): 422 otherwise.
        identifier_search: ``identifier`` is a search parameter; when False such a search
            answers 400 (never an empty Bundle, which would read as "absent").
        requires_encounter: A DocumentReference without ``context.encounter`` is refused with
            422 (Epic: "Valid encounter required").
        vendor_codes: Put Epic's codes in ``issue.details.coding`` of refusals
            (``EPIC_REQUIRED_MISSING`` for a missing required element).
        rate_limit_per_second: FHIR requests per second before ``429`` (None: unlimited). No
            built-in profile sets one: no vendor here publishes a number (FHIR-FACTS); a test
            or ``chartgate sandbox --rate-limit N`` does.
        rate_limit_burst: Requests the bucket holds.
        rate_limit_header: Send a ``RateLimit`` header (draft-ietf-httpapi-ratelimit-headers)
            with the ``429``, as Medplum reports its quota.
        transactions: Take transaction Bundles at the base (R4 http.html#transaction; 405
            where the vendor is not known to).
        x_provenance: Honour the ``X-Provenance`` header (R4 provenance.html#header).
    """

    name: str
    conditional_create: bool = True
    require_if_match: bool = False
    update_as_create: bool = True
    accepted_attachment_types: frozenset[str] | None = None
    first_attachment_only: bool = False
    default_return: ReturnPreference = "representation"
    relative_location: bool = False
    final_only: bool = False
    writable_types: frozenset[str] | None = None
    authenticator_required: bool = False
    identifier_search: bool = True
    requires_encounter: bool = False
    vendor_codes: bool = False
    rate_limit_per_second: float | None = None
    rate_limit_burst: int = 1
    rate_limit_header: bool = False
    transactions: bool = True
    x_provenance: bool = True


GENERIC_R4 = VendorProfile(name="generic-r4")
"""A standards-following R4 server: conditional create, absolute Location, full bodies."""

_NOTES_ONLY = frozenset({"DocumentReference"})

EPIC = VendorProfile(
    name="epic",
    transactions=False,
    x_provenance=False,
    conditional_create=False,
    update_as_create=False,
    accepted_attachment_types=frozenset({"text/plain"}),
    first_attachment_only=True,
    default_return="minimal",
    relative_location=True,
    requires_encounter=True,
    vendor_codes=True,
)
"""Epic as reported: no conditional create, text/plain notes only, empty body by default,
"Valid encounter required" (59108)."""

ORACLE_HEALTH = VendorProfile(
    name="oracle-health",
    transactions=False,
    x_provenance=False,
    conditional_create=False,
    update_as_create=False,
    require_if_match=True,
    accepted_attachment_types=frozenset(
        {"text/plain", "text/html", "application/xhtml+xml", "application/pdf", "text/rtf"}
    ),
    final_only=True,
    writable_types=_NOTES_ONLY,
)
"""Oracle Health Millennium R4: final-only notes, no Provenance write (as the profile says)."""

ATHENAPRACTICE = VendorProfile(
    name="athenapractice",
    transactions=False,
    x_provenance=False,
    conditional_create=False,
    update_as_create=False,
    require_if_match=True,
    accepted_attachment_types=frozenset({"text/rtf", "text/xml"}),
    first_attachment_only=True,
    writable_types=_NOTES_ONLY,
    authenticator_required=True,
    identifier_search=False,
)
"""athenaPractice: RTF or C-CDA only, routed to the authenticator, no identifier search."""

_CONSERVATIVE = VendorProfile(
    name="conservative",
    transactions=False,
    x_provenance=False,
    conditional_create=False,
    update_as_create=False,
    require_if_match=True,
    accepted_attachment_types=frozenset({"text/plain"}),
    first_attachment_only=True,
    final_only=True,
    writable_types=_NOTES_ONLY,
)

MEDPLUM_LIKE = VendorProfile(name="medplum", rate_limit_header=True)
"""Standard R4 semantics with Medplum's ``RateLimit`` header on a 429."""

VENDORS: Mapping[str, VendorProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            GENERIC_R4,
            MEDPLUM_LIKE,
            EPIC,
            ORACLE_HEALTH,
            ATHENAPRACTICE,
            *(
                replace(_CONSERVATIVE, name=name)
                for name in ("athenaone", "veradigm", "eclinicalworks", "advancedmd")
            ),
        )
    }
)
"""Every built-in profile by name (the product's profile names; ``cerner`` is an alias)."""

ALIASES: Mapping[str, str] = MappingProxyType({"cerner": "oracle-health", "sandbox": "generic-r4"})


def vendor_profile(vendor: str | VendorProfile) -> VendorProfile:
    """Return the profile named ``vendor`` (or ``vendor`` itself when it is a profile).

    Raises:
        ValueError: No built-in profile has that name.
    """
    if isinstance(vendor, VendorProfile):
        return vendor
    try:
        return VENDORS[ALIASES.get(vendor, vendor)]
    except KeyError:
        known = ", ".join(sorted(VENDORS))
        raise ValueError(f"unknown sandbox vendor {vendor!r}; known: {known}") from None
