"""The note as a clinician reads it: rendered once, sections as headings, changes inline.

A note's text is Markdown-like (``## Plan``, ``- item``); a clinician should read headings,
not hash marks. This module renders the small subset scribes write — ATX headings, bullet
and numbered lists, paragraphs — and nothing else (no links, no HTML, no images: every
character of the note is escaped). The word diff between two versions (``worddiff``) is
merged into one stream: removed words struck through, added words underlined, in place, so
the page shows the note once instead of two copies side by side.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from chartgate.web.worddiff import Kind

_TOKENS = re.compile(r"\s+|[^\s]+")
_HEADING = re.compile(r"^(#{1,6})[ \t]+")
_BULLET = re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+")


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of the note's text: unchanged, removed or added."""

    kind: Kind
    text: str


def inline_diff(old: str, new: str) -> list[Piece]:
    """One stream of the new text with the old one's removed words in place."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    pieces: list[Piece] = []

    def add(kind: Kind, text: str) -> None:
        if not text:
            return
        if pieces and pieces[-1].kind == kind:
            pieces[-1] = Piece(kind, pieces[-1].text + text)
        else:
            pieces.append(Piece(kind, text))

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            add("same", "".join(b[j1:j2]))
        else:
            add("del", "".join(a[i1:i2]))
            add("ins", "".join(b[j1:j2]))
    return pieces


def _lines(pieces: list[Piece]) -> list[list[Piece]]:
    """Split the stream at line breaks, each line keeping its pieces' kinds."""
    lines: list[list[Piece]] = [[]]
    for piece in pieces:
        parts = piece.text.split("\n")
        for index, part in enumerate(parts):
            if index:
                lines.append([])
            if part:
                lines[-1].append(Piece(piece.kind, part))
    return lines


def _text(line: list[Piece], *, old: bool = False) -> str:
    hidden = "ins" if old else "del"
    return "".join(p.text for p in line if p.kind != hidden)


def _strip(line: list[Piece], count: int) -> list[Piece]:
    """Drop ``count`` leading characters of the shown text (a heading's or item's marker)."""
    out: list[Piece] = []
    for piece in line:
        if count and piece.kind != "del":
            taken = min(count, len(piece.text))
            count -= taken
            rest = piece.text[taken:]
            if rest:
                out.append(Piece(piece.kind, rest))
            continue
        out.append(piece)
    return out


def _html(line: list[Piece]) -> Markup:
    out = Markup()
    for piece in line:
        text = escape(piece.text)
        if piece.kind == "del":
            out += Markup(
                '<del><span class="sr-only">[removed: </span>{}<span class="sr-only">]</span></del>'
            ).format(text)
        elif piece.kind == "ins":
            out += Markup(
                '<ins><span class="sr-only">[added: </span>{}<span class="sr-only">]</span></ins>'
            ).format(text)
        else:
            out += text
    return out


def render(pieces: list[Piece], *, heading_level: int = 3) -> Markup:
    """The note as HTML: ``#``/``##`` headings at ``heading_level``, lists, paragraphs."""
    blocks: list[Markup] = []
    paragraph: list[Markup] = []
    items: list[Markup] = []

    def close() -> None:
        if paragraph:
            blocks.append(Markup("<p>{}</p>").format(Markup("<br>").join(paragraph)))
            paragraph.clear()
        if items:
            inner = Markup("").join(Markup("<li>{}</li>").format(i) for i in items)
            blocks.append(Markup("<ul>{}</ul>").format(inner))
            items.clear()

    for line in _lines(pieces):
        shown = _text(line) or _text(line, old=True)
        if not shown.strip():
            close()
            continue
        heading = _HEADING.match(shown)
        bullet = _BULLET.match(shown)
        if heading:
            close()
            level = min(heading_level + max(len(heading.group(1)) - 2, 0), 6)
            body = _html(_strip(line, heading.end()))
            blocks.append(Markup('<h{0} class="note-h">{1}</h{0}>').format(level, body))
        elif bullet:
            if paragraph:
                close()
            items.append(_html(_strip(line, bullet.end())))
        else:
            if items:
                close()
            paragraph.append(_html(line))
    close()
    return Markup("\n").join(blocks)


def render_text(text: str, *, heading_level: int = 3) -> Markup:
    """A version's text rendered, no changes marked (the "show AI draft" view)."""
    return render([Piece("same", text)], heading_level=heading_level)
