"""What the reviewer page shows, computed from a ``DraftView``: banner, diffs, tables, forms.

Nothing here decides what is allowed: which buttons appear comes from the lifecycle table
(``allowed_actions``) and every action still goes through the use cases, which refuse what
the rules refuse. This module only says things plainly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jsonpatch

from chartgate.domain.codes import SYSTEM_NAMES
from chartgate.domain.fhir_codes import NOTE_TYPES
from chartgate.domain.lifecycle import Action, DraftState, allowed_actions
from chartgate.domain.vendors import get_vendor
from chartgate.domain.writeback import RESOLVABLE_STATES, WritebackKind, WritebackState
from chartgate.service.drafting import DraftView
from chartgate.service.ports import WritebackRecord
from chartgate.settings import TenantSettings
from chartgate.web.worddiff import WordDiff, word_diff

QUEUED_STATES = frozenset({DraftState.APPROVED, DraftState.QUEUED, DraftState.SENDING})
PENDING_STATES = frozenset({*QUEUED_STATES, DraftState.AMBIGUOUS})
CLINICIAN_ACTIONS = frozenset(
    {
        Action.EDIT,
        Action.APPROVE,
        Action.DISCARD,
        Action.FINALIZE,
        Action.AMEND,
        Action.RETRACT,
        Action.REBASE,
    }
)
"""The lifecycle's actions a person takes on this page (the rest are the worker's)."""
RETRACTION_REASONS = (
    ("wrong-patient", "Wrong patient"),
    ("wrong-encounter", "Wrong encounter"),
    ("clinical-error", "Clinical error"),
    ("duplicate", "Duplicate note"),
    ("other", "Other"),
)


@dataclass(frozen=True, slots=True)
class Banner:
    """Where the draft is, in the words the issue fixes (``title``), and a detail line."""

    kind: str  # css modifier: draft | queued | committed | conflict | rejected | ended
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """One structured resource, AI draft vs current."""

    change: str  # unchanged | changed | added | removed
    resource_type: str
    code: str
    before: str
    after: str
    changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Destination:
    """Where an approved note goes: named in the approval confirmation."""

    tenant: str
    ehr: str
    signs: bool = False
    """The EHR takes signed notes only: approving signs (one step-up act, written final)."""


@dataclass(slots=True)
class PageModel:
    """Everything ``review.html`` renders."""

    view: DraftView
    banner: Banner
    note_type: str
    note_type_name: str
    text_diff: WordDiff
    from_version: int
    to_version: int
    resources: list[ResourceRow]
    destination: Destination
    actions: frozenset[str]
    chart_writeback: WritebackRecord | None
    latest_writeback: WritebackRecord | None
    poll_writeback: str | None
    errors: int
    warnings: list[str]
    resources_json: str
    edit_text: str
    edit_title: str
    notices: list[tuple[str, str]] = field(default_factory=list)


def note_type_name(code: str) -> str:
    """``Progress note`` for ``11506-3``; the code itself when we have no name."""
    return NOTE_TYPES.get(code, f"LOINC {code}")


def chart_writeback(records: list[WritebackRecord]) -> WritebackRecord | None:
    """The write-back whose DocumentReference is the note in the chart now (display only).

    A ``partial`` write-back counts: its note is in the chart even though its Provenance is not.
    """
    done = [
        r
        for r in records
        if r.document_landed
        and r.document_id
        and r.kind.writes_note
        and r.kind is not WritebackKind.RETRACT
    ]
    return done[-1] if done else None


def banner(view: DraftView) -> Banner:
    """The status banner: one of the fixed texts, and what it means right now."""
    state = view.draft.state
    if state in PENDING_STATES:
        return _pending_banner(view)
    return _BANNERS.get(state, _ended_banner)(view)


def _draft_banner(_view: DraftView) -> Banner:
    return Banner(
        "draft",
        "Draft — not in the chart",
        "Nothing has been sent. Save draft keeps your edits in chartgate; "
        "Approve for chart queues this version for the EHR.",
    )


def _pending_banner(view: DraftView) -> Banner:
    latest = view.writebacks[-1] if view.writebacks else None
    what = {
        "finalize": "Finalization queued: the chart's note will become final.",
        "amend": "Amendment queued: it will replace the note in the chart.",
        "retract": "Retraction queued: the note will be marked entered-in-error.",
    }.get(latest.kind if latest else "", "The approved version is waiting for the worker.")
    if view.draft.state is DraftState.AMBIGUOUS:
        what = (
            "The EHR did not answer; chartgate reads the chart back before any resend, "
            "so the note cannot land twice."
        )
    if latest is not None and latest.state is WritebackState.NEEDS_PERSON:
        return Banner(
            "conflict",
            "Needs a person — chartgate cannot tell whether the note reached the chart",
            "The EHR did not confirm the note and cannot prevent a second copy, so chartgate "
            "will not send it again on its own. Look for the note in the EHR, then tell "
            "chartgate it landed (pointing at it) or to send it again.",
        )
    if latest is not None and latest.escalated:
        what += f" It has been tried {latest.attempts} times; an operator has been told."
    if latest is not None and latest.kind == WritebackKind.FINALIZE:
        # The note is already in the chart: say so, and that it is not signed yet.
        return Banner("queued", "Signing queued — in the chart, not signed yet", what)
    return Banner("queued", "Approved — queued for the chart", what)


def _committed_banner(view: DraftView) -> Banner:
    record = chart_writeback(view.writebacks)
    document = f"DocumentReference/{record.document_id}" if record else "DocumentReference/?"
    version = record.document_version if record else "?"
    status = view.draft.doc_status or "preliminary"
    latest = view.writebacks[-1] if view.writebacks else None
    if latest is not None and latest.state in RESOLVABLE_STATES and latest.document_landed:
        return Banner(
            "conflict",
            f"In the chart — {document}, but its provenance is missing",
            f"docStatus {status}, version {version} in the EHR. The EHR refused or did not "
            f"confirm the Provenance record ({_rejection(latest)}). The note cannot be edited "
            "and approved again; fix the cause, then retry the follow-up.",
        )
    if status == "final":
        return Banner(
            "signed",
            f"Signed in the chart — {document}",
            f"Final (signed), version {version} in the EHR. Changes now need an amendment.",
        )
    if status == "amended":
        return Banner(
            "signed",
            f"Amended in the chart — {document}",
            f"The amendment replaced the earlier note; version {version} in the EHR.",
        )
    return Banner(
        "committed",
        f"In the chart, not signed — {document}",
        f"Preliminary, version {version} in the EHR: finalize to sign it.",
    )


def _conflict_banner(view: DraftView) -> Banner:
    latest = view.writebacks[-1] if view.writebacks else None
    reason = latest.last_reason if latest and latest.last_reason else "the chart changed"
    return Banner(
        "conflict",
        "Conflict — the chart changed",
        f"Nothing was overwritten. The EHR said: {reason}. Rebase on the chart's current "
        "version, review again and approve again.",
    )


def _rejected_banner(view: DraftView) -> Banner:
    latest = view.writebacks[-1] if view.writebacks else None
    return Banner(
        "rejected",
        f"Rejected by the EHR — {_rejection(latest)}",
        "Nothing was written. Edit the draft and approve it again, or discard it.",
    )


def _retracted_banner(view: DraftView) -> Banner:
    latest = view.writebacks[-1] if view.writebacks else None
    document = f"DocumentReference/{latest.document_id}" if latest else "The note"
    return Banner(
        "ended",
        "Retracted — entered in error in the chart",
        f"{document} is marked entered-in-error; it was not deleted.",
    )


def _ended_banner(_view: DraftView) -> Banner:
    return Banner("ended", "Discarded — never sent to the chart", "This draft is closed.")


_BANNERS: dict[DraftState, Callable[[DraftView], Banner]] = {
    DraftState.IN_REVIEW: _draft_banner,
    DraftState.COMMITTED: _committed_banner,
    DraftState.CONFLICT: _conflict_banner,
    DraftState.REJECTED: _rejected_banner,
    DraftState.RETRACTED: _retracted_banner,
    DraftState.DISCARDED: _ended_banner,
}


def _rejection(record: WritebackRecord | None) -> str:
    if record is None:
        return "no reason given"
    if record.last_reason:
        return record.last_reason
    if record.last_status:
        return f"HTTP {record.last_status}"
    return "no reason given"


def _coding_text(value: Any) -> str:  # noqa: ANN401 - any JSON value
    """A CodeableConcept in a few words: its text, else the first coding."""
    if not isinstance(value, dict):
        return ""
    if isinstance(value.get("text"), str):
        return str(value["text"])
    for coding in value.get("coding") or []:
        if isinstance(coding, dict):
            system = SYSTEM_NAMES.get(str(coding.get("system", "")), "")
            label = coding.get("display") or coding.get("code") or ""
            code = coding.get("code", "")
            if coding.get("display") and code:
                return f"{label} ({system} {code})".replace("( ", "(")
            return f"{system} {label}".strip()
    return ""


_DETAIL_KEYS = (
    "clinicalStatus",
    "verificationStatus",
    "status",
    "valueQuantity",
    "valueString",
    "valueCodeableConcept",
    "onsetDateTime",
    "effectiveDateTime",
    "dosageInstruction",
    "reaction",
)


def _detail(resource: dict[str, Any]) -> str:
    """The resource's clinically telling fields, compactly (the full JSON is one click away)."""
    parts: list[str] = []
    for key in _DETAIL_KEYS:
        if key not in resource:
            continue
        value = resource[key]
        if isinstance(value, dict) and "value" in value:
            parts.append(f"{key}: {value.get('value')} {value.get('unit', '')}".strip())
        elif isinstance(value, dict):
            parts.append(f"{key}: {_coding_text(value) or json.dumps(value)[:80]}")
        elif isinstance(value, list):
            texts = [v.get("text", "") for v in value if isinstance(v, dict)]
            parts.append(f"{key}: {'; '.join(t for t in texts if t) or len(value)}")
        else:
            parts.append(f"{key}: {value}")
    return ", ".join(parts)


