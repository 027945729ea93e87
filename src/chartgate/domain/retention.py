"""Retention rules as data: how long each class of record is kept, and what happens after.

The rules are a version-controlled YAML file (``chartgate/policy/retention.yaml``) so that
what is deleted, archived or kept can be reviewed and audited without reading code; this
module holds the schema and the decisions and reads no files. ADR 0012 explains the
choices; docs/retention.md is the operator's guide.

Shape (every mapping refuses unknown keys)::

    version: 1
    name: conservative-default
    rules:
      drafts:           {action: delete | keep, after: 90d}   # never approved
      approved_content: {action: delete | keep, after: 6y}    # approved, settled write-backs
      idempotency_keys: {action: delete | keep, after: 2d}    # stored API answers
      scribe_sessions:  {action: delete | keep, after: 30d}   # after the session ended
      consent_records:  {action: delete | keep, after: 6y}    # after recording, once no
                                                              # draft of the encounter is left
      ledger:           {action: archive | keep, after: 1y}   # never deleted
      checkpoints:      {action: archive | keep, after: 1y}   # never deleted
    legal_holds:
      - {tenant: clinic-a, draft: <id>?, reason: "...", until: 2027-12-31?}
    offboarded_tenants:
      - {tenant: old-clinic, offboarded_on: 2026-01-31, shred_after: 30d}

Durations are ``<n>h``, ``<n>d``, ``<n>w`` or ``<n>y``; a year counts 366 days, so a
minimum ("keep six years", HIPAA §164.316(b)(2)) is never cut short by a leap day.
The ledger and its checkpoints are append-only (the store refuses UPDATE and DELETE, and
a deleted entry would break every later proof), so their only actions are ``archive``
(copy a verifiable segment out, keep the rows) and ``keep``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from chartgate.domain.errors import PolicyFileError

_DURATION = re.compile(r"^\s*([1-9][0-9]{0,5})\s*([hdwy])\s*$")
_UNIT_DAYS = {"d": 1, "w": 7, "y": 366}
_TENANT = r"^[a-z0-9][a-z0-9-]{0,62}$"
_MAX_PROBLEMS = 3


class RecordClass(StrEnum):
    """The classes of record a rule covers."""

    DRAFTS = "drafts"
    APPROVED_CONTENT = "approved_content"
    IDEMPOTENCY_KEYS = "idempotency_keys"
    SCRIBE_SESSIONS = "scribe_sessions"
    CONSENT_RECORDS = "consent_records"
    LEDGER = "ledger"
    CHECKPOINTS = "checkpoints"


class RetentionAction(StrEnum):
    """What happens to a record once its time is up."""

    DELETE = "delete"
    ARCHIVE = "archive"
    KEEP = "keep"


def parse_duration(value: object) -> timedelta:
    """``90d`` → 90 days; ``6y`` → 6 * 366 days; ``12h``; ``2w``. Anything else is refused."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value)) if isinstance(value, str | int) else None
    if match is None:
        raise ValueError("a duration is <number><h|d|w|y>, such as 90d or 6y")
    number, unit = int(match.group(1)), match.group(2)
    if unit == "h":
        return timedelta(hours=number)
    return timedelta(days=number * _UNIT_DAYS[unit])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassRule(_Rule):
    """One class's rule: its action and how long after the last change it applies."""

    action: RetentionAction
    after: Duration


class Rules(_Rule):
    """One rule per class; every class must be named (nothing is retained by accident)."""

    drafts: ClassRule
    approved_content: ClassRule
    idempotency_keys: ClassRule
    scribe_sessions: ClassRule
    consent_records: ClassRule
    ledger: ClassRule
    checkpoints: ClassRule

    @model_validator(mode="after")
    def _allowed_actions(self) -> Rules:
        for name in (RecordClass.LEDGER, RecordClass.CHECKPOINTS):
            if getattr(self, name.value).action is RetentionAction.DELETE:
                msg = (
                    f"{name.value}: the ledger is append-only and is never deleted "
                    "(use archive or keep)"
                )
                raise ValueError(msg)
        for name in (
            RecordClass.DRAFTS,
            RecordClass.APPROVED_CONTENT,
            RecordClass.IDEMPOTENCY_KEYS,
            RecordClass.SCRIBE_SESSIONS,
            RecordClass.CONSENT_RECORDS,
        ):
            if getattr(self, name.value).action is RetentionAction.ARCHIVE:
                msg = (
                    f"{name.value}: clinical content is not archived out of the store "
                    "(use delete or keep)"
                )
                raise ValueError(msg)
        return self

    def rule(self, record_class: RecordClass) -> ClassRule:
        """The rule of one class."""
        rule: ClassRule = getattr(self, record_class.value)
        return rule


