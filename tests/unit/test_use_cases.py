"""The use cases (drafting, approvals, resolution, replays) over fakes: every rule, no sockets.

Each test builds the same ``Context`` bootstrap builds, over ``FakeStore``, ``FakeEhr`` and a
clock that stands still; the HTTP tests keep one request per rule at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from builders import CLINICIAN, ENCOUNTER, PATIENT, TENANT, submission
from chartgate.domain.access import EncounterGrant, TenantAccess
from chartgate.domain.errors import (
    Forbidden,
    KillSwitchEngaged,
    NotFound,
    PolicyDenied,
    StateConflict,
    StepUpRequired,
    VersionMismatch,
)
from chartgate.domain.killswitch import Mode, Scope, Switch
from chartgate.domain.lifecycle import DraftState
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import DraftSubmission, VersionEdit
from chartgate.domain.writeback import CreateGuard, WritebackKind, WritebackState
from chartgate.policy import load_default_policy
from chartgate.service.access import Access
from chartgate.service.approvals import Approvals, chart_document
from chartgate.service.audit import Pseudonymizer
from chartgate.service.context import Context, RequestMeta
from chartgate.service.drafting import Drafting
from chartgate.service.ports import WritebackRecord
from chartgate.service.replays import Replays
from chartgate.service.resolution import Resolutions
from chartgate.service.retry import RetryPolicy
from chartgate.service.validation import DraftValidator
from chartgate.service.validation_ports import ResourceInvariants, ResourceSchema
from chartgate.service.writeback import WritebackExecutor
from fakes import FakeClock, FakeDirectory, FakeEhr, FakeIds, FakeStore

META = RequestMeta(request_id="req-1")
ISSUER = f"https://idp.{TENANT}.example"


class Directory(FakeDirectory):
    """The fake EHR under the generic R4 profile's name, which the shipped policy knows."""

    def vendor(self, tenant: str) -> str:
        """The profile the policy's vendor rules are keyed by."""
        del tenant
        return "generic-r4"


