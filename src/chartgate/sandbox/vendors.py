"""Vendor profiles of the sandbox EHR: how one EHR family behaves, as data.

The sandbox imitates a few write-back quirks that chartgate's adapters must survive. Each
quirk is a field, so a test can build its own profile with ``dataclasses.replace``. The
rules come from https://hl7.org/fhir/R4/http.html; the Epic ones are taken from third-party
write-ups ("reported"), so they are claims we imitate, not verified vendor behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

ReturnPreference = Literal["representation", "minimal", "OperationOutcome"]


@dataclass(frozen=True, slots=True)
class VendorProfile:
    """What one EHR family does with creates and updates.

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
    """

    name: str
    conditional_create: bool = True
    require_if_match: bool = False
    update_as_create: bool = True
    accepted_attachment_types: frozenset[str] | None = None
    first_attachment_only: bool = False
    default_return: ReturnPreference = "representation"
    relative_location: bool = False


GENERIC_R4 = VendorProfile(name="generic-r4")
"""A standards-following R4 server: conditional create, absolute Location, full bodies."""

EPIC = VendorProfile(
    name="epic",
    conditional_create=False,
    update_as_create=False,
    accepted_attachment_types=frozenset({"text/plain"}),
    first_attachment_only=True,
    default_return="minimal",
    relative_location=True,
)
"""Epic as reported: no conditional create, text/plain notes only, empty body by default."""

VENDORS: Mapping[str, VendorProfile] = MappingProxyType({p.name: p for p in (GENERIC_R4, EPIC)})
"""Every built-in profile by name."""


def vendor_profile(vendor: str | VendorProfile) -> VendorProfile:
    """Return the profile named ``vendor`` (or ``vendor`` itself when it is a profile).

    Raises:
        ValueError: No built-in profile has that name.
    """
    if isinstance(vendor, VendorProfile):
        return vendor
    try:
        return VENDORS[vendor]
    except KeyError:
        known = ", ".join(sorted(VENDORS))
        raise ValueError(f"unknown sandbox vendor {vendor!r}; known: {known}") from None
