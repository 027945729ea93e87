"""Findings, structured resources and times in words a clinician reads in seconds.

Validation reports stable codes and element paths (``consistency.not-in-narrative`` at
``resources[0].code``): right for an auditor, useless to a clinician at 7 pm. Here each
finding becomes "what is wrong" and "what to do", with the place named the way the page
shows it ("structured resource 1, Condition: Acute bronchitis"). The code stays on the page,
small, for support. Unknown codes fall back to the finding's own message (never hidden).

Each structured resource is marked with what approval will do to it, from the write-back
policy in force: "will be written" or "not written to the chart (draft-only by policy)".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from chartgate.domain.findings import Finding
from chartgate.domain.policy.decisions import Decision
from chartgate.domain.structured import fate_of

_RESOURCE_AT = re.compile(r"^resources\[(\d{1,4})\]")

# code -> (what is wrong, what to do)
_PLAIN: dict[str, tuple[str, str]] = {
    "consistency.not-in-narrative": (
        "A structured item is not mentioned in the note.",
        "Mention it in the note text, or remove it from the structured items, then save.",
    ),
    "consistency.diagnosis-without-resource": (
        "The assessment names a coded diagnosis that has no structured item.",
        (
            "Add the diagnosis as a structured Condition, or mark the line as narrative only, "
            "then save."
        ),
    ),
    "section.missing": (
        "A section this note type needs is missing.",
        "Add the section (as a heading) to the note text, then save.",
    ),
    "content.other-patient": (
        "The note refers to another patient.",
        "Remove the other patient's reference; if the draft is for the wrong patient, discard it.",
    ),
    "content.model-consent-statement": (
        "The AI wrote a consent or attestation statement into the note.",
        (
            "Remove the sentence or rewrite it in your own words, then save. chartgate adds "
            "the consent text itself, from the consent record."
        ),
    ),
    "policy.field-not-allowed": (
        "A field is set that the organisation's write-back policy does not allow.",
        "Remove the field from the structured item, then save.",
    ),
    "policy.protected-field": (
        "A protected field (set by chartgate, never by the scribe) is filled in.",
        "Remove the field from the structured item, then save.",
    ),
    "uscore.date": (
        "The note has no usable date.",
        "Ask the scribe vendor to resend the draft; the date cannot be edited here.",
    ),
}
_FAMILY: dict[str, tuple[str, str]] = {
    "code": ("A code is not valid.", "Correct the code in the structured item, then save."),
    "unit": ("A unit is not a valid UCUM unit.", "Correct the unit, then save."),
    "binding": ("A coded value is not one the standard allows.", "Correct it, then save."),
    "uscore": (
        "The note does not meet the US Core rules for clinical notes.",
        "Correct it, or ask the scribe vendor to resend the draft.",
    ),
    "ai": (
        "The AI labels of the note are incomplete.",
        "Ask the scribe vendor to resend the draft; these labels cannot be edited here.",
    ),
}


@dataclass(frozen=True, slots=True)
class PlainFinding:
    """One finding as the page shows it."""

    blocking: bool
    what: str
    todo: str
    where: str
    detail: str
    code: str
    key: str  # code@location: what an acknowledgement names


def _where(location: str, resources: Sequence[dict[str, Any]], label: Callable[..., str]) -> str:
    match = _RESOURCE_AT.match(location)
    if match:
        index = int(match.group(1))
        if index < len(resources):
            resource = resources[index]
            name = label(resource)
            kind = str(resource.get("resourceType", "item"))
            return f"structured item {index + 1} ({kind}{': ' + name if name else ''})"
        return f"structured item {index + 1}"
    if location.startswith("note.text"):
        return "the note text"
    if location.startswith("note.title"):
        return "the note title"
    return "the note"


def plain_findings(
    findings: Sequence[Finding],
    resources: Sequence[dict[str, Any]],
    *,
    label: Callable[[dict[str, Any]], str],
) -> list[PlainFinding]:
    """Blocking findings first, each with what is wrong, where, and what to do."""
    out = []
    for finding in findings:
        family = finding.code.split(".", 1)[0]
        what, todo = _PLAIN.get(finding.code) or _FAMILY.get(
            family, (finding.message[:1].upper() + finding.message[1:] + ".", "Correct it.")
        )
        out.append(
            PlainFinding(
                blocking=finding.is_error,
                what=what,
                todo=todo,
                where=_where(finding.location, resources, label),
                detail=finding.message,
                code=finding.code,
                key=finding.key,
            )
        )
    return sorted(out, key=lambda f: not f.blocking)


@dataclass(frozen=True, slots=True)
class ResourceFate:
    """What approval does to one structured resource."""

    written: bool
    words: str  # "will be written" | "not written to the chart (draft-only by policy)" | ...


def resource_fate(decision: Decision, *, writable: bool = True) -> ResourceFate:
    """The write-back policy's answer (and the EHR profile's), said plainly.

    The words are the API's (``domain/structured.Fate``): one wording on page and API.
    """
    fate = fate_of(
        allowed=decision.allowed and decision.requires_approval,
        may_draft=decision.may_draft,
        writable=writable,
    )
    return ResourceFate(written=fate.written, words=fate.value)


_PART_WORDS = {
    "queued": "queued: written after the note",
    "sending": "being written",
    "ambiguous": "the EHR did not answer: chartgate reads the chart before anything is resent",
    "committed": "written to the chart",
    "partial": "in the chart; its Provenance was refused",
    "conflict": "not written: it changed in the chart",
    "rejected": "not written",
    "needs_person": "needs a person: chartgate cannot tell whether it reached the chart",
}


def part_words(item: Mapping[str, Any]) -> str | None:
    """Where one structured item's write-back (and retraction) is, said plainly (None: none)."""
    writeback, retraction = item.get("writeback"), item.get("retraction")
    if writeback is None:
        return None
    words = _PART_WORDS.get(str(writeback["state"]), str(writeback["state"]))
    if writeback["state"] == "rejected" and writeback.get("last_reason"):
        words += f" ({writeback['last_reason']})"
    update = item.get("update")
    if update is not None:
        state = str(update["state"])
        words += (
            "; changed by the amendment"
            if state == "committed"
            else f"; amendment's change: {_PART_WORDS.get(state, state)}"
        )
    if retraction is not None:
        state = str(retraction["state"])
        words += "; entered-in-error" if state == "committed" else f"; retraction {state}"
    if item.get("index") is None and item.get("fate"):
        words = f"{item['fate']}: {words}"
    return words