@dataclass
class Desk:
    """The use cases over one fake store, EHR and clock."""

    store: FakeStore
    ehr: FakeEhr
    directory: Directory
    clock: FakeClock
    drafting: Drafting
    approvals: Approvals
    resolutions: Resolutions
    replays: Replays

    def scribe(self) -> Principal:
        return Principal(tenant=TENANT, subject="scribe-1", role=Role.SCRIBE)

    def clinician(self, **changes: object) -> Principal:
        """A clinician launched on the synthetic encounter, signed in with MFA just now."""
        base = Principal(
            tenant=TENANT,
            subject="dr-1",
            role=Role.CLINICIAN,
            fhir_user=CLINICIAN,
            amr=("pwd", "otp"),
            auth_time=self.clock.now(),
            launch_encounter=ENCOUNTER,
            launch_patient=PATIENT,
            issuer=ISSUER,
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def submit(self) -> str:
        sent = DraftSubmission.model_validate(submission())
        return self.drafting.submit_draft(self.scribe(), sent, META).id

    def events(self) -> list[str]:
        return self.store.events()

    def run_worker(self) -> None:
        """Let the worker send everything that is due."""
        worker = WritebackExecutor(
            uow=self.store.unit,
            ehr=self.directory,
            clock=self.clock,
            owner="w1",
            retry=RetryPolicy(base_seconds=1, cap_seconds=60),
            jitter=lambda: 1.0,
        )
        for _ in range(10):
            self.clock.advance(120)
            if worker.run_once() == 0:
                return

    def committed(self) -> tuple[str, str]:
        """A draft approved and landed in the (fake) chart: its id and write-back id."""
        draft_id = self.submit()
        _, record = self.approvals.approve(
            self.clinician(), draft_id, expected_version=1, meta=META
        )
        self.run_worker()
        return draft_id, record.id


def desk(
    *,
    guard: CreateGuard = CreateGuard.CONDITIONAL,
    access: Access | None = None,
    schema: ResourceSchema | None = None,
    invariants: ResourceInvariants | None = None,
    pseudonyms: Pseudonymizer | None = None,
) -> Desk:
    store, ehr, clock = FakeStore(), FakeEhr(), FakeClock()
    directory = Directory(ehr, guard=guard)
    policy = load_default_policy()
    ctx = Context(
        uow=store.unit,
        clock=clock,
        ids=FakeIds(),
        policy=policy,
        ehr=directory,
        access=access or Access(clock=clock),
        validator=DraftValidator(policy, schema, invariants),
        pseudonyms=pseudonyms,
    )
    return Desk(
        store,
        ehr,
        directory,
        clock,
        Drafting(ctx),
        Approvals(ctx),
        Resolutions(ctx),
        Replays(ctx),
    )


def edit(text: str) -> VersionEdit:
    body = submission()
    note = dict(body["note"], text=body["note"]["text"] + text)
    return VersionEdit.model_validate({"note": note, "resources": []})


# -- drafting -------------------------------------------------------------------------------------


def test_a_scribe_submission_is_version_one_and_is_recorded_once() -> None:
    """Submit stores one draft at version 1 and appends exactly one draft.received event."""
    d = desk()
    draft_id = d.submit()
    with d.store.unit() as uow:
        draft = uow.drafts.get(TENANT, draft_id)
    assert draft.current.number == 1
    assert draft.state is DraftState.IN_REVIEW
    assert d.events() == ["draft.received"]


def test_only_a_scribe_may_submit_and_a_refusal_records_nothing() -> None:
    """A clinician's submission is refused (403) before anything is stored."""
    d = desk()
    sent = DraftSubmission.model_validate(submission())
    with pytest.raises(Forbidden):
        d.drafting.submit_draft(d.clinician(), sent, META)
    assert d.events() == []


def test_a_note_type_the_policy_refuses_is_refused_at_submission() -> None:
    """An unknown note type is a PolicyDenied at submit: nothing stored."""
    d = desk()
    body = submission()
    body["note"]["type"] = "99999-9"
    with pytest.raises(PolicyDenied):
        d.drafting.submit_draft(d.scribe(), DraftSubmission.model_validate(body), META)
    assert d.events() == []


def test_a_clinician_outside_the_encounter_is_told_not_found_and_nothing_is_recorded() -> None:
    """No launch context and no grant: the draft answers as an unknown id would (no oracle)."""
    d = desk()
    draft_id = d.submit()
    stranger = d.clinician(launch_encounter="Encounter/enc-999")
    with pytest.raises(NotFound, match="draft not found"):
        d.drafting.view_draft(stranger, draft_id, META)
    assert d.events() == ["draft.received"]


def test_a_care_team_grant_binds_a_clinician_without_a_launch_context() -> None:
    """A tenant's grant for this practitioner and encounter lets the view through, audited."""
    clock = FakeClock()
    grant = EncounterGrant(fhir_user=CLINICIAN, encounters=frozenset({ENCOUNTER}), issuer=ISSUER)
    d = desk(access=Access(clock=clock, tenants={TENANT: TenantAccess(grants=(grant,))}))
    d.clock = clock
    draft_id = d.submit()
    view = d.drafting.view_draft(
        d.clinician(launch_encounter=None, launch_patient=None), draft_id, META
    )
    assert view.draft.id == draft_id
    assert d.events() == ["draft.received", "draft.viewed"]


def test_a_save_makes_a_new_version_and_a_stale_version_is_refused() -> None:
    """Save adds version 2; saving again against version 1 is a VersionMismatch, unrecorded."""
    d = desk()
    draft_id = d.submit()
    draft = d.drafting.save_version(
        d.clinician(), draft_id, expected_version=1, edit=edit("\nEdited."), meta=META
    )
    assert draft.current.number == 2
    with pytest.raises(VersionMismatch):
        d.drafting.save_version(
            d.clinician(), draft_id, expected_version=1, edit=edit("\nAgain."), meta=META
        )
    assert d.events() == ["draft.received", "draft.version_saved"]


def test_validate_is_a_dry_run_that_is_recorded() -> None:
    """Validate answers a verdict for the current version and records it; nothing is queued."""
    d = desk()
    draft_id = d.submit()
    draft, verdict = d.drafting.validate(d.clinician(), draft_id, META)
    assert verdict.accepted
    assert draft.state is DraftState.IN_REVIEW
    assert d.events() == ["draft.received", "draft.validated"]
    assert d.store.tables.writebacks == {}


def test_discard_ends_a_draft_and_a_discarded_draft_cannot_be_approved() -> None:
    """Discard moves the draft to discarded; approving it afterwards is a StateConflict."""
    d = desk()
    draft_id = d.submit()
    assert d.drafting.discard(d.clinician(), draft_id, META).state is DraftState.DISCARDED
    with pytest.raises(StateConflict):
        d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    assert d.events() == ["draft.received", "draft.discarded"]


# -- approvals ------------------------------------------------------------------------------------


def test_approve_queues_exactly_one_marked_write_back_with_its_events() -> None:
    """Approve freezes the version, queues one write-back, and records approval and queueing."""
    d = desk()
    draft_id = d.submit()
    draft, record = d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    assert draft.state is DraftState.QUEUED
    assert record.state is WritebackState.QUEUED
    assert record.kind is WritebackKind.APPROVE
    assert list(d.store.tables.writebacks) == [(TENANT, record.id)]
    identifiers = record.payload["identifier"]
    assert any(i["value"] == record.id for i in identifiers)
    assert d.events() == ["draft.received", "draft.approved", "writeback.queued"]
    approved = d.store.tables.audit[1]
    assert approved.data["binding"] == "launch"
    assert approved.writeback_id == record.id


def test_approve_without_a_second_factor_asks_for_step_up_and_queues_nothing() -> None:
    """A password-only sign-in cannot approve: StepUpRequired, no write-back, no event."""
    d = desk()
    draft_id = d.submit()
    with pytest.raises(StepUpRequired):
        d.approvals.approve(d.clinician(amr=("pwd",)), draft_id, expected_version=1, meta=META)
    assert d.store.tables.writebacks == {}
    assert d.events() == ["draft.received"]
    assert d.ehr.requests == [], "the EHR was asked about the patient before the step-up"


def test_a_token_whose_scopes_forbid_creating_notes_cannot_approve() -> None:
    """SMART scopes that speak about notes but lack ``c`` refuse approval (403)."""
    d = desk()
    draft_id = d.submit()
    reader = d.clinician(note_permissions=frozenset({"r"}))
    with pytest.raises(Forbidden):
        d.approvals.approve(reader, draft_id, expected_version=1, meta=META)
    assert d.store.tables.writebacks == {}
    assert d.ehr.requests == [], "the EHR was asked about the patient before the scope check"


def test_approve_needs_a_fhir_user_to_author_the_note() -> None:
    """Without a fhirUser there is no chart identity to author the note: PolicyDenied."""
    d = desk()
    draft_id = d.submit()
    with pytest.raises(PolicyDenied, match="fhirUser"):
        d.approvals.approve(d.clinician(fhir_user=None), draft_id, expected_version=1, meta=META)
    assert d.store.tables.writebacks == {}


def test_finalize_before_the_note_is_in_the_chart_is_a_conflict() -> None:
    """Finalize of a draft that is only queued is refused (409) and queues nothing more."""
    d = desk()
    draft_id = d.submit()
    d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    with pytest.raises(StateConflict, match="cannot finalize"):
        d.approvals.finalize(d.clinician(), draft_id, META)
    assert len(d.store.tables.writebacks) == 1


def test_finalize_needs_a_recent_sign_in() -> None:
    """A sign-in older than the step-up window cannot finalize: StepUpRequired with max_age."""
    d = desk()
    draft_id, _ = d.committed()
    old = d.clinician(auth_time=d.clock.now() - timedelta(hours=1))
    with pytest.raises(StepUpRequired) as refused:
        d.approvals.finalize(old, draft_id, META)
    assert refused.value.max_age == 300


def test_finalize_queues_an_update_of_the_same_document_to_final() -> None:
    """Finalize targets the committed document (same id and version) with docStatus final."""
    d = desk()
    draft_id, first = d.committed()
    with d.store.unit() as uow:
        landed = chart_document(uow.writebacks.for_draft(TENANT, draft_id))
    assert landed is not None
    assert landed.id == first
    _, record = d.approvals.finalize(d.clinician(), draft_id, META)
    assert record.kind is WritebackKind.FINALIZE
    assert record.document_id == landed.document_id
    assert record.payload["docStatus"] == "final"
    assert d.events()[-2:] == ["draft.finalize_approved", "writeback.queued"]


def test_retract_queues_entered_in_error_with_the_reason() -> None:
    """Retract of a committed note queues entered-in-error and records the reason given."""
    d = desk()
    _, first = d.committed()
    _, record = d.approvals.retract(d.clinician(), first, reason="wrong-patient", meta=META)
    assert record.kind is WritebackKind.RETRACT
    assert record.payload["docStatus"] == "entered-in-error" or (
        record.payload.get("status") == "entered-in-error"
    )
    retracted = d.store.tables.audit[-2]
    assert retracted.type.value == "draft.retract_approved"
    assert retracted.data["reason"] == "wrong-patient"


def test_amend_writes_a_new_document_that_replaces_the_old_one() -> None:
    """Amend queues a new DocumentReference whose relatesTo replaces the committed one."""
    d = desk()
    draft_id, first = d.committed()
    with d.store.unit() as uow:
        draft = uow.drafts.get(TENANT, draft_id)
        landed = chart_document(uow.writebacks.for_draft(TENANT, draft_id))
    assert landed is not None
    _, record = d.approvals.amend(
        d.clinician(),
        first,
        expected_version=draft.current.number,
        edit=edit("\nAddendum."),
        meta=META,
    )
    assert record.kind is WritebackKind.AMEND
    relates = record.payload["relatesTo"][0]
    assert relates["code"] == "replaces"
    assert relates["target"]["reference"] == f"DocumentReference/{landed.document_id}"


def test_amend_is_refused_where_the_ehr_takes_no_amendments() -> None:
    """A vendor without amendments over FHIR refuses amend (PolicyDenied) before queueing."""
    d = desk()
    _, first = d.committed()
    d.directory.amendments = False
    before = len(d.store.tables.writebacks)
    with pytest.raises(PolicyDenied, match="amendments"):
        d.approvals.amend(
            d.clinician(), first, expected_version=2, edit=edit("\nAddendum."), meta=META
        )
    assert len(d.store.tables.writebacks) == before


# -- resolution and replays -----------------------------------------------------------------------


def test_reading_a_write_back_is_audited_unless_it_is_the_pages_poll() -> None:
    """A status read appends writeback.viewed; the page's background poll appends nothing."""
    d = desk()
    draft_id = d.submit()
    _, record = d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    d.resolutions.writeback(d.clinician(), record.id, META)
    d.resolutions.writeback(d.clinician(), record.id, audit=False)
    assert d.events().count("writeback.viewed") == 1


def test_a_stranger_reading_a_write_back_is_told_it_does_not_exist() -> None:
    """Outside the binding, a write-back id answers 'write-back not found' (no oracle)."""
    d = desk()
    draft_id = d.submit()
    _, record = d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    stranger = d.clinician(launch_encounter="Encounter/enc-999")
    with pytest.raises(NotFound, match="write-back not found"):
        d.resolutions.writeback(stranger, record.id, META)


def test_an_unknown_resolution_is_refused_and_changes_nothing() -> None:
    """Only resend, landed and retry-follow-up exist; anything else is a 409, unrecorded."""
    d = desk()
    draft_id = d.submit()
    _, record = d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    before = d.events()
    with pytest.raises(StateConflict, match="unknown resolution"):
        d.resolutions.resolve(d.clinician(), record.id, action="shrug", document=None, meta=META)
    assert d.events() == before


def test_a_person_resends_a_write_back_that_may_have_landed() -> None:
    """An unguarded create whose answer was lost waits; 'resend' queues it again, recorded."""
    d = desk(guard=CreateGuard.NONE)
    draft_id = d.submit()
    _, record = d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    d.ehr.fail_next("hold", method="POST", resource_type="DocumentReference")
    d.run_worker()
    with d.store.unit() as uow:
        waiting = uow.writebacks.get(TENANT, record.id)
    assert waiting.state is WritebackState.NEEDS_PERSON
    resolved = d.resolutions.resolve(
        d.clinician(), record.id, action="resend", document=None, meta=META
    )
    assert resolved.state is WritebackState.QUEUED
    assert d.events()[-1] == "writeback.resolved"


def test_a_landed_resolution_must_name_a_document_reference() -> None:
    """'landed' with anything but DocumentReference/<id> is refused before the EHR is read."""
    d = desk()
    draft_id = d.submit()
    _, record = d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    with pytest.raises(StateConflict, match="DocumentReference/<id>"):
        d.resolutions.resolve(
            d.clinician(), record.id, action="landed", document="Patient/x", meta=META
        )


def test_a_replay_is_checked_like_the_request_and_recorded() -> None:
    """A replayed answer needs the same role and binding, and appends request.replayed."""
    d = desk()
    draft_id = d.submit()
    d.replays.authorize_replay(
        d.clinician(), roles=(Role.CLINICIAN,), operation="save", meta=META, draft_id=draft_id
    )
    assert d.events()[-1] == "request.replayed"
    with pytest.raises(Forbidden):
        d.replays.authorize_replay(
            d.scribe(), roles=(Role.CLINICIAN,), operation="save", meta=META, draft_id=draft_id
        )
    stranger = d.clinician(launch_encounter="Encounter/enc-999")
    with pytest.raises(NotFound):
        d.replays.authorize_replay(
            stranger, roles=(Role.CLINICIAN,), operation="save", meta=META, draft_id=draft_id
        )
    assert d.events().count("request.replayed") == 1


def test_a_replay_without_a_draft_records_nothing() -> None:
    """A replay of an answer that named no draft (a refused submit) has nothing to record."""
    d = desk()
    d.replays.authorize_replay(d.scribe(), roles=(Role.SCRIBE,), operation="submit", meta=META)
    assert d.events() == []


# -- access ---------------------------------------------------------------------------------------


def test_a_tenant_without_its_own_rules_gets_the_defaults() -> None:
    """Access falls back to the step-up level and window it was built with."""
    access = Access(clock=FakeClock(), step_up_acr="urn:strong", step_up_max_age=timedelta(1))
    assert access.rules("elsewhere") == TenantAccess(
        step_up_acr="urn:strong", step_up_max_age=timedelta(1)
    )


def test_a_tenants_step_up_level_is_enforced() -> None:
    """A recent MFA sign-in at the wrong acr is refused where the tenant names a level."""
    clock = FakeClock()
    access = Access(clock=clock, tenants={TENANT: TenantAccess(step_up_acr="urn:strong")})
    who = Principal(
        tenant=TENANT, subject="dr-1", role=Role.CLINICIAN, amr=("otp",), auth_time=clock.now()
    )
    with pytest.raises(StepUpRequired) as refused:
        access.require_strength(who, "step-up")
    assert refused.value.acr_values == "urn:strong"
    access.require_strength(replace(who, acr="urn:strong"), "step-up")


# -- kill switch ----------------------------------------------------------------------------------


def _engage(d: Desk, mode: Mode, scope: Scope, value: str = "") -> None:
    with d.store.unit() as uow:
        uow.killswitches.add(
            Switch(
                id="ks-1",
                tenant=TENANT,
                scope=scope,
                value=value,
                mode=mode,
                reason="incident drill",
                set_by="admin:a",
                set_at=d.clock.now(),
            )
        )


def test_a_freeze_on_the_note_type_refuses_approval_and_queues_nothing() -> None:
    """An engaged freeze-approvals switch covering the note type refuses approve (409)."""
    d = desk()
    draft_id = d.submit()
    _engage(d, Mode.FREEZE_APPROVALS, Scope.NOTE_TYPE, submission()["note"]["type"])
    with pytest.raises(KillSwitchEngaged):
        d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    assert d.store.tables.writebacks == {}
    assert d.events() == ["draft.received"]


def test_stop_drafting_refuses_a_submission_but_not_a_save() -> None:
    """Stop-drafting for the tenant refuses new drafts; an existing draft can still be edited."""
    d = desk()
    draft_id = d.submit()
    _engage(d, Mode.STOP_DRAFTING, Scope.TENANT)
    with pytest.raises(KillSwitchEngaged):
        d.submit()
    draft = d.drafting.save_version(
        d.clinician(), draft_id, expected_version=1, edit=edit("\nEdited."), meta=META
    )
    assert draft.current.number == 2


# -- a parked follow-up where nothing guards a resend (Epic) -----------------------------------


def _parked_update(d: Desk, kind: str) -> WritebackRecord:
    """A finalize or retraction whose PUT landed and whose Provenance answer was held: parked.

    Nothing guards the Provenance's resend (``CreateGuard.NONE``), the search finds nothing
    while it is held, so the worker leaves it to a person; then the slow one lands.
    """
    draft_id, first = d.committed()
    if kind == "finalize":
        _, record = d.approvals.finalize(d.clinician(), draft_id, META)
    else:
        _, record = d.approvals.retract(d.clinician(), first, reason="wrong-patient", meta=META)
    d.ehr.fail_next("hold", method="POST", resource_type="Provenance")
    d.run_worker()
    with d.store.unit() as uow:
        parked = uow.writebacks.get(TENANT, record.id)
    assert parked.state is WritebackState.NEEDS_PERSON
    assert parked.document_landed
    d.ehr.land_held()
    return parked


def _provenances_of(d: Desk, writeback_id: str) -> list[dict[str, object]]:
    return [
        p
        for p in d.ehr.all("Provenance")
        if any(t.get("code") == writeback_id for t in p.get("meta", {}).get("tag", []))
    ]


@pytest.mark.parametrize("kind", ["finalize", "retract"])
def test_retry_follow_up_of_a_parked_update_finds_its_late_provenance_and_sends_none(
    kind: str,
) -> None:
    """retry-follow-up on a parked finalize/retraction reads by tag first: one Provenance."""
    d = desk(guard=CreateGuard.NONE)
    parked = _parked_update(d, kind)
    assert len(_provenances_of(d, parked.id)) == 1
    resolved = d.resolutions.resolve(
        d.clinician(), parked.id, action="retry-follow-up", document=None, meta=META
    )
    d.run_worker()
    with d.store.unit() as uow:
        final = uow.writebacks.get(TENANT, parked.id)
    assert resolved.state is WritebackState.COMMITTED
    assert final.state is WritebackState.COMMITTED
    assert len(_provenances_of(d, parked.id)) == 1
    assert final.provenance_id == _provenances_of(d, parked.id)[0]["id"]


@pytest.mark.parametrize("kind", ["finalize", "retract"])
def test_landed_on_a_parked_update_checks_the_current_version_carries_its_mark(
    kind: str,
) -> None:
    """Landed on a parked finalize/retraction accepts the note by its version's mark."""
    d = desk(guard=CreateGuard.NONE)
    parked = _parked_update(d, kind)
    document = f"DocumentReference/{parked.document_id}"
    d.resolutions.resolve(d.clinician(), parked.id, action="landed", document=document, meta=META)
    d.run_worker()
    with d.store.unit() as uow:
        final = uow.writebacks.get(TENANT, parked.id)
    assert final.state is WritebackState.COMMITTED
    assert len(_provenances_of(d, parked.id)) == 1


def test_landed_on_a_parked_update_refuses_a_version_that_is_not_its_own() -> None:
    """Landed is refused when someone else changed the note after the finalize: no mark."""
    d = desk(guard=CreateGuard.NONE)
    parked = _parked_update(d, "finalize")
    current = d.ehr.read("DocumentReference", str(parked.document_id), request_id="x")
    assert current.resource is not None
    someone_else = {**current.resource, "meta": {}, "description": "changed in the EHR"}
    assert d.ehr.update(someone_else, if_match=str(current.version_id), request_id="y").ok
    with pytest.raises(StateConflict, match="does not carry this write-back's mark"):
        d.resolutions.resolve(
            d.clinician(),
            parked.id,
            action="landed",
            document=f"DocumentReference/{parked.document_id}",
            meta=META,
        )
