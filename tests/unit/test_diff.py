"""The draft-vs-approved diff: a unified text diff for people, an RFC 6902 patch for machines."""

from __future__ import annotations

import copy
import difflib
import json
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import SOAP_NOTE
from chartgate.domain.diff import DraftDiff, diff_versions, structured_view
from chartgate.domain.submission import STRUCTURED_TYPES, Note, VersionContent

OLD = "Return if symptoms worsen."
NEW = "Return if fever develops or symptoms last 10 days."
CONDITION = {
    "resourceType": "Condition",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J20.9"}]},
}
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
    "valueQuantity": {"value": 37.1, "unit": "Cel"},
}


def content(text: str = SOAP_NOTE, *resources: dict[str, Any], **note: Any) -> VersionContent:
    """Version content with the synthetic SOAP note and the given structured resources."""
    fields = {"type": "11506-3", "title": "Progress note", "content_type": "text/markdown"}
    fields.update(note)
    return VersionContent(note=Note(text=text, **fields), resources=resources)


def diff(old: VersionContent, new: VersionContent) -> DraftDiff:
    return diff_versions(old, new, from_version=1, to_version=2)


def body_lines(unified: str, sign: str) -> list[str]:
    """The changed lines of one sign, without the ``---``/``+++`` file header."""
    return [
        line[1:]
        for line in unified.splitlines()
        if line.startswith(sign) and not line.startswith(sign * 3)
    ]


def test_no_change_gives_an_empty_diff() -> None:
    """Identical versions diff to nothing: no text, no patch, nothing changed."""
    result = diff(content(), content())
    assert result.unified == ""
    assert result.json_patch == []
    assert (result.lines_added, result.lines_removed) == (0, 0)
    assert not result.changed


def test_no_change_with_resources_gives_an_empty_diff() -> None:
    """Identical structured resources produce no patch operations."""
    result = diff(content(SOAP_NOTE, CONDITION), content(SOAP_NOTE, copy.deepcopy(CONDITION)))
    assert result.json_patch == []
    assert not result.changed


def test_one_changed_sentence_is_one_line_out_and_one_line_in() -> None:
    """Editing one sentence shows its old line removed and its new line added, nothing else."""
    result = diff(content(), content(SOAP_NOTE.replace(OLD, NEW)))
    assert body_lines(result.unified, "-") == [f"Supportive care with fluids and rest. {OLD}"]
    assert body_lines(result.unified, "+") == [f"Supportive care with fluids and rest. {NEW}"]
    assert (result.lines_added, result.lines_removed) == (1, 1)
    assert result.json_patch == []
    assert result.changed


def test_the_unified_diff_names_the_versions_it_compares() -> None:
    """The file header says which versions are compared, so a stored diff explains itself."""
    result = diff_versions(
        content(), content(SOAP_NOTE.replace(OLD, NEW)), from_version=1, to_version=3
    )
    assert result.unified.startswith("--- version 1\n+++ version 3\n@@ ")
    assert result.unified.endswith("\n")


def test_a_change_on_a_last_line_without_newline_keeps_the_diff_well_formed() -> None:
    """Every line of the unified diff ends with a newline, even when the note does not."""
    result = diff(content("Plan: rest."), content("Plan: rest and fluids."))
    assert body_lines(result.unified, "-") == ["Plan: rest."]
    assert body_lines(result.unified, "+") == ["Plan: rest and fluids."]
    assert all(line.endswith("\n") for line in result.unified.splitlines(keepends=True))


def test_adding_a_resource_is_a_json_patch_add() -> None:
    """A Condition the clinician adds appears as one ``add`` of the whole resource."""
    result = diff(content(), content(SOAP_NOTE, CONDITION))
    assert result.json_patch == [{"op": "add", "path": "/resources/0", "value": CONDITION}]
    assert result.unified == ""
    assert result.changed


def test_removing_a_resource_is_a_json_patch_remove() -> None:
    """A Condition the clinician deletes appears as one ``remove`` at its index."""
    result = diff(content(SOAP_NOTE, CONDITION, OBSERVATION), content(SOAP_NOTE, OBSERVATION))
    old_view = structured_view(content(SOAP_NOTE, CONDITION, OBSERVATION))
    assert jsonpatch.apply_patch(old_view, result.json_patch) == structured_view(
        content(SOAP_NOTE, OBSERVATION)
    )
    assert [op["op"] for op in result.json_patch] == ["remove"]
    assert result.json_patch[0]["path"] == "/resources/0"


