"""Who is acting: the verified identity every handler receives.

Built only by the identity adapter from a verified token; the tenant comes from the token's
issuer, never from the URL or the body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """What kind of actor a principal is; decides which verbs it may use at all."""

    SCRIBE = "scribe"
    CLINICIAN = "clinician"
    ADMIN = "admin"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller, bound to exactly one tenant."""

    tenant: str
    subject: str
    role: Role
    scopes: frozenset[str] = frozenset()
    fhir_user: str | None = None
    amr: tuple[str, ...] = ()
    acr: str | None = None
    auth_time: datetime | None = None
    launch_patient: str | None = None
    launch_encounter: str | None = None
    session_id: str | None = None
    token_id: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # SMART permissions ("c", "r", "u", ...) the token grants on DocumentReference in the user
    # context; None when the token carries no DocumentReference scope at all (not narrowed).
    note_permissions: frozenset[str] | None = None
    # When the token expires and whom it was issued for (``aud``): a clinician's token from an
    # EHR launch that names the EHR may serve a scribe session's reads (ADR 0027).
    expires_at: datetime | None = None
    audiences: tuple[str, ...] = ()
