"""Findings: what validation says about a draft, one problem at one place.

Every rule of validation (FHIR schema, required bindings, code shapes, US Core note rules,
write-back policy, narrative/structured consistency) reports ``Finding`` values; nothing
raises half-way, so a clinician sees every problem at once. A finding's message names
codes, element paths, offsets and rule ids only, never note text (no PHI).

When a finding blocks (``Stage``):

- ``submit``: the draft is malformed in a way the scribe cannot have meant (schema errors,
  invalid codes, text that is not Unicode, a protected field set, another patient's
  reference, a prompt-injection echo). Refused at ``POST /v1/drafts`` and at a clinician's
  save, so it never becomes a stored version.
- ``approve``: a review problem a clinician can fix by editing (a missing section, a
  template marker, a structured resource the narrative does not mention). The draft is
  stored and shown with its findings; approval is refused while any error remains, and a
  warning must be acknowledged (``code@location``) with the approval.

Every error, whatever its stage, blocks approval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final


class Severity(StrEnum):
    """How bad a finding is: ``error`` blocks, ``warning`` needs an acknowledged override.

    A write-back policy's disallowed-content rule names one (``domain/policy/terms.py``
    re-exports it), which is why it lives here and not in the policy: findings depend on
    nothing else in the domain, so ``errors`` can name ``Finding`` without a cycle.
    """

    ERROR = "error"
    WARNING = "warning"


FINDING_SYSTEM: Final = "urn:chartgate:finding"
"""``OperationOutcome.issue.details.coding.system`` of our finding codes."""


class Stage(StrEnum):
    """The earliest step a finding (if it is an error) refuses."""

    SUBMIT = "submit"
    APPROVE = "approve"


# FHIR issue type per finding family (http://hl7.org/fhir/R4/valueset-issue-type.html).
_ISSUE_TYPES: Final = {
    "encoding": "structure",
    "submission": "invalid",
    "fhir": "structure",
    "invariant": "invariant",
    "binding": "code-invalid",
    "code": "code-invalid",
    "unit": "code-invalid",
    "uscore": "invariant",
    "policy": "business-rule",
    "content": "business-rule",
    "section": "required",
    "consistency": "business-rule",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: a stable code, how bad it is, where (FHIRPath-style), and why."""

    code: str
    severity: Severity
    location: str
    message: str
    stage: Stage = Stage.APPROVE

    @classmethod
    def error(
        cls, code: str, location: str, message: str, *, stage: Stage = Stage.APPROVE
    ) -> Finding:
        """An error finding."""
        return cls(code, Severity.ERROR, location, message, stage)

    @classmethod
    def warning(cls, code: str, location: str, message: str) -> Finding:
        """A warning: approval needs it acknowledged."""
        return cls(code, Severity.WARNING, location, message, Stage.APPROVE)

    @property
    def key(self) -> str:
        """What a clinician names to acknowledge a warning: ``code@location``."""
        return f"{self.code}@{self.location}"

    @property
    def is_error(self) -> bool:
        """Whether this finding can never be overridden."""
        return self.severity is Severity.ERROR

    @property
    def refused_at_submit(self) -> bool:
        """Whether this finding refuses a submission (and a save)."""
        return self.is_error and self.stage is Stage.SUBMIT

    @property
    def issue_type(self) -> str:
        """The FHIR ``OperationOutcome.issue.code`` for this finding."""
        return _ISSUE_TYPES.get(self.code.split(".", 1)[0], "invalid")

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the API and the CLI."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "location": self.location,
            "message": self.message,
            "stage": self.stage.value,
            "key": self.key,
        }

    def as_issue(self) -> dict[str, Any]:
        """One ``OperationOutcome.issue``, the finding code in ``details``."""
        return {
            "severity": self.severity.value,
            "code": self.issue_type,
            "details": {"coding": [{"system": FINDING_SYSTEM, "code": self.code}]},
            "diagnostics": self.message,
            "expression": [self.location],
        }


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Drop exact duplicates and put errors first, stably."""
    seen: set[tuple[str, Severity, str]] = set()
    unique: list[Finding] = []
    for finding in findings:
        marker = (finding.key, finding.severity, finding.message)
        if marker not in seen:
            seen.add(marker)
            unique.append(finding)
    return sorted(unique, key=lambda f: 0 if f.is_error else 1)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a version may be approved, given the warnings the clinician acknowledged."""

    findings: tuple[Finding, ...]
    acknowledged: tuple[str, ...]

    @classmethod
    def of(cls, findings: Iterable[Finding], acknowledged: Iterable[str] = ()) -> Verdict:
        """Judge ``findings``; ``acknowledged`` keys count only for warnings present."""
        kept = tuple(ordered(findings))
        asked = set(acknowledged)
        keys = tuple(sorted({f.key for f in kept if not f.is_error and f.key in asked}))
        return cls(findings=kept, acknowledged=keys)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        """Errors, and warnings nobody acknowledged."""
        return tuple(f for f in self.findings if f.is_error or f.key not in self.acknowledged)

    @property
    def accepted(self) -> bool:
        """Whether approval may go ahead."""
        return not self.blocking