def test_replacing_a_code_is_a_json_patch_replace() -> None:
    """Correcting a diagnosis code is one ``replace`` at that code's path."""
    corrected = copy.deepcopy(CONDITION)
    corrected["code"]["coding"][0]["code"] = "J06.9"
    result = diff(content(SOAP_NOTE, CONDITION), content(SOAP_NOTE, corrected))
    assert result.json_patch == [
        {"op": "replace", "path": "/resources/0/code/coding/0/code", "value": "J06.9"}
    ]


def test_changing_the_note_type_is_a_structured_change() -> None:
    """Note metadata (type, title, content type) is part of the structured view."""
    result = diff(content(), content(type="11488-4", title="Consult note"))
    ops = {(op["op"], op["path"]) for op in result.json_patch}
    assert ops == {("replace", "/note/type"), ("replace", "/note/title")}
    assert result.unified == ""


def test_the_structured_view_never_holds_the_note_text() -> None:
    """The JSON Patch is over metadata and resources; the narrative lives in the unified diff."""
    view = structured_view(content())
    assert view["note"] == {
        "type": "11506-3",
        "title": "Progress note",
        "content_type": "text/markdown",
    }
    assert "text" not in view["note"]


def test_as_dict_is_json_ready_and_complete() -> None:
    """The stored form round-trips through JSON and says whether anything changed."""
    result = diff(content(), content(SOAP_NOTE.replace(OLD, NEW), CONDITION))
    stored = json.loads(json.dumps(result.as_dict()))
    assert stored == {
        "from_version": 1,
        "to_version": 2,
        "unified": result.unified,
        "json_patch": result.json_patch,
        "lines_added": 1,
        "lines_removed": 1,
        "changed": True,
    }


def test_the_diff_is_deterministic() -> None:
    """The same two versions always give the same stored diff."""
    old, new = content(SOAP_NOTE, CONDITION), content(SOAP_NOTE.replace(OLD, NEW), OBSERVATION)
    assert diff(old, new).as_dict() == diff(old, new).as_dict()


# -- property: the patch replays the change ------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_resource = st.builds(
    lambda kind, fields: {"resourceType": kind, **fields},
    st.sampled_from(sorted(STRUCTURED_TYPES)),
    st.dictionaries(st.sampled_from(["code", "status", "note", "value", "x"]), _json, max_size=3),
)
_content = st.builds(
    lambda resources, note_type, title: content(SOAP_NOTE, *resources, type=note_type, title=title),
    st.lists(_resource, max_size=4),
    st.sampled_from(["11506-3", "34117-2", "11488-4", "18842-5"]),
    st.sampled_from(["Progress note", "Consult note", "H&P"]),
)


def _canonical(value: Any) -> str:
    """Compare as JSON, so that 1, 1.0 and true are not mistaken for one another."""
    return json.dumps(value, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(old=_content, new=_content)
def test_applying_the_patch_to_the_old_structured_view_gives_the_new(
    old: VersionContent, new: VersionContent
) -> None:
    """For any two versions, the stored JSON Patch replays the old structure into the new."""
    result = diff(old, new)
    replayed = jsonpatch.apply_patch(structured_view(old), result.json_patch)
    assert _canonical(replayed) == _canonical(structured_view(new))
    assert (result.json_patch == []) == (
        _canonical(structured_view(old)) == _canonical(structured_view(new))
    )


def test_removing_a_markdown_rule_counts_as_one_line_removed() -> None:
    """A deleted ``---`` line (a Markdown rule) is counted, not mistaken for the diff header."""
    result = diff(content("## Plan\nRest.\n---\nSigned.\n"), content("## Plan\nRest.\nSigned.\n"))
    assert (result.lines_added, result.lines_removed) == (0, 1)


def test_adding_a_line_that_starts_with_plus_signs_counts_as_one_line_added() -> None:
    """An added line such as ``++ trace edema`` is counted as an added line."""
    result = diff(content("## Plan\nRest.\n"), content("## Plan\nRest.\n++ trace edema\n"))
    assert (result.lines_added, result.lines_removed) == (1, 0)


_lines = st.lists(
    st.sampled_from(["---", "+++", "--", "++ x", "- item", "Rest.", "", "@@"]), max_size=8
)


@settings(max_examples=300, deadline=None)
@given(old=_lines, new=_lines)
def test_line_counts_match_what_the_unified_diff_changes(old: list[str], new: list[str]) -> None:
    """lines_added / lines_removed equal the lines the text diff inserts and deletes."""
    old_text, new_text = "\n".join(["## Plan", *old]) + "\n", "\n".join(["## Plan", *new]) + "\n"
    result = diff(content(old_text), content(new_text))
    matcher = difflib.SequenceMatcher(
        None, old_text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    )
    added = sum(j2 - j1 for tag, _, _, j1, j2 in matcher.get_opcodes() if tag != "equal")
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal")
    assert (result.lines_added, result.lines_removed) == (added, removed)
