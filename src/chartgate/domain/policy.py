"""The write-back matrix: which FHIR resources and note types may reach a chart, and how.

The matrix is data (a version-controlled YAML file, see ``chartgate/policy/writeback.yaml``) so
that what the scribe may write can be reviewed, diffed and audited without reading code. This
module holds its schema, its evaluation and its content hash; it reads no files. Evaluation is
*default deny*: a resource type, LOINC note type, EHR profile, note template or read resource
that the file does not name is refused, with a reason.

Shape of a policy document (every mapping refuses unknown keys)::

    version: 1                          # format version of this schema
    name: conservative-default
    vendors: {<ehr-profile>: {description, note_content_types?}}
    resources:
      DocumentReference:                # notes: decided per LOINC note type
        rollback, protected_fields, ehr_profiles,
        note_types: {<loinc>: {display, mode, auth, finalize_auth, content_types,
                               required_sections}}
      <ResourceType>: {mode, auth, allowed_fields, protected_fields, rollback, ehr_profiles}
    disallowed_content: [{id, description, match: literal|regex, pattern, case_sensitive,
                          severity, block_at: submit|approve}]
    validation: {max_note_bytes, narrative_only_marker, synonyms: {"<system>|<code>": [...]}}
    read_profiles: {<note-template-id>: {description, note_types,
                                         resources: [{type, elements, window_days}]}}

Field paths (``allowed_fields``, ``protected_fields``) are dotted FHIR element paths such as
``meta.security`` or ``value[x]``; a path also covers everything beneath it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from chartgate.domain.errors import PolicyDenied, PolicyFileError

DOCUMENT_REFERENCE = "DocumentReference"
"""The one resource type decided per LOINC note type (``decide_note``), never as a whole."""

# FHIR R4 (4.0.1) concrete resource types, https://hl7.org/fhir/R4/resourcelist.html.
# A policy naming anything else is a typo, and a typo in an allowlist fails silently.
FHIR_R4_RESOURCE_TYPES: frozenset[str] = frozenset(
    """
    Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse
    AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
    CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
    ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition
    Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
    CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest
    DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis
    Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
    GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
    ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice
    Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
    MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
    MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
    MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
    MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition
    ResearchStudy ResearchSubject RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter
    ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition StructureMap Subscription
    Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein
    SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification SupplyDelivery
    SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
    VisionPrescription
    """.split()  # noqa: SIM905 - 145 names read best as a block of words
)


class Mode(StrEnum):
    """How a resource or note type may reach the chart."""

    DRAFT_ONLY = "draft-only"  # shown to the clinician for review, never written to the EHR
    CLINICIAN_APPROVED = "clinician-approved"  # written only after an explicit approval
    AUTO_WRITE = "auto-write"  # written without approval, only within allowed_fields


class Auth(StrEnum):
    """Strength of clinician authentication an action needs (step-up is the stronger)."""

    MFA = "mfa"
    STEP_UP = "step-up"

    @property
    def strength(self) -> int:
        """Rank used to check that finalize never asks for less than approve."""
        return _AUTH_STRENGTH[self]


_AUTH_STRENGTH = {Auth.MFA: 1, Auth.STEP_UP: 2}


class Rollback(StrEnum):
    """How a wrong write-back is undone (FHIR-FACTS.md, "DocumentReference for notes")."""

    AMEND_REPLACES = "amend-replaces"  # a new resource with relatesTo = replaces the old one
    ENTERED_IN_ERROR = "entered-in-error"  # the resource is retracted by status
    NONE = "none"  # nothing to undo: the resource is never written


class Severity(StrEnum):
    """What a disallowed-content hit does: ``error`` blocks, ``warning`` needs an override."""

    ERROR = "error"
    WARNING = "warning"


class MatchKind(StrEnum):
    """How a disallowed-content pattern is read."""

    LITERAL = "literal"
    REGEX = "regex"


# --- value checks (their messages are what a policy author reads) -----------------------------

_T = TypeVar("_T")

_FIELD_SEGMENT = r"[a-z][A-Za-z0-9]*(?:\[x\])?"
_FIELD_PATH_RE = re.compile(rf"{_FIELD_SEGMENT}(?:\.{_FIELD_SEGMENT})*")
_ELEMENT_RE = re.compile(_FIELD_SEGMENT)
_SLUG_RE = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_LOINC_RE = re.compile(r"([0-9]{1,7})-([0-9])")
_MEDIA_TYPE_RE = re.compile(r"[a-z]+/[a-z0-9.+-]+(?:;\s*[a-z-]+=[A-Za-z0-9._-]+)*")


def loinc_check_digit(number: str) -> int:
    """Return the LOINC mod-10 check digit of the part before the hyphen.

    LOINC codes carry a Luhn-style check digit, so a mistyped note type (the STU9 page's
    "28655-1" is one) is caught when the policy is loaded rather than denied at write time.
    """
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def _loinc_code(value: str) -> str:
    match = _LOINC_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a LOINC code (digits, hyphen, check digit)")
    if loinc_check_digit(match.group(1)) != int(match.group(2)):
        raise ValueError(f"{value!r} has a wrong LOINC check digit")
    return value


def _resource_type(value: str) -> str:
    if value not in FHIR_R4_RESOURCE_TYPES:
        raise ValueError(f"{value!r} is not a FHIR R4 resource type")
    return value


def _field_path(value: str) -> str:
    if _FIELD_PATH_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a dotted FHIR element path such as 'meta.security'")
    return value


def _element(value: str) -> str:
    if _ELEMENT_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a top-level FHIR element name such as 'code'")
    return value


def _system_code(value: str) -> str:
    system, bar, code = value.partition("|")
    if not bar or not system.strip() or not code.strip():
        raise ValueError(f"{value!r} is not 'system|code', e.g. 'http://snomed.info/sct|44054006'")
    return value


def _slug(value: str) -> str:
    if _SLUG_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} must be lower-case letters, digits and hyphens")
    return value


def _media_type(value: str) -> str:
    if _MEDIA_TYPE_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a lower-case media type such as 'text/plain'")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _unique(values: tuple[_T, ...]) -> tuple[_T, ...]:
    seen: set[_T] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate entry {value!r}")
        seen.add(value)
    return values


def _one_or_many(value: object) -> object:
    """Let ``rollback: none`` stand for ``rollback: [none]``."""
    return [value] if isinstance(value, str) else value


LoincCode = Annotated[str, AfterValidator(_loinc_code)]
ResourceType = Annotated[str, AfterValidator(_resource_type)]
FieldPath = Annotated[str, AfterValidator(_field_path)]
ElementName = Annotated[str, AfterValidator(_element)]
Slug = Annotated[str, AfterValidator(_slug)]
MediaType = Annotated[str, AfterValidator(_media_type)]
Text = Annotated[str, AfterValidator(_non_blank)]
PositiveDays = Annotated[int, Field(strict=True, gt=0)]


# --- the schema --------------------------------------------------------------------------------


class _Rule(BaseModel):
    """Base of every policy mapping: unknown keys are errors, parsed rules never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorRule(_Rule):
    """An EHR profile that rules may name, with what it accepts for notes."""

    description: str = ""
    note_content_types: Annotated[tuple[MediaType, ...], AfterValidator(_unique)] | None = None


