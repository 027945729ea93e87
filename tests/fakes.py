"""Fakes of chartgate's ports: in-memory, deterministic, no sockets (STYLE.md example 3).

``FakeEhr`` is a FHIR R4 server in a dict that passes the same contract suite as the sandbox and
Medplum (``tests/contract/test_ehr_gateway.py``), with scripted faults for executor unit tests.
``FakeStore`` is the unit of work over dicts, with the outbox's compare-and-set claim and lease,
and a rollback on error like the real one. ``FakeClock`` moves only when told to.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from chartgate.adapters.ehr.gate import ProcessorGate
from chartgate.adapters.ehr.vendors import get_vendor
from chartgate.domain.consent import ConsentRecord
from chartgate.domain.documents import note_type_of
from chartgate.domain.drafts import Approval, Draft
from chartgate.domain.errors import EhrAmbiguous, EhrNotAllowed, EhrUnreachable, NotFound
from chartgate.domain.events import AuditRecord
from chartgate.domain.killswitch import ALL_TENANTS, NOTE_RESOURCES, Mode, Switch, Target
from chartgate.domain.processors import Processor, ProcessorRegistry
from chartgate.domain.scribe_session import ScribeSession
from chartgate.domain.structured import SETTLED_STATES
from chartgate.domain.vendor_profile import VendorProfile
from chartgate.domain.writeback import CreateGuard, Writeback, WritebackState
from chartgate.sandbox.search import subset
from chartgate.sandbox.seed import SANDBOX_MRN_SYSTEM, SEED_RESOURCES
from chartgate.service.event_records import record_new_events
from chartgate.service.ports import EhrAnswer, EventRecorder, JsonObject, SearchParams

# -- the clock ------------------------------------------------------------------------------


class FakeClock:
    """A clock that stands still until ``advance``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current fake time."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.current += timedelta(seconds=seconds)


class FakeIds:
    """Ids ``id-1``, ``id-2``, … (deterministic)."""

    def __init__(self, prefix: str = "id") -> None:
        self._counter = itertools.count(1)
        self._prefix = prefix

    def new_id(self) -> str:
        """The next id."""
        return f"{self._prefix}-{next(self._counter)}"


# -- the EHR --------------------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted fault for the next matching request.

    ``kind``: ``status`` (answer ``status``, nothing done), ``drop`` (do it, then no answer),
    ``hold`` (no answer now; the request lands when ``FakeEhr.land_held()`` is called),
    ``unreachable`` (nothing sent), ``not_allowed`` (refused by the gateway:
    ``EhrNotAllowed``). ``method``/``resource_type`` narrow what it matches.
    """

    kind: str
    status: int = 503
    method: str | None = None
    resource_type: str | None = None
    retry_after: float | None = None
    vendor_code: str | None = None
    """For ``status``: the vendor's own code in ``issue.details.coding.code`` (Epic style)."""
    empty: bool = False
    """For ``status``: answer with no body at all (Epic's 403 for an unregistered API)."""

    def matches(self, method: str, resource_type: str) -> bool:
        """True when this fault applies to the request."""
        return self.method in (None, method) and self.resource_type in (None, resource_type)


@dataclass
class _Resource:
    versions: list[JsonObject] = field(default_factory=list)

    @property
    def current(self) -> JsonObject:
        return self.versions[-1]


