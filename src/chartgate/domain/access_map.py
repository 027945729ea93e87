"""Who may call what: every HTTP route, the roles it admits and the kind of access it is.

The roles are enforced where the work is done (``service/authz.require_role`` in each
handler, the reviewer page's sign-in); this table states them in one place so that the
compliance report and the data-flow map can answer "who can read / write / approve /
delete / investigate" without reading code. ``tests/unit/test_dataflow_map.py`` derives
the live route set from the app ``create_app`` builds and fails on a route missing here (or
listed here but gone); ``tests/integration/test_access_map.py`` calls every route with each
role the table does not admit and expects a refusal, so the table cannot claim that fewer
roles may call a route than the code lets through.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Access(StrEnum):
    """The kind of access a route is, in the words of an OCR-style review."""

    SUBMIT = "submit"  # PHI enters chartgate
    READ = "read"  # PHI is shown
    WRITE = "write"  # PHI is changed in chartgate
    APPROVE = "approve"  # PHI is released to the EHR
    DELETE = "delete"  # PHI is discarded or retracted
    INVESTIGATE = "investigate"  # the audit trail is read
    ADMINISTER = "administer"  # configuration and operations
    PUBLIC = "public"  # no PHI, no principal (health, keys, sign-in steps)


@dataclass(frozen=True, slots=True)
class RouteAccess:
    """One route: method, path template, surface, roles admitted, access kind, PHI or not."""

    method: str
    path: str
    surface: str  # "api" | "web" | "ops"
    roles: tuple[str, ...]
    access: Access
    phi: bool


def _r(
    method: str, path: str, surface: str, roles: str, access: Access, *, phi: bool
) -> RouteAccess:
    return RouteAccess(method, path, surface, tuple(roles.split()), access, phi)


A, W, OPS = "api", "web", "ops"
ROUTES: tuple[RouteAccess, ...] = (
    _r("POST", "/v1/drafts", A, "scribe", Access.SUBMIT, phi=True),
    _r("POST", "/v1/scribe-sessions", A, "clinician", Access.WRITE, phi=True),
    _r(
        "POST",
        "/v1/scribe-sessions/{session_id}/close",
        A,
        "clinician scribe",
        Access.WRITE,
        phi=False,
    ),
    _r("GET", "/v1/context", A, "scribe", Access.READ, phi=True),
    _r("POST", "/v1/consents", A, "scribe clinician", Access.SUBMIT, phi=True),
    _r("GET", "/v1/drafts", A, "clinician", Access.READ, phi=True),
    _r("GET", "/v1/drafts/{draft_id}", A, "clinician", Access.READ, phi=True),
    _r("GET", "/v1/drafts/{draft_id}/diff", A, "clinician", Access.READ, phi=True),
    _r("PUT", "/v1/drafts/{draft_id}", A, "clinician", Access.WRITE, phi=True),
    _r("POST", "/v1/drafts/{draft_id}/validate", A, "clinician", Access.READ, phi=True),
    _r("POST", "/v1/drafts/{draft_id}/approve", A, "clinician", Access.APPROVE, phi=True),
    _r("POST", "/v1/drafts/{draft_id}/finalize", A, "clinician", Access.APPROVE, phi=True),
    _r("POST", "/v1/drafts/{draft_id}/discard", A, "clinician", Access.DELETE, phi=True),
    _r("POST", "/v1/drafts/{draft_id}/rebase", A, "clinician", Access.WRITE, phi=True),
    _r("GET", "/v1/writebacks", A, "admin", Access.READ, phi=False),
    _r("GET", "/v1/writebacks/{writeback_id}", A, "clinician", Access.READ, phi=False),
    _r("POST", "/v1/writebacks/{writeback_id}/amend", A, "clinician", Access.APPROVE, phi=True),
    _r("POST", "/v1/writebacks/{writeback_id}/retract", A, "clinician", Access.DELETE, phi=True),
    _r(
        "POST",
        "/v1/writebacks/{writeback_id}/resolve",
        A,
        "clinician admin",
        Access.WRITE,
        phi=False,
    ),
    _r("GET", "/v1/audit/events", A, "auditor", Access.INVESTIGATE, phi=False),
    _r("GET", "/v1/audit/checkpoint", A, "auditor", Access.INVESTIGATE, phi=False),
    _r("GET", "/v1/audit/proof", A, "auditor", Access.INVESTIGATE, phi=False),
    _r("GET", "/v1/audit/proof/{seq}", A, "auditor", Access.INVESTIGATE, phi=False),
    _r("GET", "/.well-known/chartgate-ledger-keys", A, "", Access.PUBLIC, phi=False),
    _r("GET", "/openapi.json", A, "", Access.PUBLIC, phi=False),
    _r("GET", "/v1/admin/killswitches", A, "admin", Access.ADMINISTER, phi=False),
    _r("POST", "/v1/admin/killswitches", A, "admin", Access.ADMINISTER, phi=False),
    _r(
        "POST",
        "/v1/admin/killswitches/{switch_id}/release",
        A,
        "admin",
        Access.ADMINISTER,
        phi=False,
    ),
    _r("POST", "/v1/admin/webhooks", A, "admin", Access.ADMINISTER, phi=False),
    _r("GET", "/v1/admin/webhooks", A, "admin", Access.ADMINISTER, phi=False),
    _r(
        "POST",
        "/v1/admin/webhooks/{endpoint_id}/disable",
        A,
        "admin",
        Access.ADMINISTER,
        phi=False,
    ),
    _r(
        "GET",
        "/v1/admin/webhooks/{endpoint_id}/deliveries",
        A,
        "admin",
        Access.ADMINISTER,
        phi=False,
    ),
    _r("GET", "/healthz", OPS, "", Access.PUBLIC, phi=False),
    _r("GET", "/readyz", OPS, "", Access.PUBLIC, phi=False),
    _r("GET", "/metrics", OPS, "admin", Access.ADMINISTER, phi=False),
    _r("GET", "/review/login", W, "", Access.PUBLIC, phi=False),
    _r("GET", "/review/callback", W, "", Access.PUBLIC, phi=False),
    _r("POST", "/review/logout", W, "", Access.PUBLIC, phi=False),
    _r("GET", "/review/launch", W, "", Access.PUBLIC, phi=False),  # SMART EHR launch
    _r("POST", "/review/logout/backchannel", W, "", Access.PUBLIC, phi=False),  # IdP logout token
    _r("GET", "/review/logout/frontchannel", W, "", Access.PUBLIC, phi=False),
    _r("GET", "/review/", W, "clinician", Access.READ, phi=True),
    _r("GET", "/review/admin/report", W, "admin", Access.ADMINISTER, phi=False),
    _r("GET", "/review/writebacks/{writeback_id}/state", W, "clinician", Access.READ, phi=False),
    _r("GET", "/review/{draft_id}", W, "clinician", Access.READ, phi=True),
    _r("POST", "/review/{draft_id}/save", W, "clinician", Access.WRITE, phi=True),
    _r("POST", "/review/{draft_id}/save-approve", W, "clinician", Access.APPROVE, phi=True),
    _r("POST", "/review/{draft_id}/approve", W, "clinician", Access.APPROVE, phi=True),
    _r("POST", "/review/{draft_id}/consent", W, "clinician", Access.SUBMIT, phi=True),
    _r(
        "POST",
        "/review/{draft_id}/scribe-sessions/{session_id}/close",
        W,
        "clinician",
        Access.WRITE,
        phi=False,
    ),
    _r("POST", "/review/{draft_id}/finalize", W, "clinician", Access.APPROVE, phi=True),
    _r("POST", "/review/{draft_id}/discard", W, "clinician", Access.DELETE, phi=True),
    _r("POST", "/review/{draft_id}/amend", W, "clinician", Access.APPROVE, phi=True),
    _r("POST", "/review/{draft_id}/retract", W, "clinician", Access.DELETE, phi=True),
    _r("POST", "/review/{draft_id}/rebase", W, "clinician", Access.WRITE, phi=True),
    _r(  # the per-item resolve button of a structured write-back (same use case as the API)
        "POST",
        "/review/{draft_id}/writebacks/{writeback_id}/resolve",
        W,
        "clinician",
        Access.WRITE,
        phi=False,
    ),
)

ROLES: tuple[str, ...] = ("scribe", "clinician", "admin", "auditor")
"""Every role the map accounts for (``domain.principal.Role``)."""


def who_can(access: Access) -> dict[str, list[str]]:
    """Role -> the routes of one access kind it may call (the report's "who can ..." rows)."""
    found: dict[str, list[str]] = {}
    for route in ROUTES:
        if route.access is access:
            for role in route.roles:
                found.setdefault(role, []).append(f"{route.method} {route.path}")
    return found