def resource_label(resource: dict[str, Any]) -> str:
    """A structured resource in a few words: its code's text or first coding."""
    return _coding_text(resource.get("code") or resource.get("medicationCodeableConcept"))


def _summary(resource: dict[str, Any]) -> str:
    return _detail(resource) or "—"


def _changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """RFC 6902 operations between the two, as short readable lines."""
    lines = []
    for op in jsonpatch.make_patch(old, new).patch:
        path = op["path"]
        if op["op"] == "remove":
            lines.append(f"removed {path}")
        else:
            value = json.dumps(op.get("value"), ensure_ascii=False)
            lines.append(f"{op['op']} {path} = {value[:120]}")
    return tuple(lines[:20])


def resource_rows(
    old: tuple[dict[str, Any], ...], new: tuple[dict[str, Any], ...]
) -> list[ResourceRow]:
    """Pair the AI draft's resources with the current ones by position and say what changed."""
    rows = []
    changes: tuple[str, ...]
    for index in range(max(len(old), len(new))):
        before = old[index] if index < len(old) else None
        after = new[index] if index < len(new) else None
        shown = after if after is not None else before
        assert shown is not None
        kind = str(shown.get("resourceType", "?"))
        code = _coding_text(shown.get("code") or shown.get("medicationCodeableConcept"))
        if before is None:
            change, changes = "added", ()
        elif after is None:
            change, changes = "removed", ()
        elif before == after:
            change, changes = "unchanged", ()
        else:
            change, changes = "changed", _changes(before, after)
        rows.append(
            ResourceRow(
                change=change,
                resource_type=kind,
                code=code or "—",
                before=_summary(before) if before is not None else "",
                after=_summary(after) if after is not None else "",
                changes=changes,
            )
        )
    return rows


