"""The draft-vs-approved diff, stored with every approval.

Two views of one change: a unified text diff of the narrative (what a person reads) and an
RFC 6902 JSON Patch of the structured payload (what a machine replays). Both are computed
from the AI's first version to the version being approved, so a reviewer or an auditor can
see exactly what the clinician changed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import jsonpatch

from chartgate.domain.submission import VersionContent


@dataclass(frozen=True, slots=True)
class DraftDiff:
    """What changed between two versions."""

    from_version: int
    to_version: int
    unified: str
    json_patch: list[dict[str, Any]]
    lines_added: int
    lines_removed: int

    @property
    def changed(self) -> bool:
        """True when text or structure differ."""
        return bool(self.unified) or bool(self.json_patch)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored with the approval and served by the API."""
        return {
            "from_version": self.from_version,
            "to_version": self.to_version,
            "unified": self.unified,
            "json_patch": self.json_patch,
            "lines_added": self.lines_added,
            "lines_removed": self.lines_removed,
            "changed": self.changed,
        }


def structured_view(content: VersionContent) -> dict[str, Any]:
    """The structured payload the JSON Patch is computed over (note metadata + resources)."""
    note = content.note
    return {
        "note": {"type": note.type, "title": note.title, "content_type": note.content_type},
        "resources": [dict(r) for r in content.resources],
    }


def diff_versions(
    old: VersionContent, new: VersionContent, *, from_version: int, to_version: int
) -> DraftDiff:
    """Diff two versions: unified text of the narrative, JSON Patch of the structure."""
    old_lines = old.note.text.splitlines(keepends=True)
    new_lines = new.note.text.splitlines(keepends=True)
    lines = list(
        difflib.unified_diff(
            old_lines,
            new_lines,
            fromfile=f"version {from_version}",
            tofile=f"version {to_version}",
            n=2,
        )
    )
    # difflib omits the newline on a last line without one; keep the diff well formed.
    unified = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    # lines[:2] are the "---"/"+++" file headers; after them a leading +/- is the change mark,
    # even on a line whose own text starts with "--" or "++" (a Markdown rule, say).
    body = [line for line in lines[2:] if not line.startswith("@@")]
    added = sum(1 for line in body if line.startswith("+"))
    removed = sum(1 for line in body if line.startswith("-"))
    patch = jsonpatch.make_patch(structured_view(old), structured_view(new)).patch
    return DraftDiff(
        from_version=from_version,
        to_version=to_version,
        unified=unified,
        json_patch=list(patch),
        lines_added=added,
        lines_removed=removed,
    )
