"""What the clinician reads first: the note once, the findings plainly, what approval writes.

``PageModel`` (``presenter``) says where the draft is and what can be done; ``Reading``
adds the parts issue 16 asks to be checkable in seconds: the note rendered once with the
changes since the AI draft inline, the AI draft behind a toggle, the findings in plain words
with blocking ones first, the reason Approve is off, and each structured resource with what
approval does to it under the policy in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from markupsafe import Markup

from chartgate.domain.consent import model_consent_spans
from chartgate.domain.drafts import Draft
from chartgate.domain.policy.decisions import Decision
from chartgate.domain.vendor_profile import VendorProfile
from chartgate.service.drafting import DraftView
from chartgate.service.provenance_travel import note_footer
from chartgate.service.validation import model_texts
from chartgate.web.note_view import inline_diff, render, render_text
from chartgate.web.plain_words import (
    PartResolution,
    PlainFinding,
    ResourceFate,
    part_resolution,
    part_words,
    plain_findings,
    resource_fate,
)
from chartgate.web.presenter import PageModel, ResourceRow, resource_label


@dataclass(frozen=True, slots=True)
class ResourceLine:
    """One structured resource of the current version and its fate."""

    row: ResourceRow
    fate: ResourceFate


@dataclass(frozen=True, slots=True)
class Reading:
    """The note, the findings and the resources, as the page shows them."""

    note: Markup
    ai_draft: Markup
    changed: bool
    findings: list[PlainFinding]
    blocking: int
    approve_blocked: str | None
    resources: list[ResourceLine]
    in_chart: list[tuple[str, str, PartResolution | None]]
    """Each approved structured item's write-back: (type, where it is, what a person may
    decide when it waits for one), once queued."""


def reading(
    view: DraftView,
    model: PageModel,
    *,
    decide: Callable[[str], Decision],
    writable: Callable[[str], bool] = lambda _kind: True,
) -> Reading:
    """Build the reading of ``view`` (versions compared as ``model`` chose)."""
    draft = view.draft
    old = draft.version(model.from_version).content.note.text
    new = draft.version(model.to_version).content.note.text
    resources: tuple[dict[str, Any], ...] = draft.current.content.resources
    findings = _quoted(plain_findings(view.findings, resources, label=resource_label), view)
    blocking = sum(1 for f in findings if f.blocking)
    blocked = None
    if blocking:
        blocked = (
            f"Approve is off until {blocking} problem{'s' if blocking > 1 else ''} "
            "listed under “Check before approving” "
            f"{'are' if blocking > 1 else 'is'} fixed."
        )
    lines = [
        ResourceLine(
            row=row,
            fate=resource_fate(decide(row.resource_type), writable=writable(row.resource_type)),
        )
        for row in model.resources
        if row.change != "removed"
    ]
    return Reading(
        note=render(inline_diff(old, new)),
        ai_draft=render_text(draft.version(1).content.note.text),
        changed=old != new,
        findings=findings,
        blocking=blocking,
        approve_blocked=blocked,
        resources=lines,
        in_chart=[
            (str(item["resource_type"]), words, part_resolution(item))
            for item in view.structured
            if (words := part_words(item)) is not None
        ],
    )


WRITEBACK_ID_PLACEHOLDER = "[id made when you approve]"
"""Stands for the id in the attestation footer shown before approval (issue 13)."""


def attestation_preview(profile: VendorProfile, draft: Draft) -> str:
    """The footer approval adds where the EHR takes no Provenance ("" elsewhere), shown first.

    The same function approval uses (``note_footer``) for the current version; only the
    write-back id, made at approval, is a placeholder.
    """
    footer = note_footer(
        profile.provenance_mode,
        origin=draft.origin,
        writeback_id=WRITEBACK_ID_PLACEHOLDER,
        version=draft.current.number,
    )
    return footer.strip()


def _quoted(findings: list[PlainFinding], view: DraftView) -> list[PlainFinding]:
    """Point each model-written consent finding at its sentence, quoted on the page."""
    current = view.draft.current
    text = current.content.note.text
    scribe = current.author.startswith("scribe:")
    sentences = iter(
        text[start:end]
        for start, end in model_consent_spans(text, None if scribe else model_texts(view.draft))
    )
    out = []
    for finding in findings:
        quote = next(sentences, None) if finding.code == "content.model-consent-statement" else None
        out.append(
            replace(finding, todo=f"{finding.todo} The sentence: “{quote}”") if quote else finding
        )
    return out