class FakeEhr:
    """An in-memory FHIR R4 server behind the ``EhrGateway`` port.

    Version ids count from 1; conditional create (``If-None-Exist``) and ``If-None-Match: *``
    on a client id are honoured; search supports ``identifier=system|value``,
    ``_tag=system|value``, ``_id`` and ``_elements``. ``requests`` records every request as
    ``(method, type)``. It starts with the sandbox's synthetic chart (``sandbox/seed.py``).
    """

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], _Resource] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.held: list[Callable[[], EhrAnswer]] = []
        self._ids = itertools.count(1)
        self._header: JsonObject | None = None  # X-Provenance of this view (with_provenance)
        self.honours_provenance_header = True
        """False: ignore ``X-Provenance`` (as Medplum 4.5 does)."""
        for seeded in SEED_RESOURCES:
            self._store(str(seeded["resourceType"]), str(seeded["id"]), seeded)

    # -- scripting -------------------------------------------------------------------------

    def fail_next(self, kind: str, **values: Any) -> None:
        """Queue a fault for the next matching request."""
        self.faults.append(Fault(kind, **values))

    def land_held(self) -> None:
        """Let every held request reach the store now (a slow request landing late)."""
        held, self.held = self.held, []
        for land in held:
            land()

    def all(self, resource_type: str) -> list[JsonObject]:
        """Every current resource of one type."""
        return [r.current for (kind, _), r in self.resources.items() if kind == resource_type]

    # -- EhrGateway ------------------------------------------------------------------------

    def create(
        self, resource: JsonObject, *, if_none_exist: str | None, request_id: str
    ) -> EhrAnswer:
        """POST, conditionally when ``if_none_exist`` is given."""
        del request_id
        kind = str(resource["resourceType"])

        def act() -> EhrAnswer:
            if if_none_exist is not None:
                name, _, value = if_none_exist.partition("=")
                matches = self._search(kind, {name: value})
                if len(matches) > 1:
                    return EhrAnswer(status=412, outcome=_outcome("multiple-matches"))
                if matches:
                    return _answer(200, matches[0])  # matched: no header Provenance (Firely)
            return self._with_header(
                _answer(201, self._store(kind, str(next(self._ids)), resource))
            )

        return self._request("POST", kind, act)

    def update(self, resource: JsonObject, *, if_match: str, request_id: str) -> EhrAnswer:
        """PUT with If-Match (a stale version is 412; an unknown id 404)."""
        del request_id
        kind, rid = str(resource["resourceType"]), str(resource["id"])

        def act() -> EhrAnswer:
            found = self.resources.get((kind, rid))
            if found is None:
                return EhrAnswer(status=404, outcome=_outcome("not-found"))
            if found.current["meta"]["versionId"] != if_match:
                return EhrAnswer(status=412, outcome=_outcome("conflict"))
            return self._with_header(_answer(200, self._store(kind, rid, resource)))

        return self._request("PUT", kind, act)

    def create_with_id(self, resource: JsonObject, *, request_id: str) -> EhrAnswer:
        """PUT at a client id with If-None-Match: * (412 when it exists)."""
        del request_id
        kind, rid = str(resource["resourceType"]), str(resource["id"])

        def act() -> EhrAnswer:
            if (kind, rid) in self.resources:
                return EhrAnswer(status=412, outcome=_outcome("duplicate"))
            return self._with_header(_answer(201, self._store(kind, rid, resource)))

        return self._request("PUT", kind, act)

    def read(self, resource_type: str, resource_id: str, *, request_id: str) -> EhrAnswer:
        """GET the current version."""
        del request_id

        def act() -> EhrAnswer:
            found = self.resources.get((resource_type, resource_id))
            if found is None:
                return EhrAnswer(status=404, outcome=_outcome("not-found"))
            return _answer(200, found.current)

        return self._request("GET", resource_type, act)

    def vread(
        self, resource_type: str, resource_id: str, version_id: str, *, request_id: str
    ) -> EhrAnswer:
        """GET one stored version."""
        del request_id

        def act() -> EhrAnswer:
            found = self.resources.get((resource_type, resource_id))
            versions = found.versions if found is not None else []
            for version in versions:
                if version["meta"]["versionId"] == version_id:
                    return _answer(200, version)
            return EhrAnswer(status=404, outcome=_outcome("not-found"))

        return self._request("GET", resource_type, act)

    def search(
        self, resource_type: str, params: SearchParams, *, request_id: str
    ) -> list[JsonObject]:
        """Search by identifier or tag; a fault on a search raises like the real client."""
        del request_id
        answer = self._request(
            "GET", resource_type, lambda: EhrAnswer(status=200, resource={"entry": []})
        )
        if not answer.ok:
            raise EhrAmbiguous(f"search answered {answer.status}", retry_after=answer.retry_after)
        return [copy.deepcopy(r) for r in self._search(resource_type, params)]

    def with_provenance(self, provenance: JsonObject) -> FakeEhr:
        """A view of this EHR whose writes carry ``X-Provenance`` (same chart, same faults)."""
        view = copy.copy(self)
        view._header = copy.deepcopy(provenance)
        return view

    def transaction(self, bundle: JsonObject, *, request_id: str) -> EhrAnswer:
        """A transaction Bundle: every entry lands, or (any entry refused) none does."""
        del request_id
        return self._request("POST", "Bundle", lambda: self._transaction(bundle))

    # -- inside ----------------------------------------------------------------------------

    def _with_header(self, answer: EhrAnswer) -> EhrAnswer:
        """Create the ``X-Provenance`` Provenance for a write that made a version."""
        if self._header is not None and self.honours_provenance_header:
            target = f"{answer.resource_type}/{answer.resource_id}/_history/{answer.version_id}"
            provenance = {**copy.deepcopy(self._header), "target": [{"reference": target}]}
            self._store("Provenance", str(next(self._ids)), provenance)
        return answer

    def _transaction(self, bundle: JsonObject) -> EhrAnswer:
        before = copy.deepcopy(self.resources)
        named: dict[str, str] = {}
        answers: list[JsonObject] = []
        for entry in bundle.get("entry", []):
            resource = _rewrite(copy.deepcopy(entry["resource"]), named)
            request = entry["request"]
            kind = str(resource["resourceType"])
            answer = self._entry(kind, resource, request)
            if not answer.ok:
                self.resources = before
                return EhrAnswer(status=answer.status, outcome=answer.outcome)
            if "fullUrl" in entry:
                named[entry["fullUrl"]] = f"{kind}/{answer.resource_id}"
            location = f"{kind}/{answer.resource_id}/_history/{answer.version_id}"
            answers.append({"response": {"status": str(answer.status), "location": location}})
        response = {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}
        return EhrAnswer(status=200, resource=response, resource_type="Bundle")

    def _entry(  # noqa: PLR0911 - one answer per R4 rule
        self, kind: str, resource: JsonObject, request: JsonObject
    ) -> EhrAnswer:
        method, url = request["method"], request["url"]
        if method == "POST":
            condition = request.get("ifNoneExist")
            if condition is not None:
                name, _, value = str(condition).partition("=")
                matches = self._search(kind, {name: value})
                if len(matches) > 1:
                    return EhrAnswer(status=412, outcome=_outcome("multiple-matches"))
                if matches:
                    return _answer(200, matches[0])
            return _answer(201, self._store(kind, str(next(self._ids)), resource))
        rid = str(url).partition("/")[2]
        found = self.resources.get((kind, rid))
        if request.get("ifNoneMatch") == "*":
            if found is not None:
                return EhrAnswer(status=412, outcome=_outcome("duplicate"))
            return _answer(201, self._store(kind, rid, resource))
        if found is None:
            return EhrAnswer(status=404, outcome=_outcome("not-found"))
        if f'W/"{found.current["meta"]["versionId"]}"' != request.get("ifMatch"):
            return EhrAnswer(status=412, outcome=_outcome("conflict"))
        return _answer(200, self._store(kind, rid, resource))

    def _request(self, method: str, kind: str, act: Callable[[], EhrAnswer]) -> EhrAnswer:
        self.requests.append((method, kind))
        fault = next((f for f in self.faults if f.matches(method, kind)), None)
        if fault is None:
            return act()
        self.faults.remove(fault)
        if fault.kind == "status":
            outcome = None if fault.empty else _outcome("transient", fault.vendor_code)
            return EhrAnswer(status=fault.status, outcome=outcome, retry_after=fault.retry_after)
        if fault.kind == "not_allowed":
            raise EhrNotAllowed("the vendor profile forbids this request (fake)")
        if fault.kind == "unreachable":
            raise EhrUnreachable("connection refused (fake)")
        if fault.kind == "drop":
            act()
            raise EhrAmbiguous("connection dropped after the request (fake)")
        if fault.kind == "hold":
            self.held.append(act)
            raise EhrAmbiguous("read timeout (fake)")
        raise AssertionError(f"unknown fault {fault.kind}")

    def _store(self, kind: str, rid: str, resource: JsonObject) -> JsonObject:
        slot = self.resources.setdefault((kind, rid), _Resource())
        stored = copy.deepcopy(resource)
        stored["id"] = rid
        stored["meta"] = {**stored.get("meta", {}), "versionId": str(len(slot.versions) + 1)}
        slot.versions.append(stored)
        return stored

    def _search(self, kind: str, params: SearchParams) -> list[JsonObject]:
        found = self.all(kind)
        for name, values in params.items():
            if name in _NOT_FILTERED:
                continue
            assert isinstance(values, str), f"the fake takes one value of {name}"
            value = values
            system, _, code = value.partition("|")
            if name == "_id":
                found = [r for r in found if r["id"] == value]
            elif name == "_elements":
                found = [subset(r, tuple(value.split(","))) for r in found]
            elif name == "identifier":
                found = [r for r in found if _has(r.get("identifier", []), system, code, "value")]
            elif name == "_tag":
                tags = "tag"
                found = [r for r in found if _has(r.get("meta", {}).get(tags, []), system, code)]
            else:
                raise AssertionError(f"the fake does not search by {name}")
        return found


