"""The reviewer page's sessions: cookie names, and the in-memory store (the unit-test fake).

What a session is, and the ``Sessions`` interface, live in ``domain/reviewer_sessions.py``;
``serve`` keeps sessions in the database (``adapters/storage/reviewer_sessions.py``, ADR 0020)
so any replica behind the proxy knows the user. This store keeps them in one process's
memory, behind the same interface, for fast tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.adapters.storage.reviewer_sessions import SqlSessionStore
from chartgate.domain.errors import KeyCustodyError
from chartgate.domain.reviewer_sessions import (
    LOGIN_SECONDS,
    LaunchContext,
    PendingLogin,
    ReviewerSession,
    SessionEnded,
    SessionLimits,
    Sessions,
    login_usable,
    new_login,
    new_session,
)

if TYPE_CHECKING:
    from chartgate.bootstrap import Application

__all__ = [
    "LOGIN_COOKIE",
    "LOGIN_SECONDS",
    "SESSION_COOKIE",
    "LaunchContext",
    "PendingLogin",
    "ReviewerSession",
    "SessionEnded",
    "SessionLimits",
    "SessionStore",
    "Sessions",
    "database_sessions",
]

SESSION_COOKIE = "__Host-chartgate-review"
LOGIN_COOKIE = "__Host-chartgate-login"
_MAX_SESSIONS = 10_000
_MAX_PENDING = 10_000


def database_sessions(application: Application) -> SqlSessionStore:
    """The store ``serve`` uses: sessions in the database every replica shares (ADR 0020)."""
    settings = application.settings
    engine = application.engine
    if application.custody is None:
        raise KeyCustodyError("the application was built without its keys (docs/keys.md)")
    return SqlSessionStore(
        engine,
        EnvelopeCipher(application.custody.kek, SqlDataKeyStore(engine)),
        SessionLimits(
            idle=settings.reviewer_session_idle_seconds,
            absolute=settings.reviewer_session_absolute_seconds,
        ),
    )


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
        now = self._clock()
        session = new_session(
            tenant=tenant,
            subject=subject,
            sid=sid,
            issuer=issuer,
            access_token=access_token,
            now=now,
            launch=launch,
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
            ended = self.limits.ended(created=session.created, last_seen=session.last_seen, now=now)
            if ended is not None:
                del self._sessions[session_id]
                raise SessionEnded(ended)
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

    def revoke(self, *, tenant: str, subject: str | None = None) -> int:
        """End every session of ``subject`` (or of the whole tenant); how many ended."""
        with self._lock:
            doomed = [
                k
                for k, s in self._sessions.items()
                if s.tenant == tenant and (subject is None or s.subject == subject)
            ]
            for key in doomed:
                del self._sessions[key]
        return len(doomed)

    def end_for(self, issuer: str, *, sid: str | None, subject: str | None) -> int:
        """End the sessions an identity provider's logout names (by ``sid``, else ``sub``)."""
        if sid is None and subject is None:
            return 0
        with self._lock:
            doomed = [
                key
                for key, s in self._sessions.items()
                if s.issuer == issuer
                and (sid is None or s.sid == sid)
                and (subject is None or s.subject == subject)
            ]
            for key in doomed:
                del self._sessions[key]
        return len(doomed)

    def _expire(self, now: float) -> None:
        for key in [
            k
            for k, s in self._sessions.items()
            if self.limits.ended(created=s.created, last_seen=s.last_seen, now=now)
        ]:
            del self._sessions[key]

    # -- sign-ins in flight ---------------------------------------------------------------

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
        now = self._clock()
        pending = new_login(
            browser_secret=browser_secret,
            issuer=issuer,
            return_to=return_to,
            step_up=step_up,
            now=now,
            launch_tenant=launch_tenant,
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
        return pending if login_usable(pending, browser_secret, self._clock()) else None