class NoteTypeRule(_Rule):
    """One LOINC note type of DocumentReference: how it is approved, finalized and shaped."""

    display: Text
    mode: Mode
    auth: Auth
    finalize_auth: Auth = Auth.STEP_UP
    content_types: Annotated[tuple[MediaType, ...], Field(min_length=1), AfterValidator(_unique)]
    required_sections: Annotated[tuple[Text, ...], AfterValidator(_unique)] = ()

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
    allowed_fields: Annotated[tuple[FieldPath, ...], AfterValidator(_unique)] = ()
    protected_fields: Annotated[tuple[FieldPath, ...], AfterValidator(_unique)] = ()
    rollback: Annotated[
        tuple[Rollback, ...],
        BeforeValidator(_one_or_many),
        Field(min_length=1),
        AfterValidator(_unique),
    ] = (Rollback.NONE,)
    ehr_profiles: Annotated[tuple[Slug, ...], AfterValidator(_unique)] = ()
    note_types: dict[LoincCode, NoteTypeRule] | None = None

    def protects(self, path: str) -> bool:
        """Whether the scribe may never set this element path (``meta.security``)."""
        return any(_covers(rule, path) for rule in self.protected_fields)

    def allows(self, path: str) -> bool:
        """Whether an auto-write may set this element path (its allowlist covers it)."""
        return any(_covers(rule, path) for rule in self.allowed_fields)

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
            if any(_covers(rule, path) for rule in self.protected_fields):
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