def destination(tenant: TenantSettings | None) -> Destination:
    """The tenant and its EHR, as the approval confirmation names them."""
    if tenant is None:
        return Destination(tenant="this organisation", ehr="the EHR")
    host = urlsplit(tenant.ehr.base_url).netloc or tenant.ehr.base_url
    return Destination(
        tenant=tenant.display_name or tenant.id,
        ehr=f"{tenant.ehr.vendor} EHR at {host}",
        signs=not get_vendor(tenant.ehr.vendor).accepts_preliminary,
    )


def page_model(
    view: DraftView,
    *,
    tenant: TenantSettings | None,
    from_version: int = 1,
    to_version: int | None = None,
    edit_text: str | None = None,
) -> PageModel:
    """Assemble the page; ``from``/``to`` choose the versions compared (default AI → now)."""
    draft = view.draft
    count = len(draft.versions)
    first = min(max(from_version, 1), count)
    last = min(max(to_version or count, 1), count)
    old, new = draft.version(first), draft.version(last)
    actions = {a.value for a in allowed_actions(draft.state) if a in CLINICIAN_ACTIONS}
    if draft.doc_status == "final":
        actions.discard(Action.FINALIZE.value)
    latest = view.writebacks[-1] if view.writebacks else None
    pending = draft.state in PENDING_STATES and latest is not None
    return PageModel(
        view=view,
        banner=banner(view),
        note_type=draft.current.content.note.type,
        note_type_name=note_type_name(draft.current.content.note.type),
        text_diff=word_diff(old.content.note.text, new.content.note.text),
        from_version=first,
        to_version=last,
        resources=resource_rows(old.content.resources, new.content.resources),
        destination=destination(tenant),
        actions=frozenset(actions),
        chart_writeback=chart_writeback(view.writebacks),
        latest_writeback=latest,
        poll_writeback=latest.id if pending and latest is not None else None,
        errors=sum(1 for f in view.findings if f.is_error),
        warnings=[f.key for f in view.findings if not f.is_error],
        resources_json=json.dumps(
            list(draft.current.content.resources), indent=2, ensure_ascii=False
        ),
        edit_text=draft.current.content.note.text if edit_text is None else edit_text,
        edit_title=draft.current.content.note.title,
    )
