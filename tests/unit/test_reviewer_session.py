"""The reviewer page's sessions: short, bound, and CSRF-checked."""

from __future__ import annotations

import pytest

from chartgate.web.session import LOGIN_SECONDS, SessionEnded, SessionLimits, SessionStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> SessionStore:
    return SessionStore(SessionLimits(idle=300, absolute=3600), clock=clock)


def new_session(store: SessionStore):
    return store.create(
        tenant="clinic-a", subject="dr-a", sid="sid-1", issuer="https://idp", access_token="t"
    )


def test_a_session_unused_longer_than_the_idle_limit_ends(store, clock) -> None:
    """Idle past the limit: the session is gone and says why."""
    session = new_session(store)
    clock.now += 301
    with pytest.raises(SessionEnded) as ended:
        store.get(session.id)
    assert ended.value.reason == "idle"
    with pytest.raises(SessionEnded):
        store.get(session.id)


def test_activity_keeps_a_session_alive_but_not_past_the_absolute_limit(store, clock) -> None:
    """Each request restarts the idle clock; the absolute limit ends it anyway."""
    session = new_session(store)
    for _ in range(12):
        clock.now += 290
        assert store.get(session.id) is session
    clock.now += 290
    with pytest.raises(SessionEnded) as ended:
        store.get(session.id)
    assert ended.value.reason == "absolute"


def test_the_background_poll_does_not_count_as_activity(store, clock) -> None:
    """A page left open polling the write-back still idles out."""
    session = new_session(store)
    for _ in range(2):
        clock.now += 100
        store.get(session.id, touch=False)
    clock.now += 150
    with pytest.raises(SessionEnded):
        store.get(session.id)


def test_unknown_and_missing_session_ids_are_refused(store) -> None:
    """No cookie, or a cookie naming nothing, is no session."""
    for value in (None, "", "made-up"):
        with pytest.raises(SessionEnded) as ended:
            store.get(value)
        assert ended.value.reason == "missing"


def test_every_session_gets_its_own_id_and_csrf_token(store) -> None:
    """New sign-in, new id and new token (no fixation, no shared CSRF token)."""
    first, second = new_session(store), new_session(store)
    assert first.id != second.id
    assert first.csrf != second.csrf
    assert first.csrf_ok(first.csrf)
    assert not first.csrf_ok(second.csrf)
    assert not first.csrf_ok(None)
    assert not first.csrf_ok("")


def test_ended_sessions_are_forgotten(store) -> None:
    """Sign-out removes the session for good."""
    session = new_session(store)
    store.end(session.id)
    assert store.peek(session.id) is None


def test_notices_are_shown_once(store) -> None:
    """A flash message survives one redirect, not two."""
    session = new_session(store)
    session.notify("ok", "Saved as version 2.")
    assert session.take_notices() == [("ok", "Saved as version 2.")]
    assert session.take_notices() == []


def test_a_sign_in_completes_once_in_the_browser_that_started_it(store) -> None:
    """The callback needs the state and the login cookie of the same browser, once."""
    pending = store.begin_login(
        browser_secret="browser-1", issuer="https://idp", return_to="/review/x", step_up=False
    )
    assert store.finish_login(pending.state, "browser-2") is None  # login CSRF
    pending = store.begin_login(
        browser_secret="browser-1", issuer="https://idp", return_to="/review/x", step_up=False
    )
    assert store.finish_login(pending.state, "browser-1") == pending
    assert store.finish_login(pending.state, "browser-1") is None  # replay


def test_a_sign_in_left_too_long_cannot_complete(store, clock) -> None:
    """A callback more than ten minutes late is refused."""
    pending = store.begin_login(
        browser_secret="b", issuer="https://idp", return_to="/review/x", step_up=True
    )
    clock.now += LOGIN_SECONDS + 1
    assert store.finish_login(pending.state, "b") is None


def test_the_pkce_verifier_is_long_and_unguessable(store) -> None:
    """RFC 7636: 43-128 characters of high entropy, different every time."""
    one = store.begin_login(browser_secret="b", issuer="i", return_to="/", step_up=False)
    two = store.begin_login(browser_secret="b", issuer="i", return_to="/", step_up=False)
    assert 43 <= len(one.verifier) <= 128
    assert one.verifier != two.verifier
    assert one.nonce != two.nonce
