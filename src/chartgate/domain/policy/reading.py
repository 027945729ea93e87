"""The read half of the policy: per note template, what the scribe may read as context.

HIPAA's minimum-necessary standard (45 CFR §164.502(b)) as data: a read profile names, for one
note template, each resource type the scribe may read, its top-level elements (sent as
``_elements`` and enforced again by chartgate), its categories, a time window counted back
from the encounter, how many rows one answer may hold and which nested fields are redacted.
Anything a profile does not name is refused (``service/scribe_context.py`` enforces it).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from chartgate.domain.policy.checks import (
    ElementName,
    FieldPath,
    LoincCode,
    PositiveDays,
    ResourceType,
    Text,
    covers,
    unique,
)

DEFAULT_MAX_COUNT = 20
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024
# v3-ActReason purposes of use a profile may declare (BALP records it on each read):
# http://terminology.hl7.org/CodeSystem/v3-ActReason
PURPOSES_OF_USE = frozenset({"TREAT", "ETREAT", "HOPERAT", "PATRQT", "HPAYMT"})


def _purpose(value: str) -> str:
    if value not in PURPOSES_OF_USE:
        raise ValueError(
            f"{value!r} is not a purpose of use ({', '.join(sorted(PURPOSES_OF_USE))})"
        )
    return value


class ReadRule(BaseModel):
    """One resource type a note template may read, with its elements and time window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ResourceType
    elements: Annotated[tuple[ElementName, ...], Field(min_length=1), AfterValidator(unique)]
    # Required on purpose: ``null`` (no time limit) must be written down, never a default.
    window_days: PositiveDays | None
    # Category codes (``Observation.category``, ``Condition.category`` ...) the scribe may
    # ask for; None: the type has no category restriction.
    categories: Annotated[tuple[Text, ...], Field(min_length=1), AfterValidator(unique)] | None = (
        None
    )
    max_count: Annotated[int, Field(strict=True, gt=0, le=500)] = DEFAULT_MAX_COUNT
    # The upper bound: nothing dated after the encounter's end (or after the read, while it is
    # in progress; never in the future) is read, unless this many days after its end are
    # allowed (results that come back after the visit, e.g. for a discharge summary).
    days_after_encounter: Annotated[int, Field(strict=True, ge=0, le=366)] = 0
    # Nested paths removed from every answer even though their element is allowed.
    redact: Annotated[tuple[FieldPath, ...], AfterValidator(unique)] = ()

    @model_validator(mode="after")
    def _redactions_under_elements(self) -> Self:
        for path in self.redact:
            if not any(covers(element, path) for element in self.elements):
                raise ValueError(f"redact: {path!r} is not under an allowed element")
            if path in self.elements:
                raise ValueError(f"redact: {path!r} is a whole element: leave it out instead")
        return self


class ReadProfile(BaseModel):
    """Minimum-necessary context for one note template (HIPAA §164.502(b))."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    note_types: Annotated[tuple[LoincCode, ...], Field(min_length=1), AfterValidator(unique)]
    resources: Annotated[tuple[ReadRule, ...], Field(min_length=1)]
    purpose_of_use: Annotated[str, AfterValidator(_purpose)] = "TREAT"
    max_response_bytes: Annotated[int, Field(strict=True, ge=1024, le=4 * 1024 * 1024)] = (
        DEFAULT_MAX_RESPONSE_BYTES
    )

    @model_validator(mode="after")
    def _one_rule_per_type(self) -> Self:
        unique(tuple(rule.type for rule in self.resources))
        return self

    def smart_scopes(self) -> str:
        """SMART v2 system scopes for exactly the profile's types (read and search)."""
        return " ".join(f"system/{rule.type}.rs" for rule in self.resources)

    def rule(self, resource_type: str) -> ReadRule | None:
        """The rule for ``resource_type``, or None (denied)."""
        return next((rule for rule in self.resources if rule.type == resource_type), None)