class ReadRule(_Rule):
    """One resource type a note template may read, with its elements and time window."""

    type: ResourceType
    elements: Annotated[tuple[ElementName, ...], Field(min_length=1), AfterValidator(_unique)]
    # Required on purpose: ``null`` (no time limit) must be written down, never a default.
    window_days: PositiveDays | None


class ReadProfile(_Rule):
    """Minimum-necessary context for one note template (HIPAA §164.502(b))."""

    description: str = ""
    note_types: Annotated[tuple[LoincCode, ...], Field(min_length=1), AfterValidator(_unique)]
    resources: Annotated[tuple[ReadRule, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _one_rule_per_type(self) -> Self:
        _unique(tuple(rule.type for rule in self.resources))
        return self


class ValidationRule(_Rule):
    """Tunables of draft validation: the note size limit and the consistency vocabulary."""

    # UTF-8 bytes of one note's attachment. US Core servers accept at least 5 MiB inline; a
    # scribe's note is a few KiB, so anything near this is a runaway generation.
    max_note_bytes: Annotated[int, Field(strict=True, gt=0, le=5 * 1024 * 1024)] = 128 * 1024
    # Written on an Assessment line, lets a coded diagnosis stand without a Condition.
    narrative_only_marker: Text = "narrative only"
    # Other names the narrative may use for a coded resource, keyed "system|code".
    synonyms: dict[Annotated[str, AfterValidator(_system_code)], tuple[Text, ...]] = Field(
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
    validation: ValidationRule = Field(default_factory=ValidationRule)

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        for resource_type, rule in self.resources.items():
            self._check_resource_references(resource_type, rule)
        ids = [pattern.id for pattern in self.disallowed_content]
        for index, pattern_id in enumerate(ids):
            if pattern_id in ids[:index]:
                raise ValueError(f"disallowed_content[{index}].id: duplicate id {pattern_id!r}")
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

        The answer carries what the handlers enforce: approval, authentication for approve and
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
        content_types = _narrow(note.content_types, self.vendors[vendor].note_content_types)
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


def _narrow(content_types: tuple[str, ...], accepted: tuple[str, ...] | None) -> tuple[str, ...]:
    """Keep the note's content types whose media type (parameters aside) the vendor accepts."""
    if accepted is None:
        return content_types
    bases = {_base_media_type(value) for value in accepted}
    return tuple(value for value in content_types if _base_media_type(value) in bases)


def _base_media_type(value: str) -> str:
    return value.split(";", 1)[0].strip()


_INDEX_RE = re.compile(r"\[[0-9]+\]")


def _covers(rule: str, path: str) -> bool:
    """Whether a policy path such as ``meta`` or ``value[x]`` covers an element path.

    ``meta`` covers ``meta.security``; ``value[x]`` covers ``valueQuantity.unit``; array
    indices in the element path (``coding[0]``) are ignored.
    """
    rule_parts = rule.split(".")
    path_parts = _INDEX_RE.sub("", path).split(".")
    if len(path_parts) < len(rule_parts):
        return False
    for expected, actual in zip(rule_parts, path_parts, strict=False):
        if expected.endswith("[x]"):
            stem = expected[: -len("[x]")]
            suffix = actual[len(stem) :]
            if not (actual.startswith(stem) and (not suffix or suffix[0].isupper())):
                return False
        elif expected != actual:
            return False
    return True


# --- answers -----------------------------------------------------------------------------------


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
        return any(_covers(rule, path) for rule in self.protected_fields)

    def field_allowed(self, path: str) -> bool:
        """Whether an auto-write may set this element path (its allowlist covers it)."""
        return not self.field_protected(path) and any(
            _covers(rule, path) for rule in self.allowed_fields
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


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A policy together with the hash of the exact bytes it was parsed from.

    Kept together so that the hash recorded in a Provenance is always the hash of the
    policy that made the decision.
    """

    policy: WritebackPolicy
    content_hash: str


class MatrixRow(NamedTuple):
    """One display row of the matrix (strings only, ready for a table)."""

    resource_type: str
    note_type: str
    display: str
    mode: str
    auth: str
    finalize_auth: str
    rollback: str
    ehr_profiles: str


# --- entry points ------------------------------------------------------------------------------


def policy_hash(raw_bytes: bytes) -> str:
    """Return ``"sha256:" + hex`` of the policy file's bytes exactly as loaded.

    The bytes, not the parsed data, are hashed so that an auditor holding the file can check
    the value recorded in a Provenance with ``sha256sum writeback.yaml``; comments and
    whitespace therefore change the hash, as any edit to a reviewed file should.
    """
    return "sha256:" + hashlib.sha256(raw_bytes).hexdigest()


def parse_policy(data: Mapping[str, object]) -> WritebackPolicy:
    """Validate parsed policy data (e.g. from YAML) into a ``WritebackPolicy``.

    Raises ``PolicyFileError`` whose message names the location of each problem, such as
    ``resources.Condition.mode: Input should be 'draft-only', ...``.
    """
    if not isinstance(data, Mapping):
        raise PolicyFileError("the policy must be a mapping at the top level")
    try:
        return WritebackPolicy.model_validate(data)
    except ValidationError as e:
        problems = [_describe(error) for error in e.errors()]
        message = "; ".join(text for _, text in problems[:_MAX_PROBLEMS])
        if len(problems) > _MAX_PROBLEMS:
            message += f"; and {len(problems) - _MAX_PROBLEMS} more"
        raise PolicyFileError(message, expression=problems[0][0] or None) from e


_MAX_PROBLEMS = 3
_MAX_SHOWN = 60

_FRIENDLY = {
    "extra_forbidden": "unknown field (not part of the policy schema)",
    "missing": "required field is missing",
}


def _describe(error: Mapping[str, object]) -> tuple[str, str]:
    """Turn one pydantic error into (location, 'location: message')."""
    location = _location(error.get("loc", ()))
    kind = str(error.get("type", ""))
    message = _FRIENDLY.get(kind) or str(error.get("msg", "invalid")).removeprefix("Value error, ")
    # YAML has lists and mappings, not pydantic's tuples and dictionaries.
    message = message.replace("Tuple should", "List should").replace("Dictionary", "Mapping")
    value = error.get("input")
    shown = isinstance(value, str | int | float | bool) and len(str(value)) <= _MAX_SHOWN
    if kind not in _FRIENDLY and kind != "value_error" and shown:
        message += f" (got {value!r})"
    return location, f"{location}: {message}" if location else message


def _location(loc: object) -> str:
    """Render a pydantic location as ``resources.DocumentReference.note_types.11506-3.mode``."""
    text = ""
    for part in loc if isinstance(loc, tuple) else ():
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def matrix_rows(policy: WritebackPolicy) -> list[MatrixRow]:
    """Flatten the matrix for display: one row per note type, one per other resource type."""
    rows: list[MatrixRow] = []
    for resource_type, rule in policy.resources.items():
        rollback = ", ".join(rule.rollback)
        vendors = ", ".join(rule.ehr_profiles)
        if rule.note_types is not None:
            rows.extend(
                MatrixRow(
                    resource_type,
                    code,
                    note.display,
                    note.mode,
                    note.auth,
                    note.finalize_auth,
                    rollback,
                    "" if note.mode is Mode.DRAFT_ONLY else vendors,
                )
                for code, note in rule.note_types.items()
            )
        else:
            rows.append(
                MatrixRow(
                    resource_type,
                    "",
                    "",
                    rule.mode or "",
                    rule.auth or "",
                    "",
                    rollback,
                    "" if rule.mode is Mode.DRAFT_ONLY else vendors,
                )
            )
    return rows
