"""What a scribe may submit, as a strict schema (unknown fields are refused).

Shared by ``POST /v1/drafts`` and ``chartgate validate`` so both accept exactly the same
documents. See ARCHITECTURE.md, "What a scribe submits".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

REFERENCE_ID = r"[A-Za-z0-9\-\.]{1,64}"
"""FHIR id grammar (http://hl7.org/fhir/R4/datatypes.html#id)."""

LABEL = r"^[^\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]+$"
"""A name or label: no control characters (NUL included) and no bidi overrides or marks."""

LOINC_CODE = r"^[0-9]{1,7}-[0-9]$"
MAX_NOTE_CHARS = 200_000
MAX_RESOURCES = 50

STRUCTURED_TYPES = frozenset(
    {
        "Composition",
        "Condition",
        "Observation",
        "MedicationRequest",
        "AllergyIntolerance",
        "Procedure",
        "ServiceRequest",
        "Immunization",
    }
)
"""FHIR resource types a draft may propose; the write-back matrix decides what happens to each."""


def check_baseline(value: dict[str, str]) -> dict[str, str]:
    """A baseline maps FHIR references (``Type/id``) to the version ids the draft was made on."""
    for ref, version in value.items():
        if not re.fullmatch(rf"[A-Z][A-Za-z]{{1,63}}/{REFERENCE_ID}", ref):
            msg = "a baseline key is not a FHIR reference Type/id"
            raise ValueError(msg)
        if not re.fullmatch(REFERENCE_ID, version):
            msg = "a baseline version is not a FHIR version id"
            raise ValueError(msg)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class ModelRef(_Strict):
    """The AI model that produced the draft."""

    name: str = Field(min_length=1, max_length=200, pattern=LABEL)
    version: str = Field(min_length=1, max_length=100, pattern=LABEL)


class Origin(_Strict):
    """Where the draft came from: model, prompt template and the transcript's hash."""

    model: ModelRef
    prompt_template: str = Field(min_length=1, max_length=200, pattern=LABEL)
    transcript_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    generated_at: datetime


class Note(_Strict):
    """The narrative note: LOINC type, title, content type and text."""

    type: str = Field(pattern=LOINC_CODE)
    title: str = Field(min_length=1, max_length=300, pattern=LABEL)
    content_type: Literal["text/plain", "text/markdown"] = "text/plain"
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class VersionContent(_Strict):
    """The content of one version: the note plus structured proposals."""

    note: Note
    resources: tuple[dict[str, Any], ...] = Field(default=(), max_length=MAX_RESOURCES)

    @field_validator("resources")
    @classmethod
    def _known_resource_types(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        for index, resource in enumerate(value):
            kind = resource.get("resourceType")
            if kind not in STRUCTURED_TYPES:
                # Never echo the value: a confused scribe may have put note text there.
                msg = f"resources[{index}].resourceType is not a resource a draft may hold"
                raise ValueError(msg)
        return value


class DraftSubmission(_Strict):
    """``POST /v1/drafts``: one encounter's proposed note."""

    patient: str = Field(pattern=rf"^Patient/{REFERENCE_ID}$")
    encounter: str = Field(pattern=rf"^Encounter/{REFERENCE_ID}$")
    note: Note
    resources: tuple[dict[str, Any], ...] = Field(default=(), max_length=MAX_RESOURCES)
    origin: Origin
    baseline: dict[str, str] = Field(default_factory=dict, max_length=50)

    @field_validator("resources")
    @classmethod
    def _known_resource_types(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        return VersionContent._known_resource_types(value)  # noqa: SLF001 - same rule, one place

    @field_validator("baseline")
    @classmethod
    def _baseline_shape(cls, value: dict[str, str]) -> dict[str, str]:
        return check_baseline(value)

    def content(self) -> VersionContent:
        """The first version's content (what the AI proposed)."""
        return VersionContent(note=self.note, resources=self.resources)


class VersionEdit(_Strict):
    """``PUT /v1/drafts/{id}``: the clinician's edited content (a new version)."""

    note: Note
    resources: tuple[dict[str, Any], ...] = Field(default=(), max_length=MAX_RESOURCES)

    @field_validator("resources")
    @classmethod
    def _known_resource_types(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        return VersionContent._known_resource_types(value)  # noqa: SLF001 - same rule, one place

    def content(self) -> VersionContent:
        """The content of the new version."""
        return VersionContent(note=self.note, resources=self.resources)
