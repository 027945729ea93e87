"""The kill switch's rules, and its service over the fakes: milliseconds, no sockets.

Domain: which switch covers which action. Service: engage/release are ledger events, an
identical engage changes nothing, ``held`` names the switch, the store leaves held rows in
the queue, and ``engage`` waits for attempts in flight (or says that it stopped waiting).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from builders import CLINICIAN, submission
from chartgate.domain.documents import NoteWrite, build_document_reference
from chartgate.domain.drafts import Approver, Draft
from chartgate.domain.errors import Forbidden, InputError, KillSwitchEngaged, NotFound
from chartgate.domain.hashing import content_hash
from chartgate.domain.killswitch import (
    ALL_TENANTS,
    Mode,
    Scope,
    Switch,
    SwitchSpec,
    Target,
    first_covering,
    refuse,
)
from chartgate.domain.lifecycle import Action
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import DraftSubmission
from chartgate.domain.writeback import Writeback, WritebackKind, WritebackState, mark
from chartgate.service.killswitch import KillSwitches
from chartgate.service.writeback import WritebackExecutor
from fakes import FakeClock, FakeDirectory, FakeEhr, FakeIds, FakeStore

TENANT = "clinic-a"
AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
TARGET = Target(
    tenant=TENANT,
    ehr="epic",
    note_type="11506-3",
    resource_types=frozenset({"DocumentReference", "Provenance", "Condition"}),
    model_name="example-scribe-llm",
    model_version="2026.10.1",
    prompt_template="soap-v3",
)


def switch(
    scope: Scope, value: str = "", *, tenant: str = TENANT, mode: Mode = Mode.HOLD_WRITEBACK
) -> Switch:
    """An engaged switch."""
    return Switch(
        id=f"ks-{scope.value}",
        tenant=tenant,
        scope=scope,
        value=value,
        mode=mode,
        reason="drill",
        set_by="operator:test",
        set_at=AT,
    )


# -- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "covered", "other"),
    [
        (Scope.EHR, "epic", "athena"),
        (Scope.NOTE_TYPE, "11506-3", "34117-2"),
        (Scope.RESOURCE_TYPE, "Condition", "Observation"),
        (Scope.MODEL_VERSION, "2026.10.1", "2026.11.0"),
        (Scope.MODEL_VERSION, "example-scribe-llm@2026.10.1", "other-llm@2026.10.1"),
        (Scope.PROMPT_TEMPLATE, "soap-v3", "soap-v4"),
    ],
)
def test_a_scoped_switch_covers_what_it_names_and_nothing_else(
    scope: Scope, covered: str, other: str
) -> None:
    """Each scope compares its value with the one fact of the action it is about."""
    assert switch(scope, covered).covers(TARGET)
    assert not switch(scope, other).covers(TARGET)


def test_a_tenant_switch_stays_in_its_tenant_and_a_global_one_covers_all() -> None:
    """A tenant's switch never touches another tenant; ALL_TENANTS covers every tenant."""
    assert switch(Scope.TENANT).covers(TARGET)
    assert not switch(Scope.TENANT, tenant="clinic-b").covers(TARGET)
    assert switch(Scope.GLOBAL, tenant=ALL_TENANTS).covers(TARGET)
    assert switch(Scope.PROMPT_TEMPLATE, "soap-v3", tenant=ALL_TENANTS).covers(TARGET)


def test_only_a_switch_of_the_asked_mode_refuses() -> None:
    """A hold does not freeze approvals; a freeze refuses with its reason and scope."""
    hold = switch(Scope.TENANT)
    refuse([hold], Mode.FREEZE_APPROVALS, TARGET)
    freeze = switch(Scope.TENANT, mode=Mode.FREEZE_APPROVALS)
    with pytest.raises(KillSwitchEngaged, match=r"freeze-approvals .*tenant clinic-a.*drill"):
        refuse([hold, freeze], Mode.FREEZE_APPROVALS, TARGET)
    assert first_covering([hold, freeze], Mode.HOLD_WRITEBACK, TARGET) is hold


