"""``chartgate validate FILE``: every finding a draft file would meet, from bytes to approval.

The same rules as the API, in the same order: the bytes must be UTF-8 JSON, then the
submission schema, then the write-back matrix, then every validation rule (as if the draft
were approved unedited). Exit 0 only when the draft would be accepted *and* approved:
no error finding, and every warning acknowledged with ``--acknowledge code@location``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chartgate.adapters.fhir_invariants import R4Invariants
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.domain.findings import Finding, Stage, Verdict, ordered
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.submission import DraftSubmission
from chartgate.domain.validation import submission_findings
from chartgate.service.validation import DraftValidator, Preview

PREVIEW_AUTHOR = "Practitioner/validate"
"""The approving clinician's stand-in: a file has none."""


@dataclass(frozen=True, slots=True)
class FileReport:
    """What ``chartgate validate`` prints."""

    verdict: Verdict

    @property
    def accepted(self) -> bool:
        """Whether the draft would be accepted and could be approved."""
        return self.verdict.accepted

    def as_dict(self) -> dict[str, Any]:
        """JSON output (``--json``)."""
        return {
            "accepted": self.accepted,
            "findings": [f.as_dict() for f in self.verdict.findings],
            "blocking": [f.key for f in self.verdict.blocking],
            "acknowledged": list(self.verdict.acknowledged),
        }


def check_file(
    raw: bytes, policy: LoadedPolicy, *, vendor: str, acknowledged: tuple[str, ...] = ()
) -> FileReport:
    """Every finding of one draft file's bytes."""
    return FileReport(Verdict.of(_findings(raw, policy, vendor=vendor), acknowledged))


def _findings(raw: bytes, policy: LoadedPolicy, *, vendor: str) -> list[Finding]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return [_refusal("encoding.not-utf8", "body", "the file is not UTF-8 encoded")]
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return [_refusal("encoding.malformed-json", "body", "the file is not valid JSON")]
    try:
        submission = DraftSubmission.model_validate(data)
    except ValidationError as exc:
        return submission_findings(exc.errors(include_input=False))
    denied = _policy_denials(submission, policy, vendor=vendor)
    if denied:
        return denied
    validator = DraftValidator(policy, R4BSchema(), R4Invariants())
    preview = Preview(author=PREVIEW_AUTHOR, at=datetime.now(UTC))
    return ordered(validator.submission_findings(submission, preview))


def _refusal(code: str, location: str, message: str) -> Finding:
    return Finding.error(code, location, message, stage=Stage.SUBMIT)


def _policy_denials(
    submission: DraftSubmission, policy: LoadedPolicy, *, vendor: str
) -> list[Finding]:
    out: list[Finding] = []
    note = policy.policy.decide_note(submission.note.type, vendor=vendor)
    if not note.may_draft:
        out.append(_refusal("policy.note-type-denied", "note.type", note.reason))
    for index, resource in enumerate(submission.resources):
        decision = policy.policy.decide_resource(resource["resourceType"], vendor=vendor)
        if not decision.may_draft:
            out.append(_refusal("policy.resource-denied", f"resources[{index}]", decision.reason))
    return out


def finding_line(finding: Finding) -> str:
    """One printed line: severity, code, location, message, and when it blocks."""
    if not finding.is_error:
        when = f"acknowledge as {finding.key}"
    else:
        when = "refused at submit" if finding.refused_at_submit else "blocks approval"
    head = f"{finding.severity.value} {finding.code} at {finding.location}"
    return f"{head}: {finding.message} ({when})"
