"""A fake desk for structured write-backs: use cases, store, EHR and worker over fakes.

Shared by ``tests/unit/test_structured_writeback.py`` and ``test_provenance_modes.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from builders import CLINICIAN, ENCOUNTER, PATIENT, TENANT
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import DraftSubmission
from chartgate.domain.writeback import CreateGuard, Writeback, WritebackKind
from chartgate.service.access import Access
from chartgate.service.approvals import Approvals
from chartgate.service.context import Context, RequestMeta
from chartgate.service.drafting import Drafting
from chartgate.service.retry import RetryPolicy
from chartgate.service.validation import DraftValidator
from chartgate.service.writeback import WritebackExecutor
from fakes import FakeClock, FakeDirectory, FakeEhr, FakeIds, FakeStore
from structured_items import structured_submission, writing_policy

META = RequestMeta(request_id="req-1")
LEASE = timedelta(seconds=60)


class WorkerDied(BaseException):
    """Raised by the crash hook: the worker stops dead at that point."""


def die_at(point: str, nth: int) -> Callable[[str], None]:
    """A crash hook: the worker dies the ``nth`` time it reaches ``point``."""
    seen = {"n": 0}

    def crash(at: str) -> None:
        if at == point:
            seen["n"] += 1
            if seen["n"] == nth:
                raise WorkerDied(point)

    return crash


@dataclass
class Desk:
    store: FakeStore
    ehr: FakeEhr
    directory: FakeDirectory
    clock: FakeClock
    drafting: Drafting
    approvals: Approvals

    def clinician(self, **changes: object) -> Principal:
        base = Principal(
            tenant=TENANT,
            subject="dr-1",
            role=Role.CLINICIAN,
            fhir_user=CLINICIAN,
            amr=("pwd", "otp"),
            auth_time=self.clock.now(),
            launch_encounter=ENCOUNTER,
            launch_patient=PATIENT,
            issuer=f"https://idp.{TENANT}.example",
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def submit(self, body: dict[str, Any] | None = None) -> str:
        sent = DraftSubmission.model_validate(body or structured_submission())
        scribe = Principal(tenant=TENANT, subject="scribe-1", role=Role.SCRIBE)
        return self.drafting.submit_draft(scribe, sent, META).id

    def approve(self, draft_id: str) -> Writeback:
        _, record = self.approvals.approve(
            self.clinician(), draft_id, expected_version=1, meta=META
        )
        return record

    def executor(self, owner: str = "w1", crash: Callable[[str], None] | None = None) -> Any:
        return WritebackExecutor(
            uow=self.store.unit,
            ehr=self.directory,
            clock=self.clock,
            owner=owner,
            lease=LEASE,
            retry=RetryPolicy(base_seconds=1, cap_seconds=60),
            jitter=lambda: 1.0,
            crash=crash or (lambda _point: None),
        )

    def run(self, worker: WritebackExecutor | None = None, rounds: int = 30) -> None:
        worker = worker or self.executor()
        for _ in range(rounds):
            self.clock.advance(120)
            worker.run_once()

    def records(self, draft_id: str) -> list[Writeback]:
        with self.store.unit() as uow:
            return uow.writebacks.for_draft(TENANT, draft_id)

    def parts(self, draft_id: str) -> list[Writeback]:
        return [r for r in self.records(draft_id) if r.kind is WritebackKind.STRUCTURED]

    def view(self, draft_id: str) -> Any:
        return self.drafting.view_draft(self.clinician(), draft_id, META)


def desk(guard: CreateGuard = CreateGuard.CONDITIONAL, **overrides: Any) -> Desk:
    store, ehr, clock = FakeStore(), FakeEhr(), FakeClock()
    chosen = overrides.pop("policy", None)
    checks = overrides.pop("checks", ())  # the FHIR schema and invariant ports, as production
    directory = FakeDirectory(ehr, guard=guard, overrides=overrides)
    policy = chosen or writing_policy(draft_only=overrides.pop("draft_only", ()))
    ctx = Context(
        uow=store.unit,
        clock=clock,
        ids=FakeIds(),
        policy=policy,
        ehr=_Named(directory),
        access=Access(clock=clock),
        validator=DraftValidator(policy, *checks),
    )
    return Desk(store, ehr, directory, clock, Drafting(ctx), Approvals(ctx))


class _Named:
    """The fake directory under the generic R4 profile's name (the policy's vendor key)."""

    def __init__(self, inner: FakeDirectory) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def vendor(self, tenant: str) -> str:
        del tenant
        return "generic-r4"