# Parameters the fake accepts but does not apply, as an EHR that ignores them would (the
# context reads' ``patient``, dates and categories: chartgate checks every answer itself).
_NOT_FILTERED = frozenset(
    {"_count", "_sort", "patient", "category", "date", "recorded-date", "authoredon"}
)


def _rewrite(node: Any, named: Mapping[str, str]) -> Any:
    """Replace ``urn:uuid:`` references to earlier entries by what they became."""
    if isinstance(node, dict):
        return {
            k: named.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, named)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v, named) for v in node]
    return node


def _has(items: list[JsonObject], system: str, code: str, key: str = "code") -> bool:
    return any(i.get("system") == system and i.get(key) == code for i in items)


def _answer(status: int, resource: JsonObject) -> EhrAnswer:
    version = resource["meta"]["versionId"]
    return EhrAnswer(
        status=status,
        resource=copy.deepcopy(resource),
        resource_type=resource["resourceType"],
        resource_id=resource["id"],
        version_id=version,
        etag=f'W/"{version}"',
    )


def _outcome(code: str, vendor_code: str | None = None) -> JsonObject:
    issue: JsonObject = {"severity": "error", "code": code}
    if vendor_code is not None:
        issue["details"] = {"coding": [{"system": "urn:vendor:errors", "code": vendor_code}]}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


