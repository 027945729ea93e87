# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Keyed pseudonyms for the audit ledger: patient and encounter references as HMACs.

The ledger must let an auditor ask "everything about this patient" without holding a
single patient reference in clear (a ledger is kept for years and copied to auditors).
Each reference becomes ``hmac-sha256:<hex>`` under a per-tenant key derived with HKDF from
the tenant's data key (``EnvelopeCipher.derive_key``), so:

* the same patient always gets the same pseudonym within one tenant, and an auditor who
  knows the reference can ask chartgate to compute it (``?patient=Patient/123``);
* another tenant's pseudonym of the same reference differs (no cross-tenant linkage);
* nobody without the tenant's key can confirm a guess (a plain hash of "Patient/123"
  could be brute-forced over the id space);
* crypto-shredding the tenant's data key also makes its pseudonyms unlinkable.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from typing import Final

PREFIX: Final = "hmac-sha256:"
_PURPOSE: Final = b"ledger-pseudonym/v1"
_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?/?$")


def normalise(reference: str) -> str:
    """Reduce a FHIR reference to ``Type/id`` so relative, absolute and versioned forms match.

    ``Patient/1``, ``https://ehr.example/fhir/Patient/1`` and ``Patient/1/_history/3``
    all name the same patient; anything else is used as given (trimmed).
    """
    text = reference.strip()
    match = _REFERENCE.search(text)
    return match.group(1) if match else text


def is_pseudonym(value: str) -> bool:
    """Return whether ``value`` already is a pseudonym (so it is used as given)."""
    return value.startswith(PREFIX) and len(value) == len(PREFIX) + 64


class KeyedPseudonyms:
    """Computes ``hmac-sha256:<hex>`` pseudonyms with one derived key per tenant.

    ``derive(tenant, purpose)`` returns the tenant's key (``EnvelopeCipher.derive_key``);
    keys are cached for the life of the process, like the data keys they come from.
    """

    def __init__(self, derive: Callable[[str, bytes], bytes]) -> None:
        self._derive = derive
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _key(self, tenant: str) -> bytes:
        key = self._keys.get(tenant)
        if key is None:
            with self._lock:
                key = self._keys.get(tenant)
                if key is None:
                    key = self._derive(tenant, _PURPOSE)
                    self._keys[tenant] = key
        return key

    def reference(self, tenant: str, reference: str) -> str:
        """Return the tenant's pseudonym of a FHIR reference (a pseudonym is returned as is)."""
        if is_pseudonym(reference):
            return reference
        digest = hmac.new(self._key(tenant), normalise(reference).encode(), hashlib.sha256)
        return PREFIX + digest.hexdigest()
