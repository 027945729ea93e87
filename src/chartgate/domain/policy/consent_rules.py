"""The consent and disclosure sections of the policy: evidence a note may need to carry.

``consent`` says where a recorded consent to ambient documentation is required before a note
may be approved (per jurisdiction, e.g. the all-party-consent recording states, or per tenant)
and the sentence chartgate writes into the chart from the consent record: the model never
writes it. ``disclosures`` are per-jurisdiction AI-assistance disclosure rules: each names its
legal source and whether a licensed provider's review exempts the note (the approval record is
that review's evidence). Both are answered default-closed: a jurisdiction the policy names
requires what it says; an unknown placeholder in the statement is a policy error.
"""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from chartgate.domain.policy.checks import Slug, Text, unique

# ISO 3166-2 style: a country, optionally a subdivision ("US", "US-CA").
_JURISDICTION = r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$"
Jurisdiction = Annotated[str, Field(pattern=_JURISDICTION)]
STATEMENT_FIELDS = frozenset(
    {"consenter", "method", "date", "jurisdiction", "scope", "captured_by"}
)


class Audience(StrEnum):
    """What a disclosure rule applies to."""

    NOTE = "note"
    PATIENT_COMMUNICATION = "patient-communication"


class Exemption(StrEnum):
    """What lifts a disclosure rule."""

    LICENSED_PROVIDER_REVIEW = "licensed-provider-review"


class ConsentRule(BaseModel):
    """Where consent to ambient documentation must be on record before approval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    required_jurisdictions: Annotated[tuple[Jurisdiction, ...], AfterValidator(unique)] = ()
    required_tenants: Annotated[tuple[Slug, ...], AfterValidator(unique)] = ()
    statement: Text = (
        "Consent to ambient AI documentation: given by the {consenter} ({method}) on {date}"
        " in {jurisdiction}; scope: {scope}; captured by {captured_by}."
    )

    @model_validator(mode="after")
    def _known_placeholders(self) -> Self:
        names = {name for _, name, _, _ in string.Formatter().parse(self.statement) if name}
        unknown = names - STATEMENT_FIELDS
        if unknown:
            raise ValueError(
                f"statement: unknown placeholder(s) {sorted(unknown)};"
                f" use {sorted(STATEMENT_FIELDS)}"
            )
        return self

    def required(self, *, tenant: str, jurisdiction: str | None) -> bool:
        """Whether an approval for ``tenant`` in ``jurisdiction`` needs a consent record."""
        if tenant in self.required_tenants:
            return True
        if jurisdiction is None:
            return False
        country = jurisdiction.split("-", 1)[0]
        return jurisdiction in self.required_jurisdictions or country in (
            self.required_jurisdictions
        )


class DisclosureRule(BaseModel):
    """An AI-assistance disclosure a jurisdiction asks for, and what exempts it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    jurisdictions: Annotated[tuple[Jurisdiction, ...], Field(min_length=1), AfterValidator(unique)]
    applies_to: Annotated[tuple[Audience, ...], Field(min_length=1), AfterValidator(unique)]
    source: Text  # the statute or regulation, cited so the record says why
    text: Text  # the disclosure line chartgate writes when the rule applies
    unless: Exemption | None = None

    def applies(self, jurisdiction: str | None, audience: Audience) -> bool:
        """Whether this rule governs a ``audience`` item in ``jurisdiction``."""
        if jurisdiction is None or audience not in self.applies_to:
            return False
        return jurisdiction in self.jurisdictions or jurisdiction.split("-", 1)[0] in (
            self.jurisdictions
        )
