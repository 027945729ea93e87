"""The history harness: many write-backs under seeded faults and worker crashes, all recorded.

In the spirit of Jepsen's model of indeterminate operations: the harness drives chartgate
through its API (submit, approve, finalize, amend, retract, resolve) and its write-back
executor against three EHRs at once, one tenant each:

* ``sandbox``: our sandbox EHR with the ``sandbox`` vendor profile (client-assigned id, ``PUT``
  + ``If-None-Match: *``);
* ``epic``: the sandbox imitating Epic, with the ``epic`` profile (nothing guards a create);
* ``medplum``: the Medplum test EHR with ``generic-r4`` (conditional create).

Work is done in *cells*: one EHR, one fault kind, one crash point, a batch of write-backs. In
a cell the harness sets the fault (seeded count), runs the executor with a crash hook that
kills the worker at the Nth call of the point (seeded N, like ``kill -9``: nothing of the
attempt after that point is committed), then moves a controllable clock past the lease and
lets a fresh executor instance take over. Once the fault rounds are over, faults are cleared,
requests still in flight are given time to land, and the harness settles every write-back,
resolving the ones that need a person the way a person would (look at the chart; ``landed``
pointing at the document that carries the identifier, else ``resend``).

Every client-side operation (``Operation``) and every state the harness saw is recorded; at
the end the chart is read (every DocumentReference and Provenance carrying
``urn:chartgate:writeback``) and ``history_checker.check`` decides. Synthetic data only.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from builders import SOAP_NOTE, edited_note, submission
from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory
from chartgate.adapters.ehr.http import build_client
from chartgate.adapters.storage import tables
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.server import SandboxServer
from chartgate.service.in_flight import TenantSlots, carry
from chartgate.service.writeback import CRASH_POINTS, WritebackExecutor
from chartgate.settings import EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from medplum_ehr import control_url, reset_medplum
from stack import clinician_claims, scribe_claims
from structured_items import CONDITION, STRUCTURED_NOTE, write_policy_file

WRITEBACK_SYSTEM = "urn:chartgate:writeback"
EHR_TIMEOUT = 0.3
"""Seconds the executor waits for the EHR under faults (a held answer costs this much wall)."""
SETTLE_TIMEOUT = 10.0
"""Seconds the API and the settling executor wait for the EHR (production's default)."""
HOLD = 0.5
"""Seconds a ``timeout``/``delay`` fault holds a request: longer than ``EHR_TIMEOUT``."""
LEASE = timedelta(seconds=30)
SETTLE_PATIENCE_SECONDS = 60.0
"""Real seconds a person keeps waiting, after the settle rounds, for an EHR that went quiet."""
CONTROL_ATTEMPTS = 12
"""Tries of an (idempotent) Medplum fault switch, 10 s each. At soak size the test EHR holds
thousands of documents and its conditional creates scan them all (seconds each, one Node
thread): a switch waited past 5 x 10 s once, and that ended a PostgreSQL soak (2026-12-02)."""
TERMINAL = frozenset({"committed", "partial", "rejected", "conflict"})
NO_CRASH = "none"
# Write-backs the executor carries at once (issue 20): the checker runs against the concurrent
# worker; CHARTGATE_HISTORY_IN_FLIGHT=1 runs the one-at-a-time worker.
IN_FLIGHT = int(os.environ.get("CHARTGATE_HISTORY_IN_FLIGHT") or 8)
REAL_PAUSES = os.environ.get("CHARTGATE_HISTORY_REAL_PAUSES") == "1"
# CHARTGATE_HISTORY_LANES=1 runs the EHRs' cells one after another (one lane at a time).
LANES_SIDE_BY_SIDE = os.environ.get("CHARTGATE_HISTORY_LANES") != "1"


class WorkerKilled(BaseException):
    """Raised by the crash hook: the worker dies on the spot, like ``kill -9``."""


# -- the clock ----------------------------------------------------------------------------------


class HarnessClock:
    """The executor's clock: real time plus an offset the harness moves forward.

    Moving it forward stands in for sleeping through a lease or a backoff; the API keeps the
    real clock (tokens are checked against it).
    """

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()  # the executor's threads pause on it (``pause``)
        self.paused = 0.0
        """Seconds of pauses (rate governor, read retries) taken as jumps, not waited."""
        self.pauses = 0

    def now(self) -> datetime:
        """Now, as the executor sees it."""
        return datetime.now(UTC) + self._offset

    def wall(self) -> float:
        """Now as a POSIX timestamp: the rate governor's clock."""
        return self.now().timestamp()

    def pause(self, seconds: float) -> None:
        """A pause the EHR asked for (``Retry-After``, the rate limit): a jump, no real wait."""
        with self._lock:
            self.paused += seconds
            self.pauses += 1
            if REAL_PAUSES:
                time.sleep(seconds)
            else:
                self._offset += timedelta(seconds=seconds)

    def advance_to(self, moment: datetime) -> None:
        """Move forward to ``moment`` (never back)."""
        with self._lock:
            gap = moment - self.now()
            if gap > timedelta(0):
                self._offset += gap

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        with self._lock:
            self._offset += delta


# -- fault kinds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultKind:
    """One fault kind of one EHR: how to switch it on with a count."""

    ehr: str
    name: str
    plan: Callable[[int], dict[str, Any]]
    holds: bool = False
    """True when a request may still land up to ``HOLD`` seconds after chartgate gave up."""

    @property
    def label(self) -> str:
        """``ehr/name``, as the table shows it."""
        return f"{self.ehr}/{self.name}"


STRUCTURED_EHRS = frozenset({"sandbox", "medplum"})
"""EHRs whose profile writes Conditions (Epic's takes notes and Provenance only)."""
STRUCTURED_EVERY = 3
"""Every third draft on those EHRs proposes a Condition: its own write-back, after the note."""
CREATING_KINDS = frozenset({"approve", "amend", "structured"})


def _sandbox_kinds(ehr: str) -> list[FaultKind]:
    def storm(status: int) -> Callable[[int], dict[str, Any]]:
        return lambda n: {"status_storm": {"count": n, "status": status, "retry_after": None}}

    hold_ms = int(HOLD * 1000)
    return [
        FaultKind(ehr, "none", lambda _: {}),
        FaultKind(ehr, "token_expiry", lambda n: {"token_expiry": n}),
        FaultKind(ehr, "storm_429", storm(429)),
        FaultKind(ehr, "storm_500", storm(500)),
        FaultKind(ehr, "storm_502", storm(502)),
        FaultKind(ehr, "storm_503", storm(503)),
        FaultKind(ehr, "storm_504", storm(504)),
        FaultKind(
            ehr,
            "refuse_doc_422",
            lambda n: {"refuse": {"count": n, "status": 422, "resource_type": "DocumentReference"}},
        ),
        FaultKind(
            ehr,
            "refuse_doc_412",
            lambda n: {"refuse": {"count": n, "status": 412, "resource_type": "DocumentReference"}},
        ),
        FaultKind(
            ehr,
            "refuse_prov_403",
            lambda n: {"refuse": {"count": n, "status": 403, "resource_type": "Provenance"}},
        ),
        *(
            [
                FaultKind(
                    ehr,
                    "refuse_cond_422",
                    lambda n: {"refuse": {"count": n, "status": 422, "resource_type": "Condition"}},
                )
            ]
            if ehr in STRUCTURED_EHRS
            else []
        ),
        FaultKind(ehr, "commit_then_drop", lambda n: {"commit_then_drop": n}),
        FaultKind(
            ehr,
            "timeout_after_commit",
            lambda n: {"timeout": {"count": n, "seconds": HOLD, "before_commit": False}},
            holds=True,
        ),
        FaultKind(
            ehr,
            "timeout_before_commit",
            lambda n: {"timeout": {"count": n, "seconds": HOLD, "before_commit": True}},
            holds=True,
        ),
        FaultKind(ehr, "latency", lambda n: {"latency_ms": hold_ms if n % 2 else 50}, holds=True),
    ]


def _medplum_kinds() -> list[FaultKind]:
    def fail(status: int) -> Callable[[int], dict[str, Any]]:
        return lambda n: {"fail_status": status, "count": n}

    return [
        FaultKind("medplum", "none", lambda _: {}),
        FaultKind("medplum", "fail_429", fail(429)),
        FaultKind("medplum", "fail_500", fail(500)),
        FaultKind("medplum", "fail_503", fail(503)),
        FaultKind("medplum", "fail_400", fail(400)),
        FaultKind("medplum", "drop_after_commit", lambda n: {"drop_after_commit": n}),
        FaultKind(
            "medplum",
            "delay",
            lambda n: {"delay_ms": int(HOLD * 1000) if n % 2 else 50},
            holds=True,
        ),
    ]


FAULT_KINDS: dict[str, list[FaultKind]] = {
    "sandbox": _sandbox_kinds("sandbox"),
    "epic": _sandbox_kinds("epic"),
    "medplum": _medplum_kinds(),
}
TENANTS = {"sandbox": "hist-sandbox", "epic": "hist-epic", "medplum": "hist-medplum"}
VENDORS = {"sandbox": "sandbox", "epic": "epic", "medplum": "generic-r4"}


# -- what is recorded ---------------------------------------------------------------------------


@dataclass
class Operation:
    """One client-side operation: what was asked, what chartgate answered."""

    at: datetime
    ehr: str
    action: str
    target: str
    status: int
    writeback: str | None = None


@dataclass
class Crash:
    """One worker killed at a crash point."""

    ehr: str
    point: str
    nth: int
    writebacks_sending: list[str]


@dataclass
class Tracked:
    """One write-back the harness queued, and what it saw happen to it."""

    id: str
    draft_id: str
    kind: str
    ehr: str
    tenant: str
    fault: str
    crash: str
    store: str
    queued_at: datetime
    resource_type: str = "DocumentReference"
    """What it writes: the note, or (kind ``structured``) its Condition."""
    settled_at: datetime | None = None
    states_seen: list[str] = field(default_factory=list)
    resolutions: list[str] = field(default_factory=list)

    @property
    def cell(self) -> tuple[str, str, str]:
        """(fault kind, crash point, store): the row of the table it counts in."""
        return (self.fault, self.crash, self.store)


@dataclass
class History:
    """Everything one run did and saw; the chart is read into it at the end."""

    seed: int
    store: str
    operations: list[Operation] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    writebacks: dict[str, Tracked] = field(default_factory=dict)
    chartgate: dict[str, dict[str, Any]] = field(default_factory=dict)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per EHR: every DocumentReference (current version) carrying the write-back identifier."""
    structured: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per EHR: every Condition carrying the write-back identifier (structured write-backs)."""
    provenances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per EHR: every Provenance carrying the write-back tag."""
    versions: dict[tuple[str, str, str], dict[str, Any] | None] = field(default_factory=dict)
    """(ehr, document id, version) -> that version as the chart holds it (None: not there)."""
    notes: list[str] = field(default_factory=list)
    """What the person saw that no resolution fits (reported with any violation)."""
    ledger_ok: dict[str, str | None] = field(default_factory=dict)
    """Per tenant: None when the ledger verifies, else what verify said."""
    wall_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    """Wall seconds spent per part of the run (where the time goes; printed by the test)."""
    counts: dict[str, int] = field(default_factory=dict)
    """How often each costly thing happened (settle rounds, patience pauses, new workers...)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the wall time of the block to ``phases[phase]`` (summed over the EHR lanes)."""
        began = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - began

    def count(self, what: str, n: int = 1) -> None:
        """Count one more ``what``."""
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def profile(self) -> str:
        """Where the wall time went, largest first, and the counts."""
        lines = [
            f"  {name:<24} {secs:8.1f} s"
            for name, secs in sorted(self.phases.items(), key=lambda kv: -kv[1])
        ]
        lines += [f"  {name:<24} {n:8d}" for name, n in sorted(self.counts.items())]
        return "\n".join(lines)


# -- the crash hook -----------------------------------------------------------------------------


class CrashAt:
    """Kills the worker at the ``nth`` call of ``point`` (and never otherwise)."""

    def __init__(self, point: str, nth: int) -> None:
        self.point = point
        self.nth = nth
        self.calls = 0

    def __call__(self, point: str) -> None:
        """The executor's crash hook."""
        if point != self.point:
            return
        self.calls += 1
        if self.calls == self.nth:
            raise WorkerKilled(point)


def _never(point: str) -> None:
    del point


# -- the system under test ----------------------------------------------------------------------

NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass
class Ehr:
    """One EHR the harness writes to, and how to set its faults."""

    name: str
    fhir_base: str
    set_faults: Callable[[dict[str, Any]], None]
    http: httpx.Client

    @contextmanager
    def client(self) -> Iterator[httpx.Client]:
        """A plain FHIR client on this EHR (the harness looking at the chart)."""
        yield self.http


def _switch_medplum(control: httpx.Client, url: str, plan: dict[str, Any]) -> None:
    """Set (or, with an empty plan, clear) the Medplum test EHR's faults.

    Switching is idempotent (the body replaces the whole configuration), so a request that
    got no answer is sent again: on a loaded machine the test EHR has, rarely, let one wait
    longer than the client's timeout.
    """
    for attempt in range(CONTROL_ATTEMPTS):
        try:
            answer = control.post(url, json=plan) if plan else control.delete(url)
            answer.raise_for_status()
        except httpx.TransportError:
            if attempt == CONTROL_ATTEMPTS - 1:
                raise
        else:
            return


@dataclass(frozen=True)
class System:
    """What ``running_system`` runs: chartgate, its API client, the IdP sandbox, the EHRs."""

    app: Application
    api: httpx.Client
    idp: SandboxServer
    ehrs: dict[str, Ehr]
    under_faults: ConfiguredEhrDirectory
    """The executor's EHR clients while faults are on (``EHR_TIMEOUT``); ``app.ehr`` has
    production's timeout, for the API and for settling."""


@contextmanager
def running_system(
    database_url: str, workdir: Path, medplum_base: str, clock: HarnessClock
) -> Iterator[System]:
    """Two sandboxes (plain and Epic-like) and chartgate with one tenant per EHR."""
    reset_medplum(medplum_base)
    with ExitStack() as stack:
        # SQLite files (chartgate's and the sandboxes') on a RAM disk where there is one: the
        # run is about the write-back's logic, not about the disk's fsync latency.
        if Path("/dev/shm").is_dir():  # noqa: S108 - a private temporary directory in it
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir="/dev/shm")))
            if database_url.startswith("sqlite"):
                database_url = f"sqlite:///{workdir / 'chartgate.sqlite3'}"
        plain = stack.enter_context(SandboxServer(workdir / "sandbox.sqlite3"))
        epic = stack.enter_context(SandboxServer(workdir / "epic.sqlite3", vendor="epic"))

        # One client for every look at the charts and every fault switch (a new client
        # per request costs more than the request).
        # No kept-alive connections to the test servers: Node closes an idle one after 5 s,
        # and a request racing that close waits for an answer that never comes.
        fresh = httpx.Limits(max_keepalive_connections=0)
        control = stack.enter_context(httpx.Client(timeout=10, limits=fresh))

        def sandbox_faults(server: SandboxServer) -> Callable[[dict[str, Any]], None]:
            def apply(plan: dict[str, Any]) -> None:
                server.faults.load_json(plan)

            return apply

        def medplum_faults(plan: dict[str, Any]) -> None:
            _switch_medplum(control, f"{control_url(medplum_base)}/__faults", plan)

        def fhir(base: str) -> httpx.Client:
            return stack.enter_context(
                httpx.Client(
                    base_url=base,
                    timeout=30,
                    limits=fresh,
                    headers={"Accept": "application/fhir+json"},
                )
            )

        ehrs = {
            "sandbox": Ehr(
                "sandbox", plain.fhir_base, sandbox_faults(plain), fhir(plain.fhir_base)
            ),
            "epic": Ehr("epic", epic.fhir_base, sandbox_faults(epic), fhir(epic.fhir_base)),
            "medplum": Ehr("medplum", medplum_base, medplum_faults, fhir(medplum_base)),
        }
        settings = Settings(
            database_url=database_url,
            key_file=str(workdir / "kek.key"),
            policy=write_policy_file(workdir),  # structured resources are written (issue 13)
            tenants=[
                TenantSettings(
                    id=TENANTS[name],
                    issuers=[plain.issuer],
                    ehr=EhrSettings(
                        base_url=ehr.fhir_base, vendor=VENDORS[name], timeout_seconds=SETTLE_TIMEOUT
                    ),
                )
                for name, ehr in ehrs.items()
            ],
        )
        app = build(settings, migrate=True)
        stack.callback(app.close)

        def directory(timeout: float) -> ConfiguredEhrDirectory:
            """EHR clients as production's (``build_client``) with this timeout.

            They send without Nagle's delay (httpx writes a request's head and body apart,
            and the body would wait ~40 ms for the EHR's delayed ACK). A pause the EHR asks
            for (429, Retry-After, the rate limit) is a jump of the executor's clock, as its
            backoff is: the run pays for what the EHR does, never for waiting on a timer (the
            fault kinds count requests, not seconds).
            """
            made = ConfiguredEhrDirectory(
                {t.id: t for t in settings.tenants},
                gate=app.gate,
                clients={
                    t.id: build_client(
                        gate=app.gate.bound(tenants=(t.id,), purpose="ehr"),
                        timeout_seconds=timeout,
                        transport=httpx.HTTPTransport(socket_options=NO_DELAY),
                    )
                    for t in settings.tenants
                },
                wall=clock.wall,
                sleep=clock.pause,
            )
            stack.callback(made.close)
            return made

        # Under faults the executor gives up after EHR_TIMEOUT (a held answer must become
        # an ambiguous attempt); once the faults are off, the API (a person resolving) and
        # the settling executor wait as long as production does (``SETTLE_TIMEOUT``): a test
        # EHR that grew to thousands of documents answers a search in seconds, and a short
        # timeout there would only measure the test EHR's speed, never chartgate's state.
        app.ehr = directory(SETTLE_TIMEOUT)
        under_faults = directory(EHR_TIMEOUT)
        server = stack.enter_context(ThreadedServer(create_app(app)))
        api = stack.enter_context(
            httpx.Client(
                base_url=server.base_url,
                timeout=30,
                transport=httpx.HTTPTransport(socket_options=NO_DELAY),
            )
        )
        yield System(app, api, plain, ehrs, under_faults)


