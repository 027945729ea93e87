"""What a reviewer-page session is, and what any store of them must do (ADR 0013, ADR 0020).

The browser holds only a random session id (an ``HttpOnly`` ``__Host-`` cookie); the
clinician's access token, the CSRF token and the pending sign-ins stay server-side. Two
stores keep them behind one interface (``Sessions``): the database (what ``serve`` uses, so
every replica knows every session and a revocation is seen everywhere at once) and process
memory (the fast fake for unit tests).

A session ends when it has been idle longer than the idle limit, when it is older than the
absolute limit, when it is revoked, or (checked by the routes on every request) when its
access token no longer verifies or no longer names the same ``sub``/``sid``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

LOGIN_SECONDS = 600  # a sign-in started must come back within ten minutes

Ended = Literal["missing", "idle", "absolute", "token", "binding"]
Notice = tuple[str, str]  # (kind, text), shown once


class SessionEnded(Exception):
    """There is no usable session; ``reason`` says why (for the page, never for an attacker)."""

    def __init__(self, reason: Ended) -> None:
        super().__init__(reason)
        self.reason: Ended = reason


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session may sit unused, and how long it may live at all (seconds)."""

    idle: float
    absolute: float

    def ended(self, *, created: float, last_seen: float, now: float) -> Ended | None:
        """Why a session with these times is over at ``now``, or None while it is live."""
        if now - created > self.absolute:
            return "absolute"
        if now - last_seen > self.idle:
            return "idle"
        return None


@dataclass(frozen=True, slots=True)
class LaunchContext:
    """The patient and encounter of a SMART EHR launch, as ``Type/id`` references."""

    patient: str | None
    encounter: str | None


@dataclass(slots=True)
class ReviewerSession:
    """One signed-in clinician in one browser.

    ``saved`` is how a store that is not this object keeps the notices: the database store
    sets it so a message queued on one replica is shown by whichever replica serves next.
    """

    id: str
    tenant: str
    subject: str
    sid: str | None
    issuer: str
    access_token: str
    csrf: str
    created: float
    last_seen: float
    notices: list[Notice] = field(default_factory=list)
    saved: Callable[[ReviewerSession], None] | None = field(default=None, repr=False, compare=False)
    # SMART EHR launch: the context from the token answer (None: a standalone sign-in).
    launch_patient: str | None = None
    launch_encounter: str | None = None

    def csrf_ok(self, sent: str | None) -> bool:
        """The synchronizer token check (constant time)."""
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def notify(self, kind: Literal["ok", "error", "info"], text: str) -> None:
        """A message for the next page this browser sees."""
        self.notices.append((kind, text))
        del self.notices[:-5]
        if self.saved is not None:
            self.saved(self)

    def take_notices(self) -> list[Notice]:
        """The pending messages, once."""
        out, self.notices = self.notices, []
        if out and self.saved is not None:
            self.saved(self)
        return out


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """A sign-in sent to the identity provider and not yet back.

    ``browser`` is a hash of the value of the login cookie set when it started: the callback
    must come from the same browser (login CSRF), and ``verifier`` is the PKCE secret.
    """

    state: str
    browser: str
    issuer: str
    verifier: str
    nonce: str
    return_to: str
    step_up: bool
    created: float
    launch_tenant: str | None = None  # an EHR launch: the tenant whose EHR sent ``iss``


def digest(value: str) -> str:
    """SHA-256 hex of ``value``: how session ids, states and browser secrets are stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_session(
    *,
    tenant: str,
    subject: str,
    sid: str | None,
    issuer: str,
    access_token: str,
    now: float,
    launch: LaunchContext | None = None,
) -> ReviewerSession:
    """A session with a fresh random id and CSRF token (and an EHR launch's context)."""
    return ReviewerSession(
        id=secrets.token_urlsafe(32),
        tenant=tenant,
        subject=subject,
        sid=sid,
        issuer=issuer,
        access_token=access_token,
        csrf=secrets.token_urlsafe(32),
        created=now,
        last_seen=now,
        launch_patient=launch.patient if launch else None,
        launch_encounter=launch.encounter if launch else None,
    )


def new_login(
    *,
    browser_secret: str,
    issuer: str,
    return_to: str,
    step_up: bool,
    now: float,
    launch_tenant: str | None = None,
) -> PendingLogin:
    """A sign-in with a fresh state, nonce and PKCE verifier (RFC 7636: 43-128 chars)."""
    return PendingLogin(
        state=secrets.token_urlsafe(32),
        browser=digest(browser_secret),
        issuer=issuer,
        verifier=secrets.token_urlsafe(64)[:96],
        nonce=secrets.token_urlsafe(32),
        return_to=return_to,
        step_up=step_up,
        created=now,
        launch_tenant=launch_tenant,
    )


def login_usable(pending: PendingLogin | None, browser_secret: str | None, now: float) -> bool:
    """A pending sign-in may finish: fresh, and the browser that started it came back."""
    if pending is None or browser_secret is None:
        return False
    if now - pending.created > LOGIN_SECONDS:
        return False
    return hmac.compare_digest(pending.browser, digest(browser_secret))


class Sessions(Protocol):
    """A store of reviewer sessions and sign-ins in flight."""

    limits: SessionLimits

    def create(
        self,
        *,
        tenant: str,
        subject: str,
        sid: str | None,
        issuer: str,
        access_token: str,
        launch: LaunchContext | None = None,
    ) -> ReviewerSession:
        """A new session with a new id and a new CSRF token (never reuse: no fixation)."""
        ...

    def get(self, session_id: str | None, *, touch: bool = True) -> ReviewerSession:
        """The live session named by the cookie; else ``SessionEnded``."""
        ...

    def peek(self, session_id: str | None) -> ReviewerSession | None:
        """The session named by the cookie, live or not, without touching it."""
        ...

    def end(self, session_id: str | None) -> None:
        """Forget a session (sign-out, or a check failed)."""
        ...

    def revoke(self, *, tenant: str, subject: str | None = None) -> int:
        """End every session of ``subject`` (or of the whole tenant); how many ended."""
        ...

    def end_for(self, issuer: str, *, sid: str | None, subject: str | None) -> int:
        """End the sessions an identity provider's logout names (by ``sid``, else ``sub``).

        OpenID Connect Back-Channel and Front-Channel Logout: ``sid`` names one sign-in at
        the provider; a logout naming only ``sub`` ends every session of that person there;
        naming neither ends nothing. Returns how many sessions ended.
        """
        ...

    def begin_login(
        self,
        *,
        browser_secret: str,
        issuer: str,
        return_to: str,
        step_up: bool,
        launch_tenant: str | None = None,
    ) -> PendingLogin:
        """Remember a sign-in about to leave for the identity provider."""
        ...

    def finish_login(self, state: str | None, browser_secret: str | None) -> PendingLogin | None:
        """The sign-in named by ``state``, once, if it is fresh and this browser started it."""
        ...
