"""The kill switch: scoped brakes on drafting, approving and writing to the chart.

A switch has a *mode* (what it stops) and a *scope* (what it covers). Several switches can
be engaged at once; an action is refused (or a write-back held) when any engaged switch of
the matching mode covers it. Pure rules: storage and the transaction that makes a switch
hold on every replica at once live in ``service/killswitch.py``.

==================  =====================================================================
mode                what it stops
==================  =====================================================================
stop-drafting       scribe submissions are refused (nothing else changes)
freeze-approvals    approve, finalize and amend are refused; a retraction never is: it is
                    the correction, and it is still held by ``hold-write-back``
hold-write-back     approvals are still accepted and queued; no EHR request starts; the
                    queue keeps everything and releasing resumes it (exactly once)
==================  =====================================================================

Scopes: ``global`` (every tenant), ``tenant``, ``ehr`` (a vendor profile such as ``epic``),
``note-type`` (a LOINC code), ``resource-type`` (a FHIR type: ``DocumentReference`` covers
every note write, ``Condition`` a draft that proposes one), ``model-version`` (``version`` or
``name@version``) and ``prompt-template``. Every scope but ``global`` is also bound to one
tenant or, set by the deployment's operator, to all of them (``ALL_TENANTS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chartgate.domain.errors import InputError, KillSwitchEngaged

ALL_TENANTS = "*"
"""The tenant of a switch that covers every tenant (set by the operator, never by an admin)."""

MAX_REASON = 500
_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:/\-]{0,199}$")


class Mode(StrEnum):
    """What a switch stops."""

    STOP_DRAFTING = "stop-drafting"
    FREEZE_APPROVALS = "freeze-approvals"
    HOLD_WRITEBACK = "hold-write-back"


class Scope(StrEnum):
    """What a switch covers."""

    GLOBAL = "global"
    TENANT = "tenant"
    EHR = "ehr"
    NOTE_TYPE = "note-type"
    RESOURCE_TYPE = "resource-type"
    MODEL_VERSION = "model-version"
    PROMPT_TEMPLATE = "prompt-template"

    @property
    def takes_value(self) -> bool:
        """Global and tenant need no value; the others name what they cover."""
        return self not in (Scope.GLOBAL, Scope.TENANT)


NOTE_RESOURCES = frozenset({"DocumentReference", "Provenance"})
"""What every write-back writes: a switch on one of these covers every write-back."""


@dataclass(frozen=True, slots=True)
class Target:
    """What an action touches, as far as the kill switch cares (ids and codes, no PHI)."""

    tenant: str
    ehr: str | None = None
    note_type: str | None = None
    resource_types: frozenset[str] = NOTE_RESOURCES
    model_name: str | None = None
    model_version: str | None = None
    prompt_template: str | None = None


@dataclass(frozen=True, slots=True)
class Switch:
    """One engaged (or, with ``released_at``, released) switch."""

    id: str
    tenant: str
    scope: Scope
    value: str
    mode: Mode
    reason: str
    set_by: str
    set_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None

    @property
    def engaged(self) -> bool:
        """True until released."""
        return self.released_at is None

    def covers(self, target: Target) -> bool:
        """True when this switch applies to ``target`` (mode aside)."""
        if self.tenant not in (ALL_TENANTS, target.tenant):
            return False
        if not self.scope.takes_value:
            return True
        return self.value in _facts(self.scope, target)

    def describe(self) -> str:
        """``scope=value`` and the tenant, for banners, errors and the CLI."""
        where = "all tenants" if self.tenant == ALL_TENANTS else f"tenant {self.tenant}"
        if not self.scope.takes_value:
            return f"{self.scope.value}, {where}"
        return f"{self.scope.value}={self.value}, {where}"

    def public(self) -> dict[str, object]:
        """The JSON form for the admin API and ``chartgate killswitch status --json``."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "scope": self.scope.value,
            "value": self.value or None,
            "mode": self.mode.value,
            "reason": self.reason,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
            "engaged": self.engaged,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by,
            "release_reason": self.release_reason,
        }


@dataclass(frozen=True, slots=True)
class SwitchSpec:
    """A request to engage a switch, checked before anything is stored."""

    tenant: str
    scope: Scope
    value: str
    mode: Mode
    reason: str

    @classmethod
    def parse(
        cls, *, tenant: str, scope: str, value: str | None, mode: str, reason: str
    ) -> SwitchSpec:
        """Check every field; an ``InputError`` names the first one that is wrong."""
        try:
            parsed_scope = Scope(scope)
        except ValueError:
            allowed = ", ".join(s.value for s in Scope)
            raise InputError(f"scope must be one of {allowed}", expression="scope") from None
        try:
            parsed_mode = Mode(mode)
        except ValueError:
            allowed = ", ".join(m.value for m in Mode)
            raise InputError(f"mode must be one of {allowed}", expression="mode") from None
        value = (value or "").strip()
        if parsed_scope.takes_value:
            if not _VALUE.fullmatch(value):
                raise InputError(
                    f"scope {parsed_scope.value} needs a value (letters, digits, . _ - @ : /)",
                    expression="value",
                )
        elif value:
            raise InputError(f"scope {parsed_scope.value} takes no value", expression="value")
        if parsed_scope is Scope.GLOBAL:
            tenant = ALL_TENANTS
        elif parsed_scope is Scope.TENANT and tenant == ALL_TENANTS:
            raise InputError("scope tenant needs a tenant", expression="tenant")
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InputError(
                f"a reason is required (at most {MAX_REASON} characters, no patient data)",
                expression="reason",
            )
        return cls(tenant=tenant, scope=parsed_scope, value=value, mode=parsed_mode, reason=reason)

    def same_as(self, switch: Switch) -> bool:
        """True when ``switch`` already is this one (engaging it again changes nothing)."""
        return (switch.tenant, switch.scope, switch.value, switch.mode) == (
            self.tenant,
            self.scope,
            self.value,
            self.mode,
        )


def _facts(scope: Scope, target: Target) -> frozenset[str]:
    """The values of ``target`` a switch of ``scope`` compares its value with."""
    match scope:
        case Scope.EHR:
            found = {target.ehr}
        case Scope.NOTE_TYPE:
            found = {target.note_type}
        case Scope.RESOURCE_TYPE:
            return target.resource_types
        case Scope.MODEL_VERSION:
            found = {target.model_version}
            if target.model_name is not None and target.model_version is not None:
                found.add(f"{target.model_name}@{target.model_version}")
        case Scope.PROMPT_TEMPLATE:
            found = {target.prompt_template}
        case _:
            found = set()
    return frozenset(v for v in found if v is not None)


def first_covering(switches: Iterable[Switch], mode: Mode, target: Target) -> Switch | None:
    """The oldest engaged switch of ``mode`` that covers ``target`` (None: go ahead)."""
    found = [s for s in switches if s.engaged and s.mode is mode and s.covers(target)]
    return min(found, key=lambda s: (s.set_at, s.id)) if found else None


def refuse(switches: Iterable[Switch], mode: Mode, target: Target) -> None:
    """Raise ``KillSwitchEngaged`` when an engaged switch of ``mode`` covers ``target``."""
    switch = first_covering(switches, mode, target)
    if switch is not None:
        raise KillSwitchEngaged(
            f"kill switch {switch.mode.value} ({switch.describe()}) is engaged: {switch.reason}",
            expression="killswitch",
        )