@dataclass
class FakeDirectory:
    """``EhrDirectory`` with one ``FakeEhr`` for every tenant."""

    ehr: FakeEhr
    guard: CreateGuard = CreateGuard.CONDITIONAL
    settle: float = 6.0
    superseded: bool = True
    amendments: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)
    """Further profile facts (``provenance_mode``, ``errors``, ...) over generic-r4."""
    credentials: list[str] = field(default_factory=list)
    """Which credentials each context read used (``backend <scope>``, ``delegated <token>``)."""

    def gateway(self, tenant: str) -> FakeEhr:
        """The fake EHR."""
        del tenant
        return self.ehr

    def reader(self, tenant: str, scope: str) -> FakeEhr:
        """The fake EHR (no tokens to narrow); the read is counted as a backend one."""
        del tenant
        self.credentials.append(f"backend {scope}")
        return self.ehr

    def delegated_reader(self, tenant: str, token: str) -> FakeEhr:
        """The fake EHR; the read is counted as one with ``token``."""
        del tenant
        self.credentials.append(f"delegated {token}")
        return self.ehr

    def profile(self, tenant: str) -> VendorProfile:
        """The generic R4 profile with this fake's guard and superseded rule."""
        del tenant
        return replace(
            get_vendor("generic-r4"),
            idempotent_create=self.guard,
            marks_superseded=self.superseded,
            **self.overrides,
        )

    def create_guard(self, tenant: str) -> CreateGuard:
        """The configured guard."""
        del tenant
        return self.guard

    def note_content_type(self, tenant: str, requested: str) -> str:
        """Whatever was asked for."""
        del tenant
        return requested

    def vendor(self, tenant: str) -> str:
        """A profile name."""
        del tenant
        return "fake"

    def supports_amendment(self, tenant: str) -> bool:
        """Whether amendments are written (``amendments``)."""
        del tenant
        return self.amendments

    def marks_superseded(self, tenant: str) -> bool:
        """Whether the replaced note is marked superseded."""
        del tenant
        return self.superseded

    def mrn_system(self, tenant: str) -> str | None:
        """The sandbox's MRN system (the seeded patients carry it)."""
        del tenant
        return SANDBOX_MRN_SYSTEM

    def settle_seconds(self, tenant: str) -> float:
        """The settle window."""
        del tenant
        return self.settle


