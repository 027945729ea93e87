"""What a retention run planned and what it did: the report ``chartgate retention run`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One thing the rules make due."""

    record_class: str
    action: str  # delete | archive | shred | held | blocked
    tenant: str
    subject: str  # a draft id, a seq range, "all"
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``--json``."""
        return {
            "class": self.record_class,
            "action": self.action,
            "tenant": self.tenant,
            "subject": self.subject,
            **self.detail,
        }


@dataclass(slots=True)
class RetentionReport:
    """What a run planned, and what it did."""

    dry_run: bool
    rules: str
    rules_hash: str
    actions: list[PlannedAction] = field(default_factory=list)
    done: list[PlannedAction] = field(default_factory=list)
    busy: bool = False  # another replica's run held the duty: this one did nothing
