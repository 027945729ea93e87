"""What changed in the chart: one resource's drafted-against version vs its version now.

After a conflict the clinician must see *what* the chart's note (or other baseline resource)
now says differently from the version the draft was made and approved against — not only
that its version number moved. ``field_changes`` compares the two versions field by field in
plain words ("Description: added “Changed in the EHR”", "Signature status: preliminary →
final"); a note's attachment is decoded and its text compared word by word, shown inline like
the draft's own changes. Bookkeeping (``meta``, the generated narrative ``text``) is left out.
Display only: nothing here is stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from chartgate.domain.note_content import NoteEncodingError, decode_note
from chartgate.web.note_view import inline_diff, render
from chartgate.web.worddiff import word_diff

__all__ = ["ChartDiff", "FieldChange", "field_changes"]

_IGNORED = frozenset({"meta", "text", "id", "resourceType"})
_NAMES = {
    "status": "Status",
    "docStatus": "Signature status (docStatus)",
    "description": "Description",
    "type": "Note type",
    "category": "Category",
    "date": "Date",
    "author": "Author",
    "authenticator": "Signed by (authenticator)",
    "custodian": "Custodian",
    "relatesTo": "Related notes (relatesTo)",
    "securityLabel": "Security labels",
    "content": "Attachment",
    "context": "Encounter and period (context)",
    "subject": "Patient (subject)",
    "clinicalStatus": "Clinical status",
    "verificationStatus": "Verification status",
    "code": "Code",
    "note": "Comments (note)",
}
_LIMIT = 120


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of the chart's resource: what it was when drafted against, what it is now."""

    field: str
    was: str | None  # None: the field was absent
    now: str | None  # None: the field is gone

    @property
    def words(self) -> str:
        """The change in one plain sentence."""
        if self.was is None:
            return f"{self.field}: added “{self.now}”"
        if self.now is None:
            return f"{self.field}: removed (was “{self.was}”)"
        return f"{self.field}: was “{self.was}”, now “{self.now}”"


@dataclass(frozen=True, slots=True)
class ChartDiff:
    """The changes between the drafted-against version and the chart's version now."""

    fields: tuple[FieldChange, ...]
    text_summary: str | None = None  # "3 words removed, 5 added" when the note text changed
    text_diff: Markup | None = None  # the chart's note text, changes inline


def _plain(value: Any) -> str:  # noqa: ANN401 - any JSON value
    """A JSON value in a few words: text, a CodeableConcept's text or display, else JSON."""
    if isinstance(value, str):
        shown = value
    elif isinstance(value, dict) and isinstance(value.get("text"), str):
        shown = str(value["text"])
    elif isinstance(value, dict) and isinstance(value.get("display"), str):
        shown = str(value["display"])
    elif isinstance(value, dict) and isinstance(value.get("reference"), str):
        shown = str(value["reference"])
    elif isinstance(value, dict) and isinstance(value.get("coding"), list):
        codes = [c.get("display") or c.get("code") for c in value["coding"] if isinstance(c, dict)]
        shown = ", ".join(str(c) for c in codes if c)
    else:
        shown = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return shown if len(shown) <= _LIMIT else shown[: _LIMIT - 1] + "…"


def _note_text(resource: Mapping[str, Any]) -> str | None:
    """The first attachment's text, when it is inline data chartgate can decode."""
    content = resource.get("content")
    first = content[0] if isinstance(content, list) and content else None
    attachment = first.get("attachment") if isinstance(first, dict) else None
    if not isinstance(attachment, dict) or not isinstance(attachment.get("data"), str):
        return None
    try:
        data = base64.b64decode(attachment["data"], validate=True)
        return decode_note(data, str(attachment.get("contentType") or "text/plain"))
    except (binascii.Error, NoteEncodingError, ValueError):
        return None


def _without_data(value: Any) -> Any:  # noqa: ANN401 - any JSON value
    """``content`` with the attachments' data and hash left out (the text is compared apart)."""
    if not isinstance(value, list):
        return value
    kept = []
    for item in value:
        attachment = item.get("attachment") if isinstance(item, dict) else None
        if isinstance(attachment, dict):
            bare = {k: v for k, v in attachment.items() if k not in {"data", "hash", "size"}}
            kept.append({**item, "attachment": bare})
        else:
            kept.append(item)
    return kept


def field_changes(was: Mapping[str, Any], now: Mapping[str, Any]) -> ChartDiff:
    """What differs between two versions of one chart resource, in plain words."""
    changes = []
    for key in sorted(set(was) | set(now), key=lambda k: (k not in _NAMES, k)):
        if key in _IGNORED:
            continue
        before, after = was.get(key), now.get(key)
        if key == "content":
            before, after = _without_data(before), _without_data(after)
        if before == after:
            continue
        changes.append(
            FieldChange(
                field=_NAMES.get(key, key),
                was=None if before is None else _plain(before),
                now=None if after is None else _plain(after),
            )
        )
    old_text, new_text = _note_text(was), _note_text(now)
    if old_text is None or new_text is None or old_text == new_text:
        return ChartDiff(fields=tuple(changes))
    counted = word_diff(old_text, new_text)
    summary = f"{counted.words_removed} word(s) removed, {counted.words_added} added"
    return ChartDiff(
        fields=tuple(changes),
        text_summary=summary,
        text_diff=render(inline_diff(old_text, new_text)),
    )