# -- the store ------------------------------------------------------------------------------


@dataclass
class _Tables:
    drafts: dict[tuple[str, str], Draft] = field(default_factory=dict)
    approvals: dict[tuple[str, str], Approval] = field(default_factory=dict)
    writebacks: dict[tuple[str, str], Writeback] = field(default_factory=dict)
    leases: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)
    idempotency: dict[tuple[str, str, str], JsonObject] = field(default_factory=dict)
    kill_switches: dict[str, Switch] = field(default_factory=dict)
    epoch: int = 0
    scribe_sessions: dict[tuple[str, str], ScribeSession] = field(default_factory=dict)
    consents: list[ConsentRecord] = field(default_factory=list)


class _Context:
    """Scribe sessions and consent records (``ContextStore``)."""

    def __init__(self, t: _Tables) -> None:
        self._t = t

    def add_session(self, session: ScribeSession) -> None:
        self._t.scribe_sessions[session.tenant, session.id] = session

    def session(self, tenant: str, session_id: str) -> ScribeSession | None:
        return self._t.scribe_sessions.get((tenant, session_id))

    def close_session(self, tenant: str, session_id: str, *, at: datetime, by: str) -> bool:
        found = self._t.scribe_sessions.get((tenant, session_id))
        if found is None or found.closed_at is not None or found.expires_at <= at:
            return False
        self._t.scribe_sessions[tenant, session_id] = replace(
            found, closed_at=at, closed_by=by, delegated_token=None, delegated_until=None
        )
        return True

    def sessions_for(self, tenant: str, encounter: str) -> list[ScribeSession]:
        mine = [
            replace(s, delegated_token=None, delegated_until=None)
            for s in self._t.scribe_sessions.values()
            if (s.tenant, s.encounter) == (tenant, encounter)
        ]
        return sorted(mine, key=lambda s: s.opened_at, reverse=True)

    def add_consent(self, record: ConsentRecord) -> None:
        self._t.consents.append(record)

    def consent_for(self, tenant: str, encounter: str) -> ConsentRecord | None:
        mine = [c for c in self._t.consents if (c.tenant, c.encounter) == (tenant, encounter)]
        return max(mine, key=lambda c: c.recorded_at) if mine else None


class _Drafts:
    """Drafts; ``seen`` (the unit of work's) gets each draft added, loaded or saved."""

    def __init__(self, t: _Tables, seen: list[Draft]) -> None:
        self._t = t
        self.seen = seen

    def _see(self, draft: Draft) -> None:
        if not any(known is draft for known in self.seen):
            self.seen.append(draft)

    def _keep(self, draft: Draft) -> None:
        """Store a copy without pending events: like the real rows, a loaded draft has none."""
        self._see(draft)
        stored = copy.deepcopy(draft)
        stored.pull_events()
        self._t.drafts[draft.tenant, draft.id] = stored

    def add(self, draft: Draft) -> None:
        self._keep(draft)

    def get(
        self, tenant: str, draft_id: str, *, for_update: bool = False, known: Draft | None = None
    ) -> Draft:
        del for_update, known  # always a fresh copy: the fake has no row versions
        found = self._t.drafts.get((tenant, draft_id))
        if found is None:
            raise NotFound("draft not found", expression="id")
        draft = copy.deepcopy(found)
        self._see(draft)
        return draft

    def save(self, draft: Draft, *, at: datetime) -> None:
        del at
        self._keep(draft)


