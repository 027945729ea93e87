"""A scribe session: the clinician's (or the EHR launch's) grant of context for one encounter.

A scribe client reads chart context only inside a live session: opened by a clinician bound to
the encounter, naming the scribe client, the note template (hence the read profile) and an
expiry. The session fixes the patient and encounter every read is checked against, and the
anchor (the encounter's start) the profile's time windows count back from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from chartgate.domain.errors import Forbidden, InputError

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
    closed_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        """Whether the session may still be used at ``now``."""
        return self.closed_at is None and self.opened_at <= now < self.expires_at

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
