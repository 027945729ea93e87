# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The vendor profiles, where the EHR adapters have always found them.

The facts live in ``chartgate.domain.vendors`` (pure data on domain types), so that settings
validation can read them without reaching up into the adapters layer.
"""

from __future__ import annotations

from chartgate.domain.vendors import (
    ALIASES,
    VENDORS,
    AmendmentMode,
    CreateGuard,
    ProvenanceMode,
    VendorProfile,
    get_vendor,
    resolve_vendor_name,
)

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
