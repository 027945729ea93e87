"""Fault injection for the sandbox EHR: storms, latency, timeouts, dropped answers, expiry.

A ``FaultPlan`` says what goes wrong next; ``FaultInjector`` is the outermost ASGI layer of
the sandbox app and applies it to FHIR requests only (never to ``/__sandbox`` or the IdP).
The plan is set in code (``FaultPlan(...)``, ``plan.configure(...)``) or at run time with
``POST /__sandbox/faults``, whose JSON body *replaces* the whole plan (absent key = off)::

    {
      "latency_ms": 250,                                   # every FHIR request, until changed
      "status_storm": {"count": 3, "status": 503, "retry_after": 1},   # or 429; see StatusStorm
      "timeout": {"count": 1, "seconds": 10, "before_commit": false},
      "commit_then_drop": {"count": 1},                    # or just 1
      "refuse": {"count": 1, "status": 403, "resource_type": "Provenance"},
      "token_expiry": {"count": 2}                         # or just 2
    }

``GET /__sandbox/faults`` answers the same shape with the remaining counts, plus
``"injected"``: how many of each fault were served so far (ignored when posted back).

At most one counted fault hits one request, checked in this order: ``token_expiry`` (401,
nothing processed), ``status_storm`` (503/429 with ``Retry-After``, nothing processed),
``refuse`` (mutating requests on ``resource_type``, or on any type when it is absent: a 4xx
refusal with an OperationOutcome, nothing processed),
``commit_then_drop`` (mutating methods only: processed and committed, then the connection is
aborted with no answer), ``timeout`` (processed, then the answer is held ``seconds``; with
``before_commit`` the hold comes first, but the body is read up front so the write still lands
after the client gave up; ``FaultPlan.release_held`` ends the holds early, for a test that
needs the late write to land right after a given step). ``latency_ms`` delays every FHIR
request before all of that.

Dropping the answer: under uvicorn the injector finds the connection's transport through the
server's own ``send`` callable (``send.__self__.transport``, the h11/httptools request cycle)
and calls ``transport.abort()``: the client sees the connection close without a single byte
(httpx: ``RemoteProtocolError``). That is why the injector must be the outermost layer. In an
in-process transport (httpx ``ASGITransport``, Starlette ``TestClient``) there is no
connection to abort, so the injector raises ``SandboxConnectionDropped`` after the commit,
and the caller sees that exception instead of an HTTP answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JsonObject = dict[str, Any]

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STORM_STATUSES = frozenset({429, 500, 502, 503, 504})


class FaultSpecError(ValueError):
    """A fault plan (JSON or arguments) that does not follow the contract."""


class SandboxConnectionDropped(ConnectionError):
    """The sandbox committed a write and dropped the answer (in-process transports only)."""


class FaultKind(StrEnum):
    """The counted faults, in the order they are checked."""

    TOKEN_EXPIRY = "token_expiry"  # noqa: S105 - a fault name, not a secret
    STATUS_STORM = "status_storm"
    REFUSE = "refuse"
    COMMIT_THEN_DROP = "commit_then_drop"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class StatusStorm:
    """The next ``count`` FHIR requests answer ``status`` (with ``Retry-After`` seconds).

    ``resource_type``: only requests for that type (e.g. the note, not the Encounter read
    before it); any type when None. ``writes_only``: only creates and updates answer it.
    """

    count: int
    status: int = 503
    retry_after: int | None = 1
    resource_type: str | None = None
    writes_only: bool = False  # only creates/updates answer it (a read goes through)

    def __post_init__(self) -> None:
        _check_count(self.count, "status_storm.count")
        if self.resource_type is not None and not (
            isinstance(self.resource_type, str) and self.resource_type.isalpha()
        ):
            raise FaultSpecError("status_storm.resource_type must be a FHIR resource type name")
        if not isinstance(self.writes_only, bool):
            raise FaultSpecError("status_storm.writes_only must be true or false")
        if self.status not in STORM_STATUSES:
            raise FaultSpecError(f"status_storm.status must be one of {sorted(STORM_STATUSES)}")
        if self.retry_after is not None and (
            not isinstance(self.retry_after, int) or self.retry_after < 0
        ):
            raise FaultSpecError("status_storm.retry_after must be a non-negative integer")


REFUSAL_STATUSES = frozenset({400, 403, 404, 405, 409, 412, 415, 422})


@dataclass(frozen=True, slots=True)
class Refusal:
    """The next ``count`` writes of ``resource_type`` (any type when None) are refused."""

    count: int
    status: int = 400
    resource_type: str | None = None

    def __post_init__(self) -> None:
        _check_count(self.count, "refuse.count")
        if self.status not in REFUSAL_STATUSES:
            raise FaultSpecError(f"refuse.status must be one of {sorted(REFUSAL_STATUSES)}")
        if self.resource_type is not None and not (
            isinstance(self.resource_type, str) and self.resource_type.isalpha()
        ):
            raise FaultSpecError("refuse.resource_type must be a FHIR resource type name")


@dataclass(frozen=True, slots=True)
class SlowAnswer:
    """The next ``count`` FHIR requests are answered ``seconds`` late (a client timeout)."""

    count: int
    seconds: float = 10.0
    before_commit: bool = False

    def __post_init__(self) -> None:
        _check_count(self.count, "timeout.count")
        if not isinstance(self.seconds, int | float) or not 0 <= self.seconds <= 600:  # noqa: PLR2004
            raise FaultSpecError("timeout.seconds must be a number from 0 to 600")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault chosen for one request."""

    kind: FaultKind
    status: int = 0
    retry_after: int | None = None
    seconds: float = 0.0
    before_commit: bool = False


