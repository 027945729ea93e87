"""The reviewer page's word-level diff."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chartgate.web.worddiff import word_diff


def test_one_changed_word_is_marked_alone() -> None:
    """Only the changed word is marked; the rest of the sentence is plain."""
    diff = word_diff("Return if symptoms worsen.", "Return if symptoms persist.")
    assert [(s.kind, s.text) for s in diff.left] == [
        ("same", "Return if symptoms "),
        ("del", "worsen."),
    ]
    assert [(s.kind, s.text) for s in diff.right] == [
        ("same", "Return if symptoms "),
        ("ins", "persist."),
    ]
    assert (diff.words_removed, diff.words_added) == (1, 1)


def test_identical_texts_have_no_change() -> None:
    """Nothing marked when nothing changed."""
    diff = word_diff("Lungs clear.\n", "Lungs clear.\n")
    assert not diff.changed
    assert all(s.kind == "same" for s in (*diff.left, *diff.right))


def test_line_breaks_are_kept() -> None:
    """Whitespace runs (line breaks included) are tokens, so the layout survives."""
    diff = word_diff("## Plan\nRest\n", "## Plan\nRest and fluids\n")
    assert "".join(s.text for s in diff.right) == "## Plan\nRest and fluids\n"
    assert [s.text for s in diff.right if s.kind == "ins"] == [" and fluids"]
    assert (diff.words_removed, diff.words_added) == (0, 2)


@given(st.text(max_size=200), st.text(max_size=200))
def test_each_side_rebuilds_its_own_text(old: str, new: str) -> None:
    """Left is exactly the old text, right exactly the new text, whatever they are."""
    diff = word_diff(old, new)
    assert "".join(s.text for s in diff.left) == old
    assert "".join(s.text for s in diff.right) == new
    assert all(s.kind != "ins" for s in diff.left)
    assert all(s.kind != "del" for s in diff.right)