def when(moment: datetime | None) -> Markup:
    """A ``<time>`` the page's script shows in the reader's local time with its zone.

    Without the script the server's text stays: the UTC time, labelled UTC.
    """
    if moment is None:
        return Markup("—")
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Markup('<time datetime="{}" class="local-time">{}</time>').format(
        utc.isoformat(timespec="seconds").replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M UTC"),
    )


@dataclass(frozen=True, slots=True)
class PartResolution:
    """A structured item's write-back that waits for a person, and what the page offers."""

    writeback_id: str
    resource_type: str
    actions: tuple[str, ...]
    """``resend`` and ``landed`` (not in the chart, or unknown), or ``retry-follow-up``."""


def part_resolution(item: Mapping[str, Any]) -> PartResolution | None:
    """The item's newest write-back when it needs a person (None: nothing to decide).

    The same decisions as ``POST /v1/writebacks/{id}/resolve``: a write-back that cannot
    tell whether its resource reached the chart is re-sent or pointed at; one whose
    resource is in the chart but whose Provenance was refused or is unproven retries it.
    """
    newest = next(
        (w for w in (item.get("retraction"), item.get("update"), item.get("writeback")) if w),
        None,
    )
    if newest is None or newest["state"] not in ("needs_person", "partial"):
        return None
    if newest["note_in_chart"]:
        actions: tuple[str, ...] = ("retry-follow-up",)
    elif newest["kind"] == "structured":
        actions = ("resend", "landed")
    else:
        actions = ("resend",)
    return PartResolution(str(newest["id"]), str(newest["resource_type"]), actions)
