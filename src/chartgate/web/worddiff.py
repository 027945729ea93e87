"""A word-level diff of two note texts, for the side-by-side view.

The stored diff (``domain/diff.py``) is line-based because that is what an auditor replays;
a clinician reading a one-word change in a long paragraph needs the word. This splits both
texts into words and the whitespace between them and runs ``difflib`` over those tokens, so
the left side shows what was removed and the right side what was added, in place.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

_TOKENS = re.compile(r"\s+|[^\s]+")

Kind = Literal["same", "del", "ins"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text that is unchanged, removed (left side) or added (right side)."""

    kind: Kind
    text: str


@dataclass(frozen=True, slots=True)
class WordDiff:
    """Both sides of the diff, and how many words each side changed."""

    left: tuple[Segment, ...]
    right: tuple[Segment, ...]
    words_removed: int
    words_added: int

    @property
    def changed(self) -> bool:
        """True when the texts differ."""
        return bool(self.words_removed or self.words_added) or any(
            s.kind != "same" for s in (*self.left, *self.right)
        )


def _words(tokens: list[str]) -> int:
    return sum(1 for token in tokens if not token.isspace())


def _append(side: list[Segment], kind: Kind, text: str) -> None:
    if not text:
        return
    if side and side[-1].kind == kind:
        side[-1] = Segment(kind, side[-1].text + text)
    else:
        side.append(Segment(kind, text))


def word_diff(old: str, new: str) -> WordDiff:
    """Diff ``old`` (left) against ``new`` (right), word by word."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    left: list[Segment] = []
    right: list[Segment] = []
    removed = added = 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old_part, new_part = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            _append(left, "same", old_part)
            _append(right, "same", new_part)
            continue
        _append(left, "del", old_part)
        _append(right, "ins", new_part)
        removed += _words(a[i1:i2])
        added += _words(b[j1:j2])
    return WordDiff(tuple(left), tuple(right), removed, added)
