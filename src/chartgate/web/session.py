"""The reviewer page's sessions: short, server-side, bound to the token's ``sub`` and ``sid``.

ADR 0013 says why they live in the process's memory: the browser holds only a random
session id (an ``HttpOnly``, ``Secure``, ``SameSite=Lax`` ``__Host-`` cookie); the clinician's
access token, the CSRF token and the pending sign-ins stay here, where a stolen cookie jar
or a log cannot read them. A restart signs everyone out, which for a short review session is
the safe failure.

A session ends when it has been idle longer than the idle limit, when it is older than the
absolute limit, or (checked by the routes on every request) when its access token no longer
verifies or no longer names the same ``sub``/``sid``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

SESSION_COOKIE = "__Host-chartgate-review"
LOGIN_COOKIE = "__Host-chartgate-login"
LOGIN_SECONDS = 600  # a sign-in started must come back within ten minutes
_MAX_SESSIONS = 10_000
_MAX_PENDING = 10_000

Ended = Literal["missing", "idle", "absolute", "token", "binding"]


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


@dataclass(slots=True)
class ReviewerSession:
    """One signed-in clinician in one browser."""

    id: str
    tenant: str
    subject: str
    sid: str | None
    issuer: str
    access_token: str
    csrf: str
    created: float
    last_seen: float
    notices: list[tuple[str, str]] = field(default_factory=list)  # (kind, text), shown once

    def csrf_ok(self, sent: str | None) -> bool:
        """The synchronizer token check (constant time)."""
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def notify(self, kind: Literal["ok", "error", "info"], text: str) -> None:
        """A message for the next page this browser sees."""
        self.notices.append((kind, text))
        del self.notices[:-5]

    def take_notices(self) -> list[tuple[str, str]]:
        """The pending messages, once."""
        out, self.notices = self.notices, []
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


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SessionStore:
    """Sessions and pending sign-ins, in memory, safe across request threads."""

    def __init__(self, limits: SessionLimits, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        self._sessions: dict[str, ReviewerSession] = {}
        self._pending: dict[str, PendingLogin] = {}
        self._lock = threading.Lock()

    # -- sessions -------------------------------------------------------------------------

    def create(
        self, *, tenant: str, subject: str, sid: str | None, issuer: str, access_token: str
    ) -> ReviewerSession:
        """A new session with a new id and a new CSRF token (never reuse: no fixation)."""
        now = self._clock()
        session = ReviewerSession(
            id=secrets.token_urlsafe(32),
            tenant=tenant,
            subject=subject,
            sid=sid,
            issuer=issuer,
            access_token=access_token,
            csrf=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
        )
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= _MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, *, touch: bool = True) -> ReviewerSession:
        """The live session named by the cookie; else ``SessionEnded``.

        ``touch`` restarts the idle clock: a person did something. The page's background
        status poll passes ``False``, so a page left open still idles out.
        """
        if not session_id:
            raise SessionEnded("missing")
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise SessionEnded("missing")
            if now - session.created > self.limits.absolute:
                del self._sessions[session_id]
                raise SessionEnded("absolute")
            if now - session.last_seen > self.limits.idle:
                del self._sessions[session_id]
                raise SessionEnded("idle")
            if touch:
                session.last_seen = now
            return session

    def peek(self, session_id: str | None) -> ReviewerSession | None:
        """The session named by the cookie, live or not, without touching it."""
        with self._lock:
            return self._sessions.get(session_id or "")

    def end(self, session_id: str | None) -> None:
        """Forget a session (sign-out, or a check failed)."""
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def _expire(self, now: float) -> None:
        for key in [
            k
            for k, s in self._sessions.items()
            if now - s.created > self.limits.absolute or now - s.last_seen > self.limits.idle
        ]:
            del self._sessions[key]

    # -- sign-ins in flight ---------------------------------------------------------------

    def begin_login(
        self, *, browser_secret: str, issuer: str, return_to: str, step_up: bool
    ) -> PendingLogin:
        """Remember a sign-in about to leave for the identity provider."""
        now = self._clock()
        pending = PendingLogin(
            state=secrets.token_urlsafe(32),
            browser=_digest(browser_secret),
            issuer=issuer,
            verifier=secrets.token_urlsafe(64)[:96],
            nonce=secrets.token_urlsafe(32),
            return_to=return_to,
            step_up=step_up,
            created=now,
        )
        with self._lock:
            for key in [k for k, p in self._pending.items() if now - p.created > LOGIN_SECONDS]:
                del self._pending[key]
            while len(self._pending) >= _MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
            self._pending[pending.state] = pending
        return pending

    def finish_login(self, state: str | None, browser_secret: str | None) -> PendingLogin | None:
        """The sign-in named by ``state``, once, if it is fresh and this browser started it."""
        with self._lock:
            pending = self._pending.pop(state or "", None)
        if pending is None or browser_secret is None:
            return None
        if self._clock() - pending.created > LOGIN_SECONDS:
            return None
        if not hmac.compare_digest(pending.browser, _digest(browser_secret)):
            return None
        return pending
