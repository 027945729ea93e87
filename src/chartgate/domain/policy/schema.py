"""The schema of a write-back policy document, and the questions the parsed matrix answers.

Every mapping refuses unknown keys and every parsed rule is frozen; ``WritebackPolicy`` checks
the references between sections (an EHR profile a rule names must be listed in ``vendors``) and
answers ``decide_note``, ``decide_resource`` and ``decide_read`` with ``decisions`` values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from chartgate.domain.policy.checks import (
    FieldPath,
    LoincCode,
    MediaType,
    ResourceType,
    Slug,
    Text,
    covers,
    one_or_many,
    system_code,
    unique,
)
from chartgate.domain.policy.consent_rules import ConsentRule, DisclosureRule
from chartgate.domain.policy.decisions import Decision, ReadDecision, narrow
from chartgate.domain.policy.reading import ReadProfile
from chartgate.domain.policy.terms import (
    DOCUMENT_REFERENCE,
    Auth,
    MatchKind,
    Mode,
    Rollback,
    Severity,
)

# --- the schema --------------------------------------------------------------------------------


class _Rule(BaseModel):
    """Base of every policy mapping: unknown keys are errors, parsed rules never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorRule(_Rule):
    """An EHR profile that rules may name, with what it accepts for notes."""

    description: str = ""
    note_content_types: Annotated[tuple[MediaType, ...], AfterValidator(unique)] | None = None


class NoteTypeRule(_Rule):
    """One LOINC note type of DocumentReference: how it is approved, finalized and shaped."""

    display: Text
    mode: Mode
    auth: Auth
    finalize_auth: Auth = Auth.STEP_UP
    content_types: Annotated[tuple[MediaType, ...], Field(min_length=1), AfterValidator(unique)]
    required_sections: Annotated[tuple[Text, ...], AfterValidator(unique)] = ()

    @model_validator(mode="after")
    def _finalize_is_not_weaker(self) -> Self:
        if self.finalize_auth.strength < self.auth.strength:
            raise ValueError("finalize_auth must be at least as strong as auth")
        return self


class ResourceRule(_Rule):
    """One FHIR resource type: its mode, authentication, field lists, rollback and EHR profiles.

    DocumentReference carries ``note_types`` instead of its own ``mode``/``auth``, because a
    discharge summary and a progress note are not the same risk.
    """

    description: str = ""
    mode: Mode | None = None
    auth: Auth | None = None
    allowed_fields: Annotated[tuple[FieldPath, ...], AfterValidator(unique)] = ()
    protected_fields: Annotated[tuple[FieldPath, ...], AfterValidator(unique)] = ()
    rollback: Annotated[
        tuple[Rollback, ...],
        BeforeValidator(one_or_many),
        Field(min_length=1),
        AfterValidator(unique),
    ] = (Rollback.NONE,)
    ehr_profiles: Annotated[tuple[Slug, ...], AfterValidator(unique)] = ()
    note_types: dict[LoincCode, NoteTypeRule] | None = None

    def protects(self, path: str) -> bool:
        """Whether the scribe may never set this element path (``meta.security``)."""
        return any(covers(rule, path) for rule in self.protected_fields)

    def allows(self, path: str) -> bool:
        """Whether an auto-write may set this element path (its allowlist covers it)."""
        return any(covers(rule, path) for rule in self.allowed_fields)

    @property
    def writable(self) -> bool:
        """Whether anything under this rule can ever be written to an EHR."""
        if self.note_types is not None:
            return any(note.mode is not Mode.DRAFT_ONLY for note in self.note_types.values())
        return self.mode is not Mode.DRAFT_ONLY

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.note_types is not None:
            self._check_note_shape(self.note_types)
        elif self.mode is None or self.auth is None:
            raise ValueError("mode and auth are required (DocumentReference takes note_types)")
        self._check_fields()
        self._check_rollback()
        return self

    def _check_note_shape(self, note_types: Mapping[str, NoteTypeRule]) -> None:
        if not note_types:
            raise ValueError("note_types must list at least one LOINC note type")
        if self.mode is not None or self.auth is not None:
            raise ValueError("set mode and auth per note type, not on the resource")
        if self.allowed_fields:
            raise ValueError("allowed_fields does not apply to note types")

    def _check_fields(self) -> None:
        if self.mode is Mode.AUTO_WRITE and not self.allowed_fields:
            raise ValueError("auto-write needs a non-empty allowed_fields list")
        if self.allowed_fields and self.mode is not Mode.AUTO_WRITE:
            raise ValueError("allowed_fields applies only to mode auto-write")
        for path in self.allowed_fields:
            if any(covers(rule, path) for rule in self.protected_fields):
                raise ValueError(f"field {path!r} is both allowed and protected")

    def _check_rollback(self) -> None:
        if Rollback.NONE in self.rollback and len(self.rollback) > 1:
            raise ValueError("rollback 'none' cannot be combined with another mechanism")
        if not self.writable:
            return
        if self.rollback == (Rollback.NONE,):
            raise ValueError("a resource that can be written needs a rollback mechanism")
        if not self.ehr_profiles:
            raise ValueError("a resource that can be written needs at least one ehr_profile")


