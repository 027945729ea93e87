"""The sections of a note's narrative, found by their headings.

A heading is a line that names a section the way clinicians and scribes write them: a
Markdown heading (``## Assessment``), a bold label (``**Plan:**``) or a label with a colon
(``Subjective:``, text may follow on the same line). Matching is case-insensitive, so
``ASSESSMENT:`` counts. Plain prose that happens to start with the word does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*(?P<md>[^\n#:]+?)[ \t]*:?[ \t]*#*[ \t]*$"
    r"|\*\*(?P<bold>[^*\n:]+?)[ \t]*:?[ \t]*\*\*[ \t]*:?(?P<bold_rest>.*)$"
    r"|(?P<label>[A-Za-z][A-Za-z &/,()'-]{0,60}?)[ \t]*:(?P<label_rest>.*)$)",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Section:
    """One section: its heading as written, and where its body starts and ends."""

    heading: str
    style: str  # "markdown" | "bold" | "label"
    start: int  # offset of the heading line
    body_start: int
    end: int

    def body(self, text: str) -> str:
        """The section's text (without its heading)."""
        return text[self.body_start : self.end]


def sections(text: str) -> list[Section]:
    """Every headed section of ``text``, in order."""
    found: list[tuple[str, str, int, int]] = []
    for match in _HEADING_RE.finditer(text):
        heading = (match.group("md") or match.group("bold") or match.group("label") or "").strip()
        if not heading:
            continue
        rest_group = "bold_rest" if match.group("bold") else "label_rest"
        rest = match.group(rest_group) if match.group("md") is None else None
        body_start = match.start(rest_group) if rest else match.end()
        style = "markdown" if match.group("md") else "bold" if match.group("bold") else "label"
        found.append((heading, style, match.start(), body_start))
    out: list[Section] = []
    for index, (heading, style, start, body_start) in enumerate(found):
        end = found[index + 1][2] if index + 1 < len(found) else len(text)
        out.append(
            Section(heading=heading, style=style, start=start, body_start=body_start, end=end)
        )
    return out


def normalize_heading(heading: str) -> str:
    """Headings compare case- and space-insensitively (``History  of present illness``)."""
    return " ".join(heading.lower().split())


def find_section(text: str, name: str) -> Section | None:
    """The first section whose heading is ``name``, or None."""
    wanted = normalize_heading(name)
    return next((s for s in sections(text) if normalize_heading(s.heading) == wanted), None)
