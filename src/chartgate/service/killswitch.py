"""The kill switch as a use case: engage, release, read, and the checks that enforce it.

Where each mode is enforced (docs/kill-switch.md):

* ``stop-drafting`` and ``freeze-approvals``: ``refuse_if_engaged`` inside the handler's own
  transaction, after a FOR SHARE read of the epoch row (``adapters/storage/killswitches.py``):
  once ``engage`` returns, no guarded action can commit without having seen the switch.
* ``hold-write-back``: the store's ``due()``/``claim()`` leave covered rows in the queue, and
  the executor asks ``held`` right before every EHR request. ``engage`` returns only after
  every attempt that was in flight when the switch committed has ended ("drained"): from
  then on no EHR request starts for what the switch covers. Releasing puts nothing back:
  the rows never left the queue, so the workers take them as before, exactly once.

Every change is a ledger event (``killswitch.engaged`` / ``killswitch.released``) in each
tenant it covers, with who and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chartgate.domain.documents import note_type_of
from chartgate.domain.errors import Forbidden, InputError, NotFound
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.killswitch import (
    ALL_TENANTS,
    NOTE_RESOURCES,
    Mode,
    Scope,
    Switch,
    SwitchSpec,
    Target,
    first_covering,
    refuse,
)
from chartgate.domain.principal import Principal, Role
from chartgate.service import authz
from chartgate.service.ports import (
    Clock,
    EhrDirectory,
    IdSource,
    JsonObject,
    UnitOfWork,
    UnitOfWorkFactory,
    WritebackRecord,
)

if TYPE_CHECKING:
    from chartgate.domain.drafts import Draft
    from chartgate.domain.submission import DraftSubmission, VersionContent


def refuse_if_engaged(uow: UnitOfWork, mode: Mode, target: Target) -> None:
    """Raise ``KillSwitchEngaged`` when a switch of ``mode`` covers ``target``.

    Call it inside the transaction of the action it guards, so the action and the check
    commit (or fail) together.
    """
    refuse(uow.killswitches.engaged(target.tenant, guard=True), mode, target)


def content_target(
    tenant: str, ehr: str, content: VersionContent, origin_model: tuple[str, str], prompt: str
) -> Target:
    """What a note with ``content`` touches (its note type and proposed resource types)."""
    return Target(
        tenant=tenant,
        ehr=ehr,
        note_type=content.note.type,
        resource_types=NOTE_RESOURCES | {str(r.get("resourceType")) for r in content.resources},
        model_name=origin_model[0],
        model_version=origin_model[1],
        prompt_template=prompt,
    )


def draft_target(draft: Draft, ehr: str) -> Target:
    """What approving, finalizing or amending ``draft`` touches (its current version)."""
    model = draft.origin.model
    return content_target(
        draft.tenant,
        ehr,
        draft.current.content,
        (model.name, model.version),
        draft.origin.prompt_template,
    )


def submission_target(tenant: str, ehr: str, submission: DraftSubmission) -> Target:
    """What a scribe's submission touches."""
    model = submission.origin.model
    return content_target(
        tenant,
        ehr,
        submission.content(),
        (model.name, model.version),
        submission.origin.prompt_template,
    )


@dataclass(frozen=True, slots=True)
class Engaged:
    """The answer to engage: the switch, whether it is new, and what was drained."""

    switch: Switch
    created: bool
    drained: int = 0
    still_in_flight: int = 0

    @property
    def acknowledged(self) -> bool:
        """True once nothing that could have missed the switch is still in flight."""
        return self.still_in_flight == 0


