"""Reviewer sessions and sign-ins in flight, in the store, so every replica knows them.

``Sessions`` (``domain/reviewer_sessions.py``) over ``reviewer_sessions`` and
``reviewer_logins`` (0010, ADR 0020). What a database reader sees is useless to an attacker:

* rows are keyed by the SHA-256 of the session id or OAuth ``state`` (the cookie and the
  callback carry the value; the table only its hash);
* the clinician's access token and the CSRF token are one ciphertext under the tenant's data
  key, bound to the row's key (so a blob copied to another row does not decrypt), and a
  crypto-shredded tenant's sessions simply end;
* the PKCE verifier and nonce sit in clear for at most ten minutes and are deleted on use.

Ending a session deletes its row: sign-out and revocation are seen by every replica on its
next request. Sign-ins in flight are capped (the login page needs no session, so a flood
must not fill the table): past the cap the oldest are dropped, as in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, RowMapping, delete, func, insert, or_, select, update

from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.engine import writer_lock
from chartgate.domain.errors import DecryptionError
from chartgate.domain.reviewer_sessions import (
    LOGIN_SECONDS,
    LaunchContext,
    PendingLogin,
    ReviewerSession,
    SessionEnded,
    SessionLimits,
    digest,
    login_usable,
    new_login,
    new_session,
)
from chartgate.service.ports import Cipher

MAX_PENDING = 10_000
_S = t.reviewer_sessions.c
_L = t.reviewer_logins.c


def _aad(id_hash: str) -> bytes:
    return b"reviewer-session:" + id_hash.encode()


class SqlSessionStore:
    """``Sessions`` over the store; safe across threads, processes and hosts."""

    def __init__(
        self,
        engine: Engine,
        cipher: Cipher | None,
        limits: SessionLimits,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self._engine = engine
        self._cipher_or_none = cipher  # None: opened to count and revoke only (the CLI)
        self._clock = clock

    @property
    def _cipher(self) -> Cipher:
        if self._cipher_or_none is None:
            msg = "this session store was opened without keys (count and revoke only)"
            raise RuntimeError(msg)
        return self._cipher_or_none

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (behind the SQLite writer lock, as every writer)."""
        lock = writer_lock(self._engine)
        if lock is not None:
            lock.acquire()
        try:
            with self._engine.begin() as conn:
                yield conn
        finally:
            if lock is not None:
                lock.release()

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
        id_hash = digest(session.id)
        secret = json.dumps({"access_token": access_token, "csrf": session.csrf}).encode()
        blob = self._cipher.encrypt(tenant, secret, aad=_aad(id_hash))  # outside the write
        with self._write() as conn:
            conn.execute(
                delete(t.reviewer_sessions).where(
                    or_(
                        _S.created < now - self.limits.absolute,
                        _S.last_seen < now - self.limits.idle,
                    )
                )
            )
            conn.execute(
                insert(t.reviewer_sessions).values(
                    id_hash=id_hash,
                    tenant=tenant,
                    subject=subject,
                    sid=sid,
                    issuer=issuer,
                    secret_blob=blob,
                    created=now,
                    last_seen=now,
                    notices=[],
                    launch_patient=session.launch_patient,
                    launch_encounter=session.launch_encounter,
                )
            )
        session.saved = self._save_notices
        return session

    def get(self, session_id: str | None, *, touch: bool = True) -> ReviewerSession:
        """The live session named by the cookie; else ``SessionEnded``.

        ``touch`` restarts the idle clock (one short UPDATE); the page's background status
        poll passes ``False``, so a page left open still idles out.
        """
        if not session_id:
            raise SessionEnded("missing")
        now = self._clock()
        row = self._row(digest(session_id))
        if row is None:
            raise SessionEnded("missing")
        ended = self.limits.ended(created=row["created"], last_seen=row["last_seen"], now=now)
        if ended is not None:
            self.end(session_id)
            raise SessionEnded(ended)
        session = self._session(session_id, row)
        if session is None:
            self.end(session_id)
            raise SessionEnded("missing")
        if touch:
            with self._write() as conn:
                conn.execute(
                    update(t.reviewer_sessions)
                    .where(_S.id_hash == digest(session_id), _S.last_seen < now)
                    .values(last_seen=now)
                )
            session.last_seen = now
        return session

    def peek(self, session_id: str | None) -> ReviewerSession | None:
        """The session named by the cookie, live or not, without touching it."""
        if not session_id:
            return None
        row = self._row(digest(session_id))
        return self._session(session_id, row) if row is not None else None

    def end(self, session_id: str | None) -> None:
        """Forget a session (sign-out, or a check failed): every replica sees it at once."""
        if not session_id:
            return
        with self._write() as conn:
            conn.execute(delete(t.reviewer_sessions).where(_S.id_hash == digest(session_id)))

    def revoke(self, *, tenant: str, subject: str | None = None) -> int:
        """End every session of ``subject`` (or of the whole tenant); how many ended."""
        query = delete(t.reviewer_sessions).where(_S.tenant == tenant)
        if subject is not None:
            query = query.where(_S.subject == subject)
        with self._write() as conn:
            return conn.execute(query).rowcount

    def end_for(self, issuer: str, *, sid: str | None, subject: str | None) -> int:
        """End the sessions an identity provider's logout names (by ``sid``, else ``sub``)."""
        if sid is None and subject is None:
            return 0
        query = delete(t.reviewer_sessions).where(_S.issuer == issuer)
        if sid is not None:
            query = query.where(_S.sid == sid)
        if subject is not None:
            query = query.where(_S.subject == subject)
        with self._write() as conn:
            return conn.execute(query).rowcount

    def count(self, *, tenant: str | None = None) -> int:
        """Live sessions (of one tenant, or of all)."""
        now = self._clock()
        query = select(func.count()).where(
            _S.created >= now - self.limits.absolute, _S.last_seen >= now - self.limits.idle
        )
        if tenant is not None:
            query = query.where(_S.tenant == tenant)
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            return int(conn.execute(query).scalar_one())

    def _row(self, id_hash: str) -> RowMapping | None:
        with self._engine.connect().execution_options(chartgate_read_only=True) as conn:
            return (
                conn.execute(select(t.reviewer_sessions).where(_S.id_hash == id_hash))
                .mappings()
                .one_or_none()
            )

    def _session(self, session_id: str, row: RowMapping) -> ReviewerSession | None:
        try:
            plain = self._cipher.decrypt(
                row["tenant"], row["secret_blob"], aad=_aad(row["id_hash"])
            )
        except DecryptionError:  # a shredded tenant key or a moved blob: no session
            return None
        secret = json.loads(plain)
        return ReviewerSession(
            id=session_id,
            tenant=row["tenant"],
            subject=row["subject"],
            sid=row["sid"],
            issuer=row["issuer"],
            access_token=secret["access_token"],
            csrf=secret["csrf"],
            created=row["created"],
            last_seen=row["last_seen"],
            notices=[(str(kind), str(text)) for kind, text in row["notices"]],
            saved=self._save_notices,
            launch_patient=row["launch_patient"],
            launch_encounter=row["launch_encounter"],
        )

    def _save_notices(self, session: ReviewerSession) -> None:
        with self._write() as conn:
            conn.execute(
                update(t.reviewer_sessions)
                .where(_S.id_hash == digest(session.id))
                .values(notices=[list(n) for n in session.notices])
            )

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
        with self._write() as conn:
            conn.execute(delete(t.reviewer_logins).where(_L.created < now - LOGIN_SECONDS))
            conn.execute(
                insert(t.reviewer_logins).values(
                    state_hash=digest(pending.state),
                    browser=pending.browser,
                    issuer=issuer,
                    verifier=pending.verifier,
                    nonce=pending.nonce,
                    return_to=return_to,
                    step_up=step_up,
                    created=now,
                    launch_tenant=launch_tenant,
                )
            )
            over = conn.execute(select(func.count()).select_from(t.reviewer_logins)).scalar_one()
            if over > MAX_PENDING:
                oldest = select(_L.state_hash).order_by(_L.created).limit(over - MAX_PENDING)
                conn.execute(delete(t.reviewer_logins).where(_L.state_hash.in_(oldest)))
        return pending

    def finish_login(self, state: str | None, browser_secret: str | None) -> PendingLogin | None:
        """The sign-in named by ``state``, once, if it is fresh and this browser started it.

        ``DELETE … RETURNING`` takes the row: of two callbacks racing on two replicas with
        the same ``state``, one gets it and the other gets nothing.
        """
        if not state:
            return None
        with self._write() as conn:
            row = (
                conn.execute(
                    delete(t.reviewer_logins)
                    .where(_L.state_hash == digest(state))
                    .returning(*t.reviewer_logins.c)
                )
                .mappings()
                .one_or_none()
            )
        if row is None:
            return None
        pending = PendingLogin(
            state=state,
            browser=row["browser"],
            issuer=row["issuer"],
            verifier=row["verifier"],
            nonce=row["nonce"],
            return_to=row["return_to"],
            step_up=bool(row["step_up"]),
            created=row["created"],
            launch_tenant=row["launch_tenant"],
        )
        return pending if login_usable(pending, browser_secret, self._clock()) else None