@pytest.mark.parametrize(
    ("scope", "value", "mode", "reason", "field"),
    [
        ("planet", None, "stop-drafting", "r", "scope"),
        ("tenant", None, "pause", "r", "mode"),
        ("model-version", None, "stop-drafting", "r", "value"),
        ("model-version", "has space", "stop-drafting", "r", "value"),
        ("global", "x", "stop-drafting", "r", "value"),
        ("tenant", None, "stop-drafting", "  ", "reason"),
        ("tenant", None, "stop-drafting", "x" * 501, "reason"),
    ],
)
def test_a_bad_switch_is_refused_naming_the_field(
    scope: str, value: str | None, mode: str, reason: str, field: str
) -> None:
    """Unknown scope or mode, a missing or stray value, no reason: InputError on that field."""
    with pytest.raises(InputError) as refused:
        SwitchSpec.parse(tenant=TENANT, scope=scope, value=value, mode=mode, reason=reason)
    assert refused.value.expression == field


def test_a_global_spec_is_for_every_tenant() -> None:
    """Scope global always binds to every tenant, whatever tenant was asked."""
    spec = SwitchSpec.parse(
        tenant=TENANT, scope="global", value=None, mode="hold-write-back", reason="r"
    )
    assert spec.tenant == ALL_TENANTS


# -- the service over fakes ------------------------------------------------------------------------


class World:
    """A fake store with one approved, queued write-back; the switches; an executor."""

    def __init__(self) -> None:
        self.store, self.ehr, self.clock = FakeStore(), FakeEhr(), FakeClock(AT)
        self.directory = FakeDirectory(self.ehr)
        self.sleeps: list[float] = []
        self.on_sleep = lambda: None
        self.switches = self.service()
        parsed = DraftSubmission.model_validate(submission())
        draft = Draft.submit(
            draft_id="draft-1",
            tenant=TENANT,
            patient=parsed.patient,
            encounter=parsed.encounter,
            origin=parsed.origin,
            content=parsed.content(),
            baseline={},
            correlation_id="corr-1",
            author="scribe:s",
            at=AT,
        )
        draft.pull_events()  # seeded as the store holds it: no pending events
        approval = draft.approve(
            approval_id="a-1",
            writeback_id="wb-1",
            expected_version=1,
            approver=Approver(
                subject="dr", fhir_user=CLINICIAN, amr=("otp",), acr=None, auth_time=None
            ),
            policy_hash="sha256:p",
            at=AT,
        )
        draft.transition(Action.QUEUE)
        payload = mark(
            build_document_reference(
                NoteWrite(
                    writeback_id="wb-1",
                    patient=draft.patient,
                    encounter=draft.encounter,
                    author=CLINICIAN,
                    content=draft.current.content,
                    doc_status="preliminary",
                    date=AT,
                )
            ),
            "wb-1",
        )
        record = Writeback(
            tenant=TENANT,
            id="wb-1",
            draft_id=draft.id,
            approval_id=approval.id,
            kind=WritebackKind.APPROVE,
            state=WritebackState.QUEUED,
            may_have_landed=False,
            payload=payload,
            payload_hash=content_hash(payload),
            correlation_id=draft.correlation_id,
            attempts=0,
            next_attempt_at=AT,
        )
        with self.store.unit() as uow:
            uow.drafts.add(draft)
            uow.approvals.add(TENANT, approval)
            uow.writebacks.add(record)

    def service(self, drain_seconds: float = 5.0) -> KillSwitches:
        """The kill switch service over the fakes."""

        def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            self.on_sleep()

        return KillSwitches(
            uow=self.store.unit,
            clock=self.clock,
            ids=FakeIds("ks"),
            ehr=self.directory,
            tenants=[TENANT],
            drain_seconds=drain_seconds,
            sleep=sleep,
        )

    def executor(self, owner: str = "w1") -> WritebackExecutor:
        """A worker asking the switches before every request."""
        return WritebackExecutor(
            uow=self.store.unit,
            ehr=self.directory,
            clock=self.clock,
            owner=owner,
            held=self.switches.held,
        )

    def state(self) -> WritebackState:
        """The write-back's state."""
        with self.store.unit() as uow:
            return uow.writebacks.get(TENANT, "wb-1").state