@dataclass(slots=True)
class _State:
    latency_ms: int = 0
    status_storm: StatusStorm | None = None
    refuse: Refusal | None = None
    timeout: SlowAnswer | None = None
    commit_then_drop: int = 0
    token_expiry: int = 0
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FaultKind, 0))


class FaultPlan:
    """What goes wrong next in the sandbox EHR; safe to change from any thread.

    Args:
        latency_ms: Delay before every FHIR request, in milliseconds.
        status_storm: The next requests answer 503 or 429.
        refuse: The next writes (of one resource type) are refused with a 4xx.
        timeout: The next requests are answered late.
        commit_then_drop: How many mutating requests commit and then get no answer.
        token_expiry: How many requests answer 401 as if the access token had expired.
    """

    def __init__(
        self,
        *,
        latency_ms: int = 0,
        status_storm: StatusStorm | None = None,
        refuse: Refusal | None = None,
        timeout: SlowAnswer | None = None,
        commit_then_drop: int = 0,
        token_expiry: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        self._release_callbacks: list[Callable[[], None]] = []
        self.configure(
            latency_ms=latency_ms,
            status_storm=status_storm,
            refuse=refuse,
            timeout=timeout,
            commit_then_drop=commit_then_drop,
            token_expiry=token_expiry,
        )

    def configure(
        self,
        *,
        latency_ms: int = 0,
        status_storm: StatusStorm | None = None,
        refuse: Refusal | None = None,
        timeout: SlowAnswer | None = None,
        commit_then_drop: int = 0,
        token_expiry: int = 0,
    ) -> None:
        """Replace the whole plan (arguments left out are switched off).

        Raises:
            FaultSpecError: A count or delay is negative or not an integer.
        """
        _check_count(latency_ms, "latency_ms")
        _check_count(commit_then_drop, "commit_then_drop.count")
        _check_count(token_expiry, "token_expiry.count")
        with self._lock:
            self._state.latency_ms = latency_ms
            self._state.status_storm = status_storm if status_storm and status_storm.count else None
            self._state.refuse = refuse if refuse and refuse.count else None
            self._state.timeout = timeout if timeout and timeout.count else None
            self._state.commit_then_drop = commit_then_drop
            self._state.token_expiry = token_expiry

    def clear(self) -> None:
        """Switch every fault off and forget the injected counts."""
        self.configure()
        with self._lock:
            self._state.injected = dict.fromkeys(FaultKind, 0)

    def load_json(self, data: object) -> None:
        """Replace the plan from the ``POST /__sandbox/faults`` JSON body.

        Raises:
            FaultSpecError: The body does not follow the contract in this module's docstring.
        """
        if not isinstance(data, Mapping):
            raise FaultSpecError("the fault plan must be a JSON object")
        unknown = set(data) - {"latency_ms", "injected", *FaultKind}
        if unknown:
            raise FaultSpecError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        storm = _object_or_none(data.get("status_storm"), "status_storm")
        slow = _object_or_none(data.get("timeout"), "timeout")
        refuse = _object_or_none(data.get("refuse"), "refuse")
        try:
            self.configure(
                latency_ms=_check_count(data.get("latency_ms", 0), "latency_ms"),
                status_storm=StatusStorm(**storm) if storm is not None else None,
                refuse=Refusal(**refuse) if refuse is not None else None,
                timeout=SlowAnswer(**slow) if slow is not None else None,
                commit_then_drop=_count_of(data.get("commit_then_drop"), "commit_then_drop"),
                token_expiry=_count_of(data.get("token_expiry"), "token_expiry"),
            )
        except TypeError as e:  # an unknown or missing field of status_storm/timeout
            raise FaultSpecError(f"bad fault field: {e}") from e

    def to_json(self) -> JsonObject:
        """Return the plan as ``GET /__sandbox/faults`` shows it (remaining counts)."""
        with self._lock:
            state = self._state
            storm, slow, refuse = state.status_storm, state.timeout, state.refuse
            return {
                "latency_ms": state.latency_ms,
                "status_storm": None
                if storm is None
                else {
                    "count": storm.count,
                    "status": storm.status,
                    "retry_after": storm.retry_after,
                    "resource_type": storm.resource_type,
                    "writes_only": storm.writes_only,
                },
                "timeout": None
                if slow is None
                else {
                    "count": slow.count,
                    "seconds": slow.seconds,
                    "before_commit": slow.before_commit,
                },
                "refuse": None
                if refuse is None
                else {
                    "count": refuse.count,
                    "status": refuse.status,
                    "resource_type": refuse.resource_type,
                },
                "commit_then_drop": {"count": state.commit_then_drop},
                "token_expiry": {"count": state.token_expiry},
                "injected": {str(k): v for k, v in state.injected.items()},
            }

    def release_held(self) -> None:
        """End the holds of the ``timeout`` answers now held: each goes on at once.

        A test that needs a held request to land *after* some step (a search, a re-read)
        releases it right after that step instead of waiting out ``seconds``, which stays
        the longest the hold can last.
        """
        with self._lock:
            callbacks = list(self._release_callbacks)
        for callback in callbacks:
            callback()

    def on_release(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` at the next ``release_held``; return the function that forgets it.

        The fault injector registers one per held answer (``callback`` must be safe to call
        from any thread) and forgets it when the hold ends either way.
        """
        with self._lock:
            self._release_callbacks.append(callback)

        def forget() -> None:
            with self._lock:
                if callback in self._release_callbacks:
                    self._release_callbacks.remove(callback)

        return forget

    @property
    def latency_seconds(self) -> float:
        """The delay added to every FHIR request, in seconds."""
        with self._lock:
            return self._state.latency_ms / 1000

    def injected(self, kind: FaultKind) -> int:
        """Return how many times the fault ``kind`` was served so far."""
        with self._lock:
            return self._state.injected[kind]

    def next_fault(self, *, mutating: bool, resource_type: str | None = None) -> Fault | None:
        """Choose the fault for one request and use up one of its count (atomically)."""
        with self._lock:
            fault = self._take(mutating=mutating, resource_type=resource_type)
            if fault is not None:
                self._state.injected[fault.kind] += 1
            return fault

    def _take(self, *, mutating: bool, resource_type: str | None) -> Fault | None:
        state = self._state
        if state.token_expiry:
            state.token_expiry -= 1
            return Fault(FaultKind.TOKEN_EXPIRY, status=401)
        storm = state.status_storm
        if (
            storm is not None
            and storm.resource_type in (None, resource_type)
            and (mutating or not storm.writes_only)
        ):
            remaining = storm.count - 1
            state.status_storm = (
                StatusStorm(
                    remaining,
                    storm.status,
                    storm.retry_after,
                    storm.resource_type,
                    storm.writes_only,
                )
                if remaining
                else None
            )
            return Fault(FaultKind.STATUS_STORM, status=storm.status, retry_after=storm.retry_after)
        refuse = state.refuse
        if mutating and refuse is not None and refuse.resource_type in (None, resource_type):
            remaining = refuse.count - 1
            state.refuse = (
                Refusal(remaining, refuse.status, refuse.resource_type) if remaining else None
            )
            return Fault(FaultKind.REFUSE, status=refuse.status)
        if mutating and state.commit_then_drop:
            state.commit_then_drop -= 1
            return Fault(FaultKind.COMMIT_THEN_DROP)
        if state.timeout is not None:
            slow = state.timeout
            remaining = slow.count - 1
            state.timeout = (
                SlowAnswer(remaining, slow.seconds, slow.before_commit) if remaining else None
            )
            return Fault(FaultKind.TIMEOUT, seconds=slow.seconds, before_commit=slow.before_commit)
        return None


def _check_count(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FaultSpecError(f"{name} must be a non-negative integer")
    return value


def _object_or_none(value: object, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise FaultSpecError(f"{name} must be an object or null")
    return dict(value)


def _count_of(value: object, name: str) -> int:
    """Read a count-only fault given as ``n`` or ``{"count": n}`` (absent or null = 0)."""
    if value is None:
        return 0
    if isinstance(value, Mapping):
        if set(value) - {"count"}:
            raise FaultSpecError(f"{name} takes only a count")
        value = value.get("count", 0)
    return _check_count(value, f"{name}.count")