class LegalHold(_Rule):
    """A hold: nothing of the tenant (or of one draft) is deleted while it stands."""

    tenant: Annotated[str, Field(pattern=_TENANT)]
    draft: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    reason: Annotated[str, AfterValidator(_non_blank)]
    until: date | None = None

    def covers(self, tenant: str, draft_id: str | None, now: datetime) -> bool:
        """Whether this hold stands for ``tenant`` (and ``draft_id``) at ``now``."""
        if self.tenant != tenant:
            return False
        if self.until is not None and now > datetime.combine(self.until, time.max, now.tzinfo):
            return False
        return self.draft is None or self.draft == draft_id


class OffboardedTenant(_Rule):
    """A tenant that left: after the grace period its data key is destroyed (crypto-shred)."""

    tenant: Annotated[str, Field(pattern=_TENANT)]
    offboarded_on: date
    shred_after: Duration = timedelta(days=30)

    def due(self, now: datetime) -> bool:
        """Whether the grace period is over."""
        start = datetime.combine(self.offboarded_on, time.min, now.tzinfo)
        return now >= start + self.shred_after


class RetentionPolicy(_Rule):
    """The whole retention file."""

    version: Literal[1]
    name: Annotated[str, AfterValidator(_non_blank)]
    description: str | None = None
    rules: Rules
    legal_holds: tuple[LegalHold, ...] = ()
    offboarded_tenants: tuple[OffboardedTenant, ...] = ()

    @model_validator(mode="after")
    def _no_offboarding_under_hold(self) -> RetentionPolicy:
        held = {h.tenant for h in self.legal_holds if h.draft is None}
        names = [t.tenant for t in self.offboarded_tenants]
        if len(set(names)) != len(names):
            raise ValueError("offboarded_tenants: a tenant is listed twice")
        for tenant in names:
            if tenant in held:
                msg = f"offboarded_tenants: {tenant} is under a legal hold and cannot be shredded"
                raise ValueError(msg)
        return self

    def held(self, tenant: str, draft_id: str | None, now: datetime) -> LegalHold | None:
        """The first hold covering the tenant (or draft) at ``now``, or None."""
        return next((h for h in self.legal_holds if h.covers(tenant, draft_id, now)), None)

    def cutoff(self, record_class: RecordClass, now: datetime) -> datetime | None:
        """Records last changed before this moment are due; None when the class is kept."""
        rule = self.rules.rule(record_class)
        if rule.action is RetentionAction.KEEP:
            return None
        return now - rule.after


def retention_hash(raw: bytes) -> str:
    """``sha256:<hex>`` of the rules file's exact bytes (recorded with each action)."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_retention(data: Mapping[str, object]) -> RetentionPolicy:
    """Validate parsed YAML into a ``RetentionPolicy``; ``PolicyFileError`` names each problem."""
    if not isinstance(data, Mapping):
        raise PolicyFileError("the retention rules must be a mapping at the top level")
    try:
        return RetentionPolicy.model_validate(data)
    except ValidationError as e:
        problems = []
        for error in e.errors():
            where = ".".join(str(part) for part in error.get("loc", ()))
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            if error.get("type") == "extra_forbidden":
                message = "unknown field (not part of the retention schema)"
            problems.append(f"{where}: {message}" if where else message)
        text = "; ".join(problems[:_MAX_PROBLEMS])
        if len(problems) > _MAX_PROBLEMS:
            text += f"; and {len(problems) - _MAX_PROBLEMS} more"
        raise PolicyFileError(text) from e
