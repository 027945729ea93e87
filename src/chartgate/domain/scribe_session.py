"""A scribe session: the clinician's (or the EHR launch's) grant of context for one encounter.

A scribe client reads chart context only inside a live session: opened by a clinician bound to
the encounter, naming the scribe client, the note template (hence the read profile) and an
expiry. The session fixes the patient and encounter every read is checked against, and the
anchor (the encounter's start) the profile's time windows count back from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from chartgate.domain.access import Basis
from chartgate.domain.errors import Forbidden, InputError
from chartgate.domain.principal import Principal

MAX_SESSION_TTL: Final = timedelta(hours=12)
DEFAULT_SESSION_TTL: Final = timedelta(hours=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScribeSession:
    """One live grant: this scribe client may read this encounter's context until expiry."""

    id: str
    tenant: str
    patient: str
    encounter: str
    template: str
    scribe_client: str
    opened_by: str
    opened_at: datetime
    expires_at: datetime
    anchor_at: datetime  # the encounter's start: read windows count back from here
    # The encounter's end (None while in progress): nothing dated after it is read.
    encounter_end: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    # The clinician's own EHR access token from the EHR launch (issued for the EHR), used for
    # context reads until ``delegated_until``; stored encrypted, never shown (ADR 0027).
    delegated_token: str | None = field(default=None, repr=False)
    delegated_until: datetime | None = None

    def live(self, now: datetime) -> bool:
        """Whether the session may still be used at ``now``."""
        return self.closed_at is None and self.opened_at <= now < self.expires_at

    def delegated(self, now: datetime) -> str | None:
        """The clinician's delegated token while it serves (unexpired), else None."""
        if self.delegated_token is None or self.delegated_until is None:
            return None
        return self.delegated_token if now < self.delegated_until else None

    def ensure_usable(self, scribe_client: str | None, now: datetime) -> None:
        """Raise ``Forbidden`` unless ``scribe_client`` holds this session and it is live.

        A foreign or unknown session answers like an expired one: no oracle of sessions.
        """
        if scribe_client != self.scribe_client or not self.live(now):
            raise Forbidden(
                "no live scribe session with this id for this client: ask the clinician to"
                " open one for the encounter",
                expression="session",
            )


def session_expiry(opened_at: datetime, ttl: timedelta | None) -> datetime:
    """When a session opened at ``opened_at`` ends (``ttl`` bounded by ``MAX_SESSION_TTL``)."""
    chosen = DEFAULT_SESSION_TTL if ttl is None else ttl
    if chosen <= timedelta(0) or chosen > MAX_SESSION_TTL:
        raise InputError(
            f"a scribe session lasts at most {int(MAX_SESSION_TTL.total_seconds())} seconds",
            expression="ttl_seconds",
        )
    return opened_at + chosen


def delegation(
    principal: Principal,
    token: str | None,
    *,
    basis: Basis,
    ehr_base: str | None,
    now: datetime,
) -> tuple[str | None, str]:
    """The clinician's token to read with, or None, and why (for the ledger, no secret).

    Only the access token of an EHR launch on this encounter (the binding came from the
    launch context, not a care-team grant), issued for the tenant's EHR (its ``aud`` names
    the FHIR base: a token meant for chartgate alone is never passed on to another server,
    RFC 9700 §4.10), and unexpired. Anything else reads with the backend credentials.
    """
    if token is None:
        return None, "no bearer token"
    if basis != "launch":
        return None, "not opened from an EHR launch on this encounter"
    if ehr_base is None or _base(ehr_base) not in {_base(a) for a in principal.audiences}:
        return None, "the token was not issued for the EHR"
    if principal.expires_at is None or principal.expires_at <= now:
        return None, "the token has expired"
    return token, "the clinician's EHR-launch token"


def _base(url: str) -> str:
    return url.rstrip("/")