class KillSwitches:
    """Engage, release and read kill switches; the executor's ``held`` check."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        ehr: EhrDirectory,
        tenants: Sequence[str],
        drain_seconds: float = 90.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._ehr = ehr
        self._tenants = tuple(tenants)
        # A worker renews its lease right before it checks the switch, so an attempt that
        # checked before the switch ends (or loses its lease) within one lease: drain that long.
        self._drain_seconds = drain_seconds
        self._sleep = sleep

    # -- who may ---------------------------------------------------------------------------

    @staticmethod
    def admin_spec(
        principal: Principal, *, scope: str, value: str | None, mode: str, reason: str
    ) -> SwitchSpec:
        """An admin's switch: always bound to the admin's own tenant, never global."""
        authz.require_role(principal, Role.ADMIN)
        spec = SwitchSpec.parse(
            tenant=principal.tenant, scope=scope, value=value, mode=mode, reason=reason
        )
        if spec.scope is Scope.GLOBAL:
            raise Forbidden(
                "a global switch is set by the deployment's operator (chartgate killswitch)",
                expression="scope",
            )
        return spec

    # -- changes ---------------------------------------------------------------------------

    def engage(
        self, spec: SwitchSpec, *, actor: str, request_id: str | None = None, drain: bool = True
    ) -> Engaged:
        """Engage ``spec`` (engaging an engaged switch again changes nothing).

        Returns after the switch committed and, for ``hold-write-back``, after every
        attempt in flight at that moment ended (``drain``; bounded by ``drain_seconds``).
        """
        self._known_tenant(spec.tenant)
        now = self._clock.now()
        with self._uow() as uow:
            uow.killswitches.bump_epoch()
            for existing in uow.killswitches.engaged(
                None if spec.tenant == ALL_TENANTS else spec.tenant
            ):
                if spec.same_as(existing):
                    return Engaged(existing, created=False)
            switch = Switch(
                id=self._ids.new_id(),
                tenant=spec.tenant,
                scope=spec.scope,
                value=spec.value,
                mode=spec.mode,
                reason=spec.reason,
                set_by=actor,
                set_at=now,
            )
            uow.killswitches.add(switch)
            self._record(uow, EventType.KILLSWITCH_ENGAGED, switch, actor, request_id, {})
        if spec.mode is not Mode.HOLD_WRITEBACK or not drain:
            return Engaged(switch, created=True)
        drained, left = self._drain()
        return Engaged(switch, created=True, drained=drained, still_in_flight=left)

    def release(
        self,
        switch_id: str,
        *,
        actor: str,
        reason: str,
        tenant: str | None,
        request_id: str | None = None,
    ) -> Switch:
        """Release one engaged switch; ``tenant`` (an admin's) may release only its own."""
        reason = reason.strip()
        if not reason:
            raise InputError("a reason is required", expression="reason")
        now = self._clock.now()
        with self._uow() as uow:
            uow.killswitches.bump_epoch()
            switch = uow.killswitches.get(switch_id)
            if switch is None or (tenant is not None and switch.tenant != tenant):
                raise NotFound("kill switch not found", expression="id")
            if not uow.killswitches.release(switch_id, by=actor, reason=reason, at=now):
                raise NotFound("kill switch is not engaged", expression="id")
            self._record(
                uow, EventType.KILLSWITCH_RELEASED, switch, actor, request_id, {"reason": reason}
            )
        return replace(switch, released_at=now, released_by=actor, release_reason=reason)

    # -- reads -----------------------------------------------------------------------------

    def engaged(self, tenant: str | None = None) -> list[Switch]:
        """Engaged switches of ``tenant`` (and of every tenant); all when None."""
        with self._uow(read_only=True) as uow:
            return uow.killswitches.engaged(tenant)

    def history(self, tenant: str | None = None, *, limit: int = 50) -> list[Switch]:
        """Switches newest first, engaged or released."""
        with self._uow(read_only=True) as uow:
            return uow.killswitches.history(tenant, limit=limit)

    def covering(self, draft: Draft) -> list[Switch]:
        """Engaged switches (any mode) that cover ``draft``: the reviewer page's banner."""
        target = draft_target(draft, self._ehr.vendor(draft.tenant))
        return [s for s in self.engaged(draft.tenant) if s.covers(target)]

    def held(self, record: WritebackRecord, uow: UnitOfWork | None = None) -> str | None:
        """The executor's hook, asked right before every EHR request: a reason holds it.

        Asked in the worker's transaction ``uow`` when given (no transaction of its own).
        """
        if uow is None:
            with self._uow(read_only=True) as own:
                return self.held(record, own)
        switches = [
            s for s in uow.killswitches.engaged(record.tenant) if s.mode is Mode.HOLD_WRITEBACK
        ]
        if not switches:
            return None
        origin = uow.killswitches.origin(record.tenant, record.draft_id) or {}
        switch = first_covering(
            switches, Mode.HOLD_WRITEBACK, self._writeback_target(record, origin)
        )
        if switch is None:
            return None
        return f"kill switch {switch.id} ({switch.describe()})"

    def _writeback_target(self, record: WritebackRecord, origin: JsonObject) -> Target:
        model = origin.get("model") or {}
        return Target(
            tenant=record.tenant,
            ehr=self._ehr.vendor(record.tenant),
            note_type=record.note_type or note_type_of(record.payload),
            resource_types=NOTE_RESOURCES | {record.target_type},
            model_name=model.get("name"),
            model_version=model.get("version"),
            prompt_template=origin.get("prompt_template"),
        )

    # -- helpers ---------------------------------------------------------------------------

    def _drain(self) -> tuple[int, int]:
        """Wait until every attempt in flight now has ended; (how many, how many left)."""
        with self._uow(read_only=True) as uow:
            waiting = set(uow.killswitches.in_flight(self._clock.now()))
        total = len(waiting)
        deadline = time.monotonic() + self._drain_seconds
        while waiting:
            with self._uow(read_only=True) as uow:
                waiting &= set(uow.killswitches.in_flight(self._clock.now()))
            if not waiting or time.monotonic() >= deadline:
                break
            self._sleep(0.05)
        return total - len(waiting), len(waiting)

    def _known_tenant(self, tenant: str) -> None:
        if tenant != ALL_TENANTS and tenant not in self._tenants:
            raise NotFound("unknown tenant", expression="tenant")

    def _record(
        self,
        uow: UnitOfWork,
        event: EventType,
        switch: Switch,
        actor: str,
        request_id: str | None,
        extra: JsonObject,
    ) -> None:
        """One ledger event in every tenant the switch covers."""
        tenants = self._tenants if switch.tenant == ALL_TENANTS else (switch.tenant,)
        data: JsonObject = {
            "switch_id": switch.id,
            "mode": switch.mode.value,
            "scope": switch.scope.value,
            "value": switch.value or None,
            "all_tenants": switch.tenant == ALL_TENANTS,
            "switch_reason": switch.reason,
            **extra,
        }
        for tenant in tenants:
            uow.audit.append(
                AuditRecord(
                    type=event,
                    tenant=tenant,
                    at=self._clock.now(),
                    correlation_id=switch.id,
                    actor=actor,
                    request_id=request_id,
                    data=data,
                )
            )