class _Approvals:
    def __init__(self, t: _Tables) -> None:
        self._t = t

    def add(self, tenant: str, approval: Approval) -> None:
        self._t.approvals[tenant, approval.id] = approval

    def get(self, tenant: str, approval_id: str) -> Approval:
        return self._t.approvals[tenant, approval_id]

    def for_draft(self, tenant: str, draft_id: str) -> list[Approval]:
        return [
            a for (t, _), a in self._t.approvals.items() if t == tenant and a.draft_id == draft_id
        ]


class _Writebacks:
    """The outbox with the real one's claim and lease rules."""

    def __init__(self, t: _Tables) -> None:
        self._t = t

    def add(self, record: Writeback) -> None:
        self._t.writebacks[record.tenant, record.id] = copy.deepcopy(record)

    def get(self, tenant: str, writeback_id: str) -> Writeback:
        found = self._t.writebacks.get((tenant, writeback_id))
        if found is None:
            raise NotFound("write-back not found", expression="id")
        return copy.deepcopy(found)

    def for_draft(self, tenant: str, draft_id: str) -> list[Writeback]:
        found = [w for (t, _), w in self._t.writebacks.items() if t == tenant]
        ordered = sorted(
            found, key=lambda w: (w.created_at or datetime.min.replace(tzinfo=UTC), w.part)
        )
        return [copy.deepcopy(w) for w in ordered if w.draft_id == draft_id]

    def _held(self, wb: Writeback) -> bool:
        """An engaged hold-write-back switch covers the row (the real store does it in SQL)."""
        draft = self._t.drafts.get((wb.tenant, wb.draft_id))
        target = Target(
            tenant=wb.tenant,
            note_type=wb.note_type or note_type_of(wb.payload),
            resource_types=NOTE_RESOURCES | {wb.target_type},
            model_name=draft.origin.model.name if draft else None,
            model_version=draft.origin.model.version if draft else None,
            prompt_template=draft.origin.prompt_template if draft else None,
        )
        return any(
            s.engaged and s.mode is Mode.HOLD_WRITEBACK and s.covers(target)
            for s in self._t.kill_switches.values()
        )

    def _due(self, key: tuple[str, str], now: datetime) -> bool:
        wb = self._t.writebacks[key]
        if self._held(wb):
            return False
        before = self._t.writebacks.get((wb.tenant, wb.after_id)) if wb.after_id else None
        if before is not None and before.state.value not in SETTLED_STATES:
            return False  # the part before it is not settled yet (the real store: in SQL)
        if wb.state in (WritebackState.QUEUED, WritebackState.AMBIGUOUS):
            return wb.next_attempt_at <= now
        lease = self._t.leases.get(key)
        return wb.state is WritebackState.SENDING and lease is not None and lease[1] < now

    def due(
        self, now: datetime, *, limit: int = 10, tenant: str | None = None
    ) -> list[tuple[str, str]]:
        keys = [
            k
            for k in self._t.writebacks
            if self._due(k, now) and (tenant is None or k[0] == tenant)
        ]
        keys.sort(key=lambda k: self._t.writebacks[k].next_attempt_at)
        return keys[:limit]

    def claim(
        self, tenant: str, writeback_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> str | None:
        key = (tenant, writeback_id)
        if key not in self._t.writebacks or not self._due(key, now):
            return None
        wb = self._t.writebacks[key]
        prior = wb.state.value
        self._t.writebacks[key] = replace(
            wb, state=WritebackState.SENDING, attempts=wb.attempts + 1, updated_at=now
        )
        self._t.leases[key] = (owner, lease_until)
        return prior

    def save_progress(
        self,
        record: Writeback,
        *,
        now: datetime,
        owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> bool:
        key = (record.tenant, record.id)
        stored = self._t.writebacks[key]
        if owner is not None:
            lease = self._t.leases.get(key)
            if stored.state is not WritebackState.SENDING or lease is None or lease[0] != owner:
                return False
            if lease_until is not None:
                if lease[1] < now:
                    return False
                self._t.leases[key] = (owner, lease_until)
        kept = replace(copy.deepcopy(record), attempts=stored.attempts, updated_at=now)
        self._t.writebacks[key] = kept
        if record.state is not WritebackState.SENDING:
            self._t.leases.pop(key, None)
        return True

    def renew_lease(
        self, tenant: str, writeback_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> bool:
        key = (tenant, writeback_id)
        lease = self._t.leases.get(key)
        held = (
            self._t.writebacks[key].state is WritebackState.SENDING
            and lease is not None
            and lease[0] == owner
            and lease[1] >= now
        )
        if held:
            self._t.leases[key] = (owner, lease_until)
        return held


class _Audit:
    def __init__(self, t: _Tables) -> None:
        self._t = t

    def append(self, record: AuditRecord) -> int:
        self._t.audit.append(record)
        return len(self._t.audit) - 1

    def by_correlation(self, tenant: str, correlation_id: str) -> list[JsonObject]:
        return [
            {**r.as_dict(), "seq": seq}
            for seq, r in enumerate(self._t.audit)
            if r.tenant == tenant and r.correlation_id == correlation_id
        ]


class _Idempotency:
    def __init__(self, t: _Tables) -> None:
        self._t = t

    def find(self, tenant: str, principal: str, key: str) -> JsonObject | None:
        return self._t.idempotency.get((tenant, principal, key))

    def begin(
        self, tenant: str, principal: str, key: str, request_hash: str, now: datetime
    ) -> None:
        if (tenant, principal, key) in self._t.idempotency:
            raise AssertionError("the real store refuses a second in-flight row (unique key)")
        self._t.idempotency[tenant, principal, key] = {
            "request_hash": request_hash,
            "state": "in_flight",
            "created_at": now,
        }

    def settle(
        self,
        tenant: str,
        principal: str,
        key: str,
        began: datetime,
        status_code: int,
        response: JsonObject,
    ) -> bool:
        row = self._t.idempotency.get((tenant, principal, key))
        if row is None or row["state"] != "in_flight" or row["created_at"] != began:
            return False
        row.update(state="done", status_code=status_code, response=copy.deepcopy(response))
        return True

    def forget(self, tenant: str, principal: str, key: str, began: datetime | None = None) -> None:
        row = self._t.idempotency.get((tenant, principal, key), {})
        if row.get("state") == "in_flight" and began in {None, row["created_at"]}:
            del self._t.idempotency[tenant, principal, key]


class _KillSwitches:
    def __init__(self, t: _Tables) -> None:
        self._t = t

    def engaged(self, tenant: str | None = None, *, guard: bool = False) -> list[Switch]:
        del guard  # one fake transaction at a time: nothing to order
        return sorted(
            (
                s
                for s in self._t.kill_switches.values()
                if s.engaged and (tenant is None or s.tenant in (tenant, ALL_TENANTS))
            ),
            key=lambda s: s.set_at,
        )

    def history(self, tenant: str | None = None, *, limit: int = 50) -> list[Switch]:
        found = [
            s
            for s in self._t.kill_switches.values()
            if tenant is None or s.tenant in (tenant, ALL_TENANTS)
        ]
        return sorted(found, key=lambda s: s.set_at, reverse=True)[:limit]

    def get(self, switch_id: str) -> Switch | None:
        return self._t.kill_switches.get(switch_id)

    def bump_epoch(self) -> None:
        self._t.epoch += 1

    def add(self, switch: Switch) -> None:
        self._t.kill_switches[switch.id] = switch

    def release(self, switch_id: str, *, by: str, reason: str, at: datetime) -> bool:
        found = self._t.kill_switches.get(switch_id)
        if found is None or not found.engaged:
            return False
        self._t.kill_switches[switch_id] = replace(
            found, released_at=at, released_by=by, release_reason=reason
        )
        return True

    def in_flight(self, now: datetime) -> list[tuple[str, str, int]]:
        return [
            (tenant, wb_id, self._t.writebacks[tenant, wb_id].attempts)
            for (tenant, wb_id), (_owner, until) in self._t.leases.items()
            if self._t.writebacks[tenant, wb_id].state is WritebackState.SENDING and until >= now
        ]

    def origin(self, tenant: str, draft_id: str) -> JsonObject | None:
        draft = self._t.drafts.get((tenant, draft_id))
        return None if draft is None else draft.origin.model_dump(mode="json")


class FakeUnitOfWork:
    """One transaction over the fake tables: commit on clean exit, roll back on error.

    Like the real one, it records the new events of the drafts it saw just before it
    commits (``service/event_records.py``); a rollback drops them with the change.
    """

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._snapshot: _Tables | None = None
        self._seen: list[Draft] = []
        self._recorder: EventRecorder | None = None

    def recording(self, recorder: EventRecorder) -> None:
        """Record the new events of the drafts this unit saw with ``recorder`` on commit."""
        self._recorder = recorder

    @property
    def drafts(self) -> _Drafts:
        """Drafts."""
        return _Drafts(self._store.tables, self._seen)

    @property
    def approvals(self) -> _Approvals:
        """Approvals."""
        return _Approvals(self._store.tables)

    @property
    def writebacks(self) -> _Writebacks:
        """The outbox."""
        return _Writebacks(self._store.tables)

    @property
    def audit(self) -> _Audit:
        """The audit trail."""
        return _Audit(self._store.tables)

    @property
    def idempotency(self) -> _Idempotency:
        """Idempotency keys."""
        return _Idempotency(self._store.tables)

    @property
    def killswitches(self) -> _KillSwitches:
        """Kill switches."""
        return _KillSwitches(self._store.tables)

    @property
    def context(self) -> _Context:
        """Scribe sessions and consent records."""
        return _Context(self._store.tables)

    def __enter__(self) -> Self:
        self._snapshot = copy.deepcopy(self._store.tables)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                record_new_events(self._seen, self._recorder, self.audit)
            except BaseException:
                self._roll_back()
                raise
        else:
            self._roll_back()

    def _roll_back(self) -> None:
        if self._snapshot is not None:
            self._store.tables = self._snapshot  # roll back, as a crash or an error would


class FakeStore:
    """The fake database: ``store.unit`` is a ``UnitOfWorkFactory``."""

    def __init__(self) -> None:
        self.tables = _Tables()

    def unit(self, *, read_only: bool = False) -> FakeUnitOfWork:
        """A new unit of work."""
        del read_only
        return FakeUnitOfWork(self)

    @contextmanager
    def peek(self) -> Iterator[_Tables]:
        """The tables as they are now (for assertions)."""
        yield self.tables

    def events(self) -> list[str]:
        """Every audit event type, in order."""
        return [r.type.value for r in self.tables.audit]


class _AnyDestination(ProcessorRegistry):
    """A registry whose one test processor covers every URL (unit tests of other rules)."""

    _PROCESSOR = Processor(
        id="any-test-destination",
        legal_entity="chartgate unit tests",
        role="ehr",
        purpose="unit tests of rules other than the processor registry",
    )

    def __init__(self) -> None:
        super().__init__([self._PROCESSOR])

    def for_url(self, url: str) -> Processor | None:
        """Every URL is the test processor's."""
        del url
        return self._PROCESSOR


def open_gate() -> ProcessorGate:
    """A processor gate that lets every request through (tests of the HTTP rules only)."""
    return ProcessorGate(_AnyDestination(), today=lambda: date(2026, 1, 1))