# -- the harness ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How much to run: write-backs per cell approval batch, fault rounds, crashes per cell."""

    batch: int
    fault_rounds: int = 3
    crashes: int = 2
    follow_ups: bool = True
    lanes_side_by_side: bool = LANES_SIDE_BY_SIDE
    """Run the cells of the three EHRs side by side (one lane each) rather than in turn."""
    points_per_kind: int | None = None
    """Crash points (of the four, plus none) each fault kind is paired with; None: all five.

    Fewer still cover every point: the points rotate over the kinds.
    """


class Harness:
    """Runs cells of write-backs against a running system and records the history."""

    def __init__(
        self,
        system: System,
        *,
        seed: int,
        store: str,
        clock: HarnessClock,
        history: History | None = None,
        lane: str = "",
    ) -> None:
        self.app = system.app
        self.api = system.api
        self.idp = system.idp
        self.ehrs = system.ehrs
        self._under_faults = system.under_faults
        self.rng = random.Random(seed)  # noqa: S311 - a seeded schedule, not a secret
        self.clock = clock
        self.history = history or History(seed=seed, store=store)
        self.lane = lane
        self._lives = 0
        self._case = 0
        self._quiet_at = 0.0

    # -- tokens and client operations ---------------------------------------------------------

    def _headers(self, ehr: str, role: str) -> dict[str, str]:
        tenant = TENANTS[ehr]
        claims = (
            scribe_claims(tenant, "scribe-history")
            if role == "scribe"
            else clinician_claims(tenant, subject="clinician-history")
        )
        token = self.idp.idp.mint(**claims)
        return {"Authorization": f"Bearer {token}"}

    def _op(
        self, ehr: str, action: str, target: str, answer: httpx.Response
    ) -> dict[str, Any] | None:
        body: dict[str, Any] = answer.json() if answer.content else {}
        writeback = body.get("writeback", {}).get("id") if isinstance(body, dict) else None
        self.history.operations.append(
            Operation(self.clock.now(), ehr, action, target, answer.status_code, writeback)
        )
        return body if answer.is_success else None

    def _track(self, body: dict[str, Any], ehr: str, fault: FaultKind, crash: str) -> str:
        record = body["writeback"]
        self.history.writebacks[record["id"]] = Tracked(
            resource_type=record.get("resource_type", "DocumentReference"),
            id=record["id"],
            draft_id=record["draft_id"],
            kind=record["kind"],
            ehr=ehr,
            tenant=TENANTS[ehr],
            fault=fault.label,
            crash=crash,
            store=self.history.store,
            queued_at=self.clock.now(),
        )
        return str(record["id"])

    def approve_new(
        self, ehr: str, fault: FaultKind, crash: str, scribe: dict[str, str], clin: dict[str, str]
    ) -> list[str]:
        """Submit a synthetic draft and approve it; return its write-back ids.

        Every ``STRUCTURED_EVERY``-th draft on an EHR whose profile writes Conditions proposes
        one: its structured write-back is tracked beside the note's (issue 13 item 5).
        """
        self._case += 1
        structured = ehr in STRUCTURED_EHRS and self._case % STRUCTURED_EVERY == 0
        text = STRUCTURED_NOTE if structured else SOAP_NOTE
        note = {
            "type": "11506-3",
            "title": "Progress note",
            "content_type": "text/markdown",
            "text": f"{text}\nSynthetic history case {self._case}.\n",
        }
        body = submission(note=note, resources=[CONDITION] if structured else [])
        created = self._op(
            ehr, "submit", "draft", self.api.post("/v1/drafts", json=body, headers=scribe)
        )
        if created is None:
            return []
        draft_id = created["id"]
        approved = self._op(
            ehr,
            "approve",
            draft_id,
            self.api.post(f"/v1/drafts/{draft_id}/approve", headers={**clin, "If-Match": 'W/"1"'}),
        )
        if approved is None:
            return []
        ids = [self._track(approved, ehr, fault, crash)]
        if structured:
            view = self.api.get(f"/v1/drafts/{draft_id}", headers=clin).json()
            ids.extend(
                self._track(item, ehr, fault, crash)
                for item in view["structured"]
                if item["writeback"] is not None
            )
        return ids

    def follow_up(
        self, tracked: Tracked, action: str, fault: FaultKind, clin: dict[str, str]
    ) -> list[str]:
        """Finalize, amend or retract the note ``tracked`` committed; return the write-back ids."""
        ehr = tracked.ehr
        if action == "finalize":
            answer = self.api.post(f"/v1/drafts/{tracked.draft_id}/finalize", headers=clin)
        elif action == "retract":
            answer = self.api.post(
                f"/v1/writebacks/{tracked.id}/retract",
                json={"reason": "clinical-error"},
                headers=clin,
            )
        else:
            view = self.api.get(f"/v1/drafts/{tracked.draft_id}", headers=clin).json()
            edit = edited_note(
                view, "Return if symptoms worsen.", "Return if symptoms worsen or fever starts."
            )
            answer = self.api.post(
                f"/v1/writebacks/{tracked.id}/amend",
                json=edit,
                headers={**clin, "If-Match": f'W/"{view["current_version"]}"'},
            )
        body = self._op(ehr, action, tracked.id, answer)
        if body is None:
            return []
        ids = [self._track(body, ehr, fault, tracked.crash)]
        if action in ("retract", "amend"):
            # Retract: its structured resources go entered-in-error after it. Amend (ADR 0031):
            # a proposal not in the chart is created again, a changed one updated, a removed
            # one retracted, each after the amendment.
            view = self.api.get(f"/v1/drafts/{tracked.draft_id}", headers=clin).json()
            ids.extend(
                self._track({"writeback": record}, ehr, fault, tracked.crash)
                for item in view.get("structured", [])
                for record in (item["writeback"], item.get("update"), item["retraction"])
                if record is not None and record["id"] not in self.history.writebacks
            )
        return ids

    # -- the worker -----------------------------------------------------------------------------

    def _executor(
        self, crash: Callable[[str], None], *, settling: bool = False
    ) -> WritebackExecutor:
        """A new worker life; under faults it gives up on the EHR after ``EHR_TIMEOUT``."""
        self._lives += 1
        return WritebackExecutor(
            uow=self.app.uow,
            ehr=self.app.ehr if settling else self._under_faults,
            clock=self.clock,
            owner=f"history-{self.lane}-{self._lives}",
            lease=LEASE,
            jitter=self.rng.random,
            max_attempts=self.app.settings.worker_max_attempts,
            crash=crash,
            in_flight=IN_FLIGHT,
        )

    def _rows(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """State, next attempt, document and kind of each of ``ids``, in one SELECT.

        The harness looks at a cell's write-backs after every round. A repository ``get`` per
        write-back was a statement each and decrypted every payload, for four plain columns:
        on PostgreSQL the lanes' looks took 18 s of a 140 s run. ``_resolve`` loads the one
        write-back it resolves in full (``document_landed`` needs its payload). The rows come
        back in the order of ``ids``, as before: what the person does next draws on the seeded
        schedule in that order.
        """
        if not ids:
            return {}
        wb = tables.writebacks.c
        tenant = self.history.writebacks[ids[0]].tenant  # a lane's: one tenant, the key's first
        query = select(wb.id, wb.state, wb.next_attempt_at, wb.document_id, wb.kind).where(
            wb.tenant == tenant, wb.id.in_(ids)
        )
        # A reader, as ``uow(read_only=True)``: on SQLite a plain connection begins as a writer.
        with self.app.engine.connect().execution_options(chartgate_read_only=True) as conn:
            found = {
                row.id: {
                    "state": row.state,
                    "next": row.next_attempt_at,
                    "document_id": row.document_id,
                    "kind": row.kind,
                }
                for row in conn.execute(query)
            }
        assert found.keys() == set(ids), set(ids) - found.keys()
        return {wb_id: found[wb_id] for wb_id in ids}  # in ``ids``' order: the seeded schedule

    def _observe(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = self._rows(ids)
        now = self.clock.now()
        for wb_id, row in rows.items():
            tracked = self.history.writebacks[wb_id]
            if not tracked.states_seen or tracked.states_seen[-1] != row["state"]:
                tracked.states_seen.append(row["state"])
            if row["state"] in TERMINAL:
                if tracked.settled_at is None:
                    tracked.settled_at = now
            else:
                tracked.settled_at = None
        return rows

    def _advance_to_next_due(self, rows: dict[str, dict[str, Any]]) -> None:
        """Jump the clock to the earliest moment one of ``rows`` is due again.

        A row already due that the executor did not take waits for its predecessor (a
        structured write-back for its note): its moment has passed and is no reason to stay,
        or the note's backoff would be waited out in real time.
        """
        now = self.clock.now()
        moments = []
        for row in rows.values():
            if row["state"] in ("queued", "ambiguous") and _aware(row["next"]) > now:
                moments.append(_aware(row["next"]))
            elif row["state"] == "sending":
                moments.append(now + LEASE)
        if moments:
            self.clock.advance_to(min(moments) + timedelta(milliseconds=5))

    def drive(self, ids: list[str], fault: FaultKind, crash: str, scale: Scale) -> None:
        """Run the fault rounds (with crashes), then settle every write-back in ``ids``."""
        if not ids:
            return
        ehr = self.ehrs[fault.ehr]
        kills = scale.crashes if crash != NO_CRASH else 0
        hook = self._hook(crash, len(ids)) if kills else _never
        executor = self._executor(hook)
        timed = self.history.timed
        for _ in range(scale.fault_rounds):
            with timed("set_faults"):
                ehr.set_faults(fault.plan(self.rng.randint(1, max(2, len(ids) // 2))))
            try:
                with timed(f"fault_rounds:{fault.ehr}"):
                    self._run_once(executor, ids)
            except WorkerKilled as killed:
                self.history.count("kills")
                rows = self._rows(ids)
                sending = [i for i, r in rows.items() if r["state"] == "sending"]
                assert isinstance(hook, CrashAt)
                self.history.crashes.append(Crash(fault.ehr, str(killed), hook.nth, sending))
                kills -= 1
                self.clock.advance(LEASE + timedelta(seconds=1))
                hook = self._hook(crash, len(ids)) if kills else _never
                executor = self._executor(hook)
            with timed("observe"):
                self._advance_to_next_due(self._observe(ids))
        with timed("set_faults"):
            ehr.set_faults({})
        if fault.holds:
            # A person looks at the chart only once what the EHR still holds has landed.
            self._quiet_at = time.monotonic() + HOLD + 0.1
        with timed(f"settle:{fault.ehr}"):
            self.settle(ids, self._executor(_never, settling=True))

    def _run_once(self, executor: WritebackExecutor, ids: list[str]) -> int:
        """``executor.run_once`` over this lane's tenant only (the other lanes run beside it).

        The same due query and the same ``carry`` as ``run_once``, with the tenant filter:
        each lane's executors work on its clock, and must not take another lane's rows.
        """
        tenant = self.history.writebacks[ids[0]].tenant

        def due(limit: int) -> list[tuple[str, str]]:
            with self.app.uow() as uow:
                return uow.writebacks.due(self.clock.now(), limit=limit, tenant=tenant)

        return carry(
            due(len(ids) + 5),
            executor.process,
            in_flight=IN_FLIGHT,
            slots=TenantSlots(IN_FLIGHT),
            more=due,  # as ``run_once``: freed threads take what became due meanwhile
            limit=len(ids) + 5,
        )

    def _hook(self, crash: str, batch: int) -> CrashAt:
        # Each write-back makes two to four requests: N over that range hits every step.
        return CrashAt(crash, self.rng.randint(1, 2 * batch + 2))

    def settle(
        self,
        ids: list[str],
        executor: WritebackExecutor,
        rounds: int = 40,
        patience: float = SETTLE_PATIENCE_SECONDS,
    ) -> None:
        """No faults, no crashes: run until every write-back is decided, resolving as a person.

        At least ``rounds`` rounds; after them, a person still waiting keeps going for up to
        ``patience`` seconds of real time, pausing between rounds: an EHR that stopped
        answering for a while (Medplum under load, seen for 10-30 s) leaves write-backs
        rightly ``ambiguous`` until it answers again — that is the EHR's pause, not a state
        chartgate got wrong. What is still undecided after that is reported as wrong.
        """
        deadline: float | None = None
        timed = self.history.timed
        for done in itertools.count():
            with timed("observe"):
                rows = self._observe(ids)
            waiting = [i for i, r in rows.items() if r["state"] not in TERMINAL]
            if not waiting:
                return
            self.history.count("settle_rounds")
            if done >= rounds:
                deadline = deadline or time.monotonic() + patience
                if time.monotonic() > deadline:
                    self.history.count("patience_exhausted")
                    return
                self.history.count("patience_pauses")
                with timed("patience_sleep"):
                    time.sleep(0.5)
            for wb_id in waiting:
                if rows[wb_id]["state"] == "needs_person":
                    self._resolve(wb_id, rows[wb_id])
            with timed("settle_run_once"):
                self._run_once(executor, ids)
            with timed("observe"):
                self._advance_to_next_due(self._observe(ids))

    def _resolve(self, wb_id: str, row: dict[str, Any]) -> None:
        """What a person does: look at the chart, then point at the note or have it sent."""
        tracked = self.history.writebacks[wb_id]
        self.history.count("resolutions")
        with self.history.timed("person_waits_for_quiet"):
            time.sleep(max(0.0, self._quiet_at - time.monotonic()))
        clin = self._headers(tracked.ehr, "clinician")
        body: dict[str, Any] = {"action": "resend"}
        with self.app.uow(read_only=True) as uow:
            note_in_chart = uow.writebacks.get(tracked.tenant, wb_id).document_landed
        with self.ehrs[tracked.ehr].client() as ehr:
            if note_in_chart:
                # The note is there; is its Provenance? If not, have it sent again; if it
                # is, point at the note (chartgate then finds the rest itself). For a finalize
                # or a retraction (its own version of the note, on Epic nothing guards its
                # Provenance) either is safe: ``landed`` checks the current version carries
                # the write-back's mark, ``retry-follow-up`` looks for the Provenance before
                # it sends (``service/chart_evidence.py``); the person takes either.
                found = ehr.get("/Provenance", params={"_tag": f"{WRITEBACK_SYSTEM}|{wb_id}"})
                body = {"action": "retry-follow-up"}
                if found.json().get("entry") and (
                    row["kind"] in CREATING_KINDS or self.rng.random() < 0.5
                ):
                    document = f"{tracked.resource_type}/{row['document_id']}"
                    body = {"action": "landed", "document": document}
            elif row["kind"] in CREATING_KINDS:
                kind = tracked.resource_type
                found = ehr.get(f"/{kind}", params={"identifier": f"{WRITEBACK_SYSTEM}|{wb_id}"})
                docs = [e["resource"] for e in found.json().get("entry", [])]
                if len(docs) == 1:
                    body = {"action": "landed", "document": f"{kind}/{docs[0]['id']}"}
        tracked.resolutions.append(body["action"])
        answer = self.api.post(f"/v1/writebacks/{wb_id}/resolve", json=body, headers=clin)
        update = "" if row["kind"] in CREATING_KINDS else " (update)"
        self.history.count(f"resolve:{body['action']}{update}:{answer.status_code}")
        self._op(tracked.ehr, f"resolve:{body['action']}", wb_id, answer)

    # -- one cell ---------------------------------------------------------------------------------

    def run_cell(self, fault: FaultKind, crash: str, scale: Scale) -> None:
        """Approvals, then finalizes, then amends and retracts, each phase under the fault."""
        scribe = self._headers(fault.ehr, "scribe")
        clin = self._headers(fault.ehr, "clinician")
        with self.history.timed("api_approve"):
            approvals = [
                wb
                for _ in range(scale.batch)
                for wb in self.approve_new(fault.ehr, fault, crash, scribe, clin)
            ]
        self.drive(approvals, fault, crash, scale)
        if not scale.follow_ups:
            return
        rows = self._rows(approvals)
        committed = [
            self.history.writebacks[i]
            for i in approvals
            if rows[i]["state"] == "committed" and rows[i]["kind"] == "approve"
        ]
        with self.history.timed("api_follow_up"):
            finalizes = [
                wb
                for t in committed
                if self.rng.random() < 0.5
                for wb in self.follow_up(t, "finalize", fault, clin)
            ]
        self.drive(finalizes, fault, crash, scale)
        rows = self._rows(finalizes)
        last = []
        for wb_id in finalizes:
            if rows[wb_id]["state"] != "committed":
                continue
            approve = next(
                t
                for t in self.history.writebacks.values()
                if t.draft_id == self.history.writebacks[wb_id].draft_id and t.kind == "approve"
            )
            pick = self.rng.random()
            with self.history.timed("api_follow_up"):
                if pick < 0.45:
                    last.extend(self.follow_up(approve, "amend", fault, clin))
                elif pick < 0.8:
                    last.extend(self.follow_up(approve, "retract", fault, clin))
        self.drive(last, fault, crash, scale)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_seed() -> int:
    """A fresh seed (printed by every run, so any run can be repeated)."""
    return uuid.uuid4().int % 1_000_000_007


# -- reading everything back --------------------------------------------------------------------


def _all(ehr: Ehr, resource_type: str) -> list[dict[str, Any]]:
    """Every resource of a type in the EHR (the harness reads the whole chart)."""
    found: list[dict[str, Any]] = []
    with ehr.client() as client:
        if ehr.name == "medplum":
            offset, page = 0, 1000
            while True:
                bundle = client.get(
                    f"/{resource_type}", params={"_count": str(page), "_offset": str(offset)}
                )
                bundle.raise_for_status()
                entries = bundle.json().get("entry", [])
                found.extend(e["resource"] for e in entries)
                if len(entries) < page:
                    return found
                offset += page
        bundle = client.get(f"/{resource_type}", params={"_count": "1000000"})
        bundle.raise_for_status()
        found.extend(e["resource"] for e in bundle.json().get("entry", []))
    return found


def _marked_documents(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in resources
        if any(i.get("system") == WRITEBACK_SYSTEM for i in r.get("identifier", []))
    ]


def _marked_provenances(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in resources
        if any(t.get("system") == WRITEBACK_SYSTEM for t in r.get("meta", {}).get("tag", []))
    ]


def collect(harness: Harness) -> History:
    """Read chartgate's state, the whole chart and the ledger into the history."""
    history = harness.history
    app = harness.app
    for ehr in harness.ehrs.values():
        ehr.set_faults({})
    with app.uow(read_only=True) as uow:
        for wb_id, tracked in history.writebacks.items():
            record = uow.writebacks.get(tracked.tenant, wb_id)
            history.chartgate[wb_id] = {
                "state": record.state.value,
                "kind": record.kind.value,
                "document_id": record.document_id,
                "document_version": record.document_version,
                "provenance_id": record.provenance_id,
                "replaces": record.replaces,
                "resource_type": record.target_type,
                "after": record.after_id,
                "created_at": _aware(record.created_at) if record.created_at else None,
            }
            if tracked.draft_id not in history.drafts:
                draft = uow.drafts.get(tracked.tenant, tracked.draft_id)
                history.drafts[tracked.draft_id] = {
                    "state": draft.state.value,
                    "doc_status": draft.doc_status,
                    "ehr": tracked.ehr,
                }
    for name, ehr in harness.ehrs.items():
        history.documents[name] = _marked_documents(_all(ehr, "DocumentReference"))
        history.structured[name] = (
            _marked_documents(_all(ehr, "Condition")) if name in STRUCTURED_EHRS else []
        )
        history.provenances[name] = _marked_provenances(_all(ehr, "Provenance"))
    for wb_id, row in history.chartgate.items():
        ehr = harness.ehrs[history.writebacks[wb_id].ehr]
        if row["document_id"] is None or row["document_version"] is None:
            continue
        key = (ehr.name, row["document_id"], row["document_version"])
        if key in history.versions:
            continue
        with ehr.client() as client:
            answer = client.get(
                f"/{row['resource_type']}/{row['document_id']}/_history/{row['document_version']}"
            )
        history.versions[key] = answer.json() if answer.status_code == 200 else None
    for tenant in sorted({t.tenant for t in history.writebacks.values()}):
        history.ledger_ok[tenant] = _verify_ledger(app, tenant)
    return history


def _verify_ledger(app: Application, tenant: str) -> str | None:
    from chartgate.service.audit_verify import verify_store  # noqa: PLC0415 - test-only use

    ledger = app.ledger
    ledger.checkpointer.checkpoint(tenant)
    with ledger.unit(read_only=True) as unit:
        report = verify_store(
            unit.ledger,
            tenant,
            ledger.key.verifier,
            ledger.audit.origin(tenant),
            anchor_note=ledger.anchor.latest(tenant),
        )
    if report.ok and report.unsigned_tail == 0:
        return None
    return report.describe()


# -- a whole run ----------------------------------------------------------------------------------


def campaign(
    database_url: str,
    workdir: Path,
    medplum_base: str,
    *,
    seed: int,
    scale: Scale,
    progress: Callable[[str], None] | None = None,
    only: Callable[[FaultKind, str], bool] | None = None,
) -> History:
    """Every fault kind of every EHR x every crash point (and none), then the chart read back."""
    store = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    started = time.monotonic()
    pacing = HarnessClock()  # the rate governor's and read retries' pauses (jumps)
    with running_system(database_url, workdir, medplum_base, pacing) as system:
        history = History(seed=seed, store=store)
        history.phases["startup"] = time.monotonic() - started
        schedule = random.Random(seed)  # noqa: S311 - a seeded schedule, not a secret
        points = (*CRASH_POINTS, NO_CRASH)
        every = [fault for kinds in FAULT_KINDS.values() for fault in kinds]
        take = scale.points_per_kind or len(points)
        cells = [
            (fault, points[(number * take + k) % len(points)])
            for number, fault in enumerate(every)
            for k in range(take)
        ]
        schedule.shuffle(cells)
        # One lane per EHR, each with its own clock and seeded schedule: cells of different
        # EHRs run side by side (what one lane waits for, a held answer or a timeout, the
        # others fill), and a clock jump in one lane (a lease, a backoff) moves no other.
        lanes = {
            ehr: Harness(
                system,
                seed=seed * len(FAULT_KINDS) + number,
                store=store,
                clock=HarnessClock(),
                history=history,
                lane=ehr,
            )
            for number, ehr in enumerate(FAULT_KINDS)
        }
        numbered = list(enumerate(cells, 1))

        def run_lane(ehr: str) -> None:
            harness = lanes[ehr]
            for number, (fault, crash) in numbered:
                if fault.ehr != ehr or (only is not None and not only(fault, crash)):
                    continue
                began = time.monotonic()
                with history.timed(f"cells:{ehr}"):
                    harness.run_cell(fault, crash, scale)
                if progress is not None:
                    progress(
                        f"cell {number}/{len(cells)} {fault.label} x {crash}: "
                        f"{time.monotonic() - began:.2f} s, {len(history.writebacks)} so far"
                    )

        if scale.lanes_side_by_side:
            with ThreadPoolExecutor(len(lanes), "history-lane") as pool:
                for lane in [pool.submit(run_lane, ehr) for ehr in lanes]:
                    lane.result()
        else:
            for ehr in lanes:
                run_lane(ehr)
        history.phases["cells (wall)"] = time.monotonic() - started - history.phases["startup"]
        with history.timed("collect"):
            collect(lanes["sandbox"])
        history.counts["ehr_pauses"] = pacing.pauses
        history.phases["ehr_pauses (clock)"] = pacing.paused
    history.wall_seconds = time.monotonic() - started
    return history