class DisallowedPattern(_Rule):
    """Text that must never reach a chart: template markers, injection echoes, placeholders."""

    id: Slug
    description: Text
    match: MatchKind = MatchKind.LITERAL
    pattern: Text
    case_sensitive: bool = False
    severity: Severity = Severity.ERROR
    # "submit": refuse the scribe's submission outright (an injection echo means the model
    # was steered); "approve": keep the draft for the clinician to fix, block approval.
    block_at: Literal["submit", "approve"] = "approve"

    @model_validator(mode="after")
    def _compiles(self) -> Self:
        try:
            re.compile(self.regex)
        except re.error as e:
            raise ValueError(f"pattern is not a valid regular expression: {e}") from e
        return self

    @property
    def regex(self) -> str:
        """The pattern as a regular expression (a literal is escaped)."""
        return self.pattern if self.match is MatchKind.REGEX else re.escape(self.pattern)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Return where the pattern occurs in ``text`` as (start, end) offsets.

        Offsets, not matched text, so a finding can point at the place without copying PHI.
        """
        flags = 0 if self.case_sensitive else re.IGNORECASE
        return [m.span() for m in re.finditer(self.regex, text, flags)]


class ValidationRule(_Rule):
    """Tunables of draft validation: the note size limit and the consistency vocabulary."""

    # UTF-8 bytes of one note's attachment. US Core servers accept at least 5 MiB inline; a
    # scribe's note is a few KiB, so anything near this is a runaway generation.
    max_note_bytes: Annotated[int, Field(strict=True, gt=0, le=5 * 1024 * 1024)] = 128 * 1024
    # Written on an Assessment line, lets a coded diagnosis stand without a Condition.
    narrative_only_marker: Text = "narrative only"
    # Other names the narrative may use for a coded resource, keyed "system|code".
    synonyms: dict[Annotated[str, AfterValidator(system_code)], tuple[Text, ...]] = Field(
        default_factory=dict
    )


class WritebackPolicy(_Rule):
    """A parsed, validated write-back matrix; every question it answers defaults to deny."""

    version: Literal[1]
    name: Slug
    description: str = ""
    vendors: Annotated[dict[Slug, VendorRule], Field(min_length=1)]
    resources: dict[ResourceType, ResourceRule]
    disallowed_content: tuple[DisallowedPattern, ...] = ()
    read_profiles: dict[Slug, ReadProfile] = Field(default_factory=dict)
    consent: ConsentRule = Field(default_factory=ConsentRule)
    disclosures: tuple[DisclosureRule, ...] = ()
    validation: ValidationRule = Field(default_factory=ValidationRule)

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        for resource_type, rule in self.resources.items():
            self._check_resource_references(resource_type, rule)
        ids = [pattern.id for pattern in self.disallowed_content]
        for index, pattern_id in enumerate(ids):
            if pattern_id in ids[:index]:
                raise ValueError(f"disallowed_content[{index}].id: duplicate id {pattern_id!r}")
        unique(tuple(rule.id for rule in self.disclosures))
        notes = self._note_types()
        for template, profile in self.read_profiles.items():
            for code in profile.note_types:
                if code not in notes:
                    raise ValueError(
                        f"read_profiles.{template}.note_types: {code} is not a note type"
                        " of resources.DocumentReference"
                    )
        return self

    def _check_resource_references(self, resource_type: str, rule: ResourceRule) -> None:
        where = f"resources.{resource_type}"
        if resource_type == DOCUMENT_REFERENCE and rule.note_types is None:
            raise ValueError(f"{where}: DocumentReference is decided per note_types")
        if resource_type != DOCUMENT_REFERENCE and rule.note_types is not None:
            raise ValueError(f"{where}: note_types applies only to DocumentReference")
        for vendor in rule.ehr_profiles:
            if vendor not in self.vendors:
                raise ValueError(f"{where}.ehr_profiles: {vendor!r} is not listed in vendors")

    def _note_types(self) -> Mapping[str, NoteTypeRule]:
        rule = self.resources.get(DOCUMENT_REFERENCE)
        return {} if rule is None or rule.note_types is None else rule.note_types

    def decide_note(self, loinc_code: str, *, vendor: str) -> Decision:
        """Decide whether a note of this LOINC type may be written to an EHR of this profile.

        The answer carries what the use cases enforce: approval, authentication for approve and
        finalize, the content types this vendor may receive, and the required sections.
        """
        rule = self.resources.get(DOCUMENT_REFERENCE)
        note = self._note_types().get(loinc_code)
        if rule is None or note is None:
            return Decision.deny(
                f"note type {loinc_code!r} is not in the write-back matrix",
                resource_type=DOCUMENT_REFERENCE,
                note_type=loinc_code,
            )
        listed = Decision(
            allowed=False,
            mode=note.mode,
            requires_approval=note.mode is not Mode.AUTO_WRITE,
            auth=note.auth,
            reason="",
            resource_type=DOCUMENT_REFERENCE,
            note_type=loinc_code,
            finalize_auth=note.finalize_auth,
            rollback=rule.rollback,
            protected_fields=rule.protected_fields,
            content_types=note.content_types,
            required_sections=note.required_sections,
        )
        if note.mode is Mode.DRAFT_ONLY:
            return listed.with_reason(f"note type {loinc_code} is draft-only: never written")
        if vendor not in rule.ehr_profiles:
            return Decision.deny(
                f"EHR profile {vendor!r} may not receive note type {loinc_code}",
                resource_type=DOCUMENT_REFERENCE,
                note_type=loinc_code,
            )
        content_types = narrow(note.content_types, self.vendors[vendor].note_content_types)
        if not content_types:
            return Decision.deny(
                f"EHR profile {vendor!r} accepts none of the content types of note type"
                f" {loinc_code}",
                resource_type=DOCUMENT_REFERENCE,
                note_type=loinc_code,
            )
        return listed.permit(
            f"note type {loinc_code} is {note.mode} for {vendor!r}",
            content_types=content_types,
        )

    def decide_resource(self, resource_type: str, *, vendor: str) -> Decision:
        """Decide whether a structured resource of this type may be written to this EHR profile.

        DocumentReference is refused here: notes are only ever decided per note type.
        """
        rule = self.resources.get(resource_type)
        if rule is None:
            return Decision.deny(
                f"resource type {resource_type!r} is not in the write-back matrix",
                resource_type=resource_type,
            )
        if rule.note_types is not None or rule.mode is None or rule.auth is None:
            return Decision.deny(
                f"{resource_type} is decided per note type (decide_note)",
                resource_type=resource_type,
            )
        listed = Decision(
            allowed=False,
            mode=rule.mode,
            requires_approval=rule.mode is not Mode.AUTO_WRITE,
            auth=rule.auth,
            reason="",
            resource_type=resource_type,
            rollback=rule.rollback,
            allowed_fields=rule.allowed_fields,
            protected_fields=rule.protected_fields,
        )
        if rule.mode is Mode.DRAFT_ONLY:
            return listed.with_reason(f"{resource_type} is draft-only: never written")
        if vendor not in rule.ehr_profiles:
            return Decision.deny(
                f"EHR profile {vendor!r} may not receive {resource_type}",
                resource_type=resource_type,
            )
        return listed.permit(f"{resource_type} is {rule.mode} for {vendor!r}")

    def decide_read(self, template: str, resource_type: str) -> ReadDecision:
        """Decide what a note template may read of one resource type (minimum necessary)."""
        profile = self.read_profiles.get(template)
        if profile is None:
            return ReadDecision.deny(f"note template {template!r} has no read profile")
        for rule in profile.resources:
            if rule.type == resource_type:
                return ReadDecision(
                    allowed=True,
                    elements=rule.elements,
                    window_days=rule.window_days,
                    reason=f"read profile {template!r} allows {resource_type}",
                )
        return ReadDecision.deny(f"read profile {template!r} does not allow {resource_type}")
