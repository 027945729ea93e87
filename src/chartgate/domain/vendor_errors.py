"""What a vendor's own error code means for a write-back: retry, configuration, reject, duplicate.

Why a table per vendor: an HTTP status alone is too coarse. Epic answers 422 both for "a
required element is missing" (our payload is wrong; resending never helps) and for
"duplicate record" (the note may already be in the chart; sending again makes a second one).
The vendor's code, in ``OperationOutcome.issue.details.coding.code``, tells them apart. The
tables live in the vendor profiles (``adapters/ehr/vendors.py``); this module is the pure
lookup the executor calls with an answer's status and body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["VendorErrorClass", "VendorErrorTable", "classify_vendor_error"]

_HTTP_FORBIDDEN = 403
_OK_LOW, _OK_HIGH = 200, 300


class VendorErrorClass(StrEnum):
    """What one refused request means for the write-back that sent it."""

    RETRY = "retry"
    """Transient on the EHR's side: send the same request again later."""

    CONFIGURATION = "configuration"
    """The connection or app registration is wrong (scope, API not enabled): a person fixes
    the setup; no resend helps until then, and nothing landed."""

    REJECT = "reject"
    """The EHR refused this content for good (a required element is missing or invalid)."""

    DUPLICATE = "duplicate"
    """The EHR says the record already exists: read the chart before anything else."""


_PRIORITY = (
    VendorErrorClass.DUPLICATE,
    VendorErrorClass.CONFIGURATION,
    VendorErrorClass.REJECT,
    VendorErrorClass.RETRY,
)
"""When one answer carries several codes, the most careful reading wins (a duplicate first)."""


@dataclass(frozen=True, slots=True)
class VendorErrorTable:
    """One vendor's error codes and what each means (empty: the vendor publishes none)."""

    codes: Mapping[str, VendorErrorClass] = field(default_factory=dict)
    """Vendor code (as in ``issue.details.coding.code``) to its class."""
    empty_forbidden: VendorErrorClass | None = None
    """What a 403 with an empty body means (Epic: the API is not registered for the app)."""


def classify_vendor_error(
    table: VendorErrorTable, *, status: int, body: Mapping[str, Any] | None
) -> VendorErrorClass | None:
    """Classify a non-2xx answer by the vendor's own codes; ``None`` when none is known.

    ``body`` is the parsed answer (an ``OperationOutcome`` or nothing). A 2xx answer is never
    classified: codes on a success are informational. ``None`` means "use the generic HTTP
    outcome table", never "fine".
    """
    if _OK_LOW <= status < _OK_HIGH:
        return None
    if not body:
        return table.empty_forbidden if status == _HTTP_FORBIDDEN else None
    found = {table.codes[code] for code in _issue_codes(body) if code in table.codes}
    return next((kind for kind in _PRIORITY if kind in found), None)


def _issue_codes(body: Mapping[str, Any]) -> list[str]:
    """Every ``issue.details.coding.code`` of an OperationOutcome (vendor codes live there)."""
    if body.get("resourceType") != "OperationOutcome":
        return []
    codes: list[str] = []
    issues = body.get("issue")
    for issue in issues if isinstance(issues, list) else []:
        details = issue.get("details") if isinstance(issue, dict) else None
        codings = details.get("coding") if isinstance(details, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            code = coding.get("code") if isinstance(coding, dict) else None
            if isinstance(code, str):
                codes.append(code)
    return codes
