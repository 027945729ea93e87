"""The matrix's answers: ``Decision`` for a write, ``ReadDecision`` for a read.

Values only: the schema (``schema.py``) builds them, the use cases enforce them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from chartgate.domain.errors import PolicyDenied
from chartgate.domain.policy.checks import covers
from chartgate.domain.policy.terms import Auth, Mode, Rollback


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The matrix's answer for one resource or note type and one EHR profile.

    ``allowed`` means "may be written to this EHR" under the conditions stated beside it
    (``requires_approval``, ``auth``, ``finalize_auth``). A listed ``draft-only`` type is not
    allowed but keeps its ``mode`` (the scribe may still propose it for review); an unlisted
    one has ``mode=None`` and may not even be drafted.
    """

    allowed: bool
    mode: Mode | None
    requires_approval: bool
    auth: Auth | None
    reason: str
    resource_type: str
    note_type: str | None = None
    finalize_auth: Auth | None = None
    rollback: tuple[Rollback, ...] = ()
    allowed_fields: tuple[str, ...] = ()
    protected_fields: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()
    required_sections: tuple[str, ...] = ()

    @classmethod
    def deny(cls, reason: str, *, resource_type: str, note_type: str | None = None) -> Decision:
        """Build the default-deny answer: nothing is allowed, nothing may be drafted."""
        return cls(
            allowed=False,
            mode=None,
            requires_approval=True,
            auth=None,
            reason=reason,
            resource_type=resource_type,
            note_type=note_type,
        )

    @property
    def may_draft(self) -> bool:
        """Whether the scribe may propose this at all (any listed mode, draft-only included)."""
        return self.mode is not None

    def with_reason(self, reason: str) -> Decision:
        """Return this decision, still not allowed, with a reason."""
        return dataclasses.replace(self, allowed=False, reason=reason)

    def permit(self, reason: str, *, content_types: tuple[str, ...] | None = None) -> Decision:
        """Return this decision allowed, with a reason (and narrowed content types)."""
        narrowed = self.content_types if content_types is None else content_types
        return dataclasses.replace(self, allowed=True, reason=reason, content_types=narrowed)

    def ensure_allowed(self) -> None:
        """Raise ``PolicyDenied`` unless this may be written to the EHR."""
        if not self.allowed:
            where = f"{self.resource_type}.type" if self.note_type else self.resource_type
            raise PolicyDenied(self.reason, expression=where)

    def field_protected(self, path: str) -> bool:
        """Whether the scribe may never set this element path (``subject``, ``meta.security``)."""
        return any(covers(rule, path) for rule in self.protected_fields)

    def field_allowed(self, path: str) -> bool:
        """Whether an auto-write may set this element path (its allowlist covers it)."""
        return not self.field_protected(path) and any(
            covers(rule, path) for rule in self.allowed_fields
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDecision:
    """What a note template may read of one resource type; ``window_days=None`` is unbounded."""

    allowed: bool
    elements: tuple[str, ...]
    window_days: int | None
    reason: str

    @classmethod
    def deny(cls, reason: str) -> ReadDecision:
        """Build the default-deny answer for a read."""
        return cls(allowed=False, elements=(), window_days=None, reason=reason)

    def ensure_allowed(self) -> None:
        """Raise ``PolicyDenied`` unless the read is allowed."""
        if not self.allowed:
            raise PolicyDenied(self.reason)


def narrow(content_types: tuple[str, ...], accepted: tuple[str, ...] | None) -> tuple[str, ...]:
    """Keep the note's content types whose media type (parameters aside) the vendor accepts."""
    if accepted is None:
        return content_types
    bases = {_base_media_type(value) for value in accepted}
    return tuple(value for value in content_types if _base_media_type(value) in bases)


def _base_media_type(value: str) -> str:
    return value.split(";", 1)[0].strip()