def spec(
    scope: str = "tenant", value: str | None = None, mode: str = "hold-write-back"
) -> SwitchSpec:
    """A switch request for the tenant."""
    return SwitchSpec.parse(tenant=TENANT, scope=scope, value=value, mode=mode, reason="drill")


def test_a_held_row_stays_queued_and_release_sends_it_once() -> None:
    """While held the row is not even claimed; after release it lands exactly once."""
    w = World()
    engaged = w.switches.engage(spec("model-version", "2026.10.1"), actor="operator:t")
    assert w.executor().run_once() == 0
    assert w.ehr.requests == []
    assert w.state() is WritebackState.QUEUED
    w.switches.release(engaged.switch.id, actor="operator:t", reason="ok", tenant=None)
    assert w.executor().run_once() == 1
    assert w.state() is WritebackState.COMMITTED
    assert len(w.ehr.all("DocumentReference")) == 1


def test_held_names_the_switch_and_ignores_other_modes_and_scopes() -> None:
    """The executor's hook gives a reason only for a hold that covers the write-back."""
    w = World()
    with w.store.unit() as uow:
        record = uow.writebacks.get(TENANT, "wb-1")
    w.switches.engage(spec(mode="freeze-approvals"), actor="operator:t")
    w.switches.engage(spec("prompt-template", "soap-v9"), actor="operator:t")
    assert w.switches.held(record) is None
    engaged = w.switches.engage(spec("note-type", "11506-3"), actor="operator:t")
    assert (
        w.switches.held(record)
        == f"kill switch {engaged.switch.id} (note-type=11506-3, tenant clinic-a)"
    )


def test_engage_twice_is_one_switch_and_one_event_release_is_another() -> None:
    """Engaging the same switch again changes nothing; release records who and why."""
    w = World()
    first = w.switches.engage(spec(), actor="operator:a")
    again = w.switches.engage(spec(), actor="operator:b")
    assert (again.created, again.switch.id) == (False, first.switch.id)
    w.switches.release(first.switch.id, actor="operator:c", reason="fixed", tenant=TENANT)
    kinds = [(r.type.value, r.actor) for r in w.store.tables.audit]
    assert kinds == [("killswitch.engaged", "operator:a"), ("killswitch.released", "operator:c")]
    assert w.store.tables.audit[1].data["reason"] == "fixed"
    with pytest.raises(NotFound):
        w.switches.release(first.switch.id, actor="operator:c", reason="again", tenant=TENANT)


def test_an_admin_releases_only_its_tenants_switches() -> None:
    """A switch of every tenant is not found for a tenant's admin."""
    w = World()
    everyone = SwitchSpec.parse(
        tenant=ALL_TENANTS, scope="global", value=None, mode="stop-drafting", reason="r"
    )
    engaged = w.switches.engage(everyone, actor="operator:t")
    with pytest.raises(NotFound):
        w.switches.release(engaged.switch.id, actor="admin:a", reason="mine?", tenant=TENANT)


def test_an_admin_may_not_set_a_global_switch_and_others_may_set_none() -> None:
    """admin_spec: a global scope is the operator's; a clinician is not an admin."""
    admin = Principal(tenant=TENANT, subject="adm", role=Role.ADMIN)
    clinician = Principal(tenant=TENANT, subject="doc", role=Role.CLINICIAN)
    with pytest.raises(Forbidden, match="operator"):
        KillSwitches.admin_spec(admin, scope="global", value=None, mode="stop-drafting", reason="r")
    with pytest.raises(Forbidden):
        KillSwitches.admin_spec(
            clinician, scope="tenant", value=None, mode="stop-drafting", reason="r"
        )
    made = KillSwitches.admin_spec(
        admin, scope="tenant", value=None, mode="stop-drafting", reason="r"
    )
    assert made.tenant == TENANT


def test_engage_waits_for_an_attempt_in_flight_to_end() -> None:
    """A hold returns only once the write-back a worker holds has left ``sending``."""
    w = World()
    with w.store.unit() as uow:
        uow.writebacks.claim(
            TENANT, "wb-1", owner="w9", now=AT, lease_until=AT + timedelta(seconds=60)
        )

    def worker_finishes() -> None:
        with w.store.unit() as uow:
            record = uow.writebacks.get(TENANT, "wb-1")
            record.state = WritebackState.QUEUED
            uow.writebacks.save_progress(record, now=AT, owner="w9")

    w.on_sleep = worker_finishes
    engaged = w.switches.engage(spec(), actor="operator:t")
    assert (engaged.drained, engaged.still_in_flight, engaged.acknowledged) == (1, 0, True)
    assert w.sleeps  # it did wait


def test_engage_says_when_it_stopped_waiting() -> None:
    """An attempt that outlives the drain limit is reported, not hidden."""
    w = World()
    with w.store.unit() as uow:
        uow.writebacks.claim(
            TENANT, "wb-1", owner="w9", now=AT, lease_until=AT + timedelta(seconds=60)
        )
    engaged = w.service(drain_seconds=0.0).engage(spec(), actor="operator:t")
    assert (engaged.drained, engaged.still_in_flight, engaged.acknowledged) == (0, 1, False)


def test_freeze_and_stop_do_not_wait_for_the_queue() -> None:
    """Only hold-write-back drains: the other modes act in the guarded transaction."""
    w = World()
    with w.store.unit() as uow:
        uow.writebacks.claim(
            TENANT, "wb-1", owner="w9", now=AT, lease_until=AT + timedelta(seconds=60)
        )
    engaged = w.service(drain_seconds=0.0).engage(spec(mode="freeze-approvals"), actor="operator:t")
    assert engaged.acknowledged
    assert w.sleeps == []


def test_a_release_without_a_reason_is_refused_and_the_switch_stays_on() -> None:
    """A blank reason is an input error naming the field; nothing is released or recorded."""
    w = World()
    engaged = w.switches.engage(spec(), actor="operator:a")
    with pytest.raises(InputError, match="a reason is required") as refused:
        w.switches.release(engaged.switch.id, actor="operator:b", reason="   ", tenant=None)
    assert refused.value.expression == "reason"
    assert [s.id for s in w.switches.engaged(TENANT)] == [engaged.switch.id]
    assert [r.type.value for r in w.store.tables.audit] == ["killswitch.engaged"]


def test_a_switch_for_a_tenant_chartgate_does_not_serve_is_not_found() -> None:
    """Engaging for an unconfigured tenant is refused before anything is stored."""
    w = World()
    other = SwitchSpec.parse(
        tenant="clinic-z", scope="tenant", value=None, mode="hold-write-back", reason="r"
    )
    with pytest.raises(NotFound, match="unknown tenant"):
        w.switches.engage(other, actor="operator:a")
    assert w.switches.history() == []


def test_the_banner_shows_the_switches_covering_the_draft_and_history_keeps_released_ones() -> None:
    """``covering`` names only switches that cover the draft; ``history`` lists released too."""
    w = World()
    with w.store.unit() as uow:
        draft = uow.drafts.get(TENANT, "draft-1")
    covers = w.switches.engage(spec("note-type", "11506-3", mode="freeze-approvals"), actor="o:a")
    w.switches.engage(spec("prompt-template", "soap-v9"), actor="o:a")
    assert [s.id for s in w.switches.covering(draft)] == [covers.switch.id]
    w.switches.release(covers.switch.id, actor="o:b", reason="fixed", tenant=TENANT)
    assert w.switches.covering(draft) == []
    history = w.switches.history(TENANT)
    assert len(history) == 2
    released = next(s for s in history if s.id == covers.switch.id)
    assert released.released_by == "o:b"
