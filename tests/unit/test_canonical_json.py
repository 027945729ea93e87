"""``canonical_json`` writes RFC 8785's bytes, through the C encoder where that is the same.

The fast path (``json`` with sorted keys) is taken only for JSON whose RFC 8785 form it
writes exactly; these tests compare it with the ``rfc8785`` package over generated JSON,
including what must go the slow way (floats, huge integers, non-ASCII keys, surrogates).
"""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from chartgate.domain.hashing import canonical_json, content_hash
from chartgate.ledger.entry import canonical_bytes

_TEXT = st.text(st.characters(codec=None), max_size=12)  # every code point, surrogates too
_KEYS = st.one_of(st.text(max_size=6), st.text(st.characters(max_codepoint=127), max_size=6))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=20,
)


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError:
        return rfc8785.CanonicalizationError


def _ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical_json(value)
    except rfc8785.CanonicalizationError:
        return rfc8785.CanonicalizationError


@settings(max_examples=400)
@given(_JSON)
def test_the_bytes_are_rfc_8785_s_or_refused_alike(value: Any) -> None:
    """Over generated JSON, the same bytes as the rfc8785 package, or the same refusal."""
    assert _ours({"v": value}) == _reference({"v": value})


@pytest.mark.parametrize(
    "value",
    [
        {"n": 1.0},  # RFC 8785: 1
        {"n": 1e21},  # RFC 8785: 1e+21
        {"n": 2**53},  # refused
        {"\ue000": 1, "\U0001f600": 2},  # UTF-16 order differs from code point order
        {"s": "\ud800"},  # a lone surrogate: refused
        {1: "x"},  # a non-string key: refused
        {"ctl": '\x00\x1f\x7f\u2028\b\f\n\r\t"\\'},
    ],
)
def test_the_values_the_c_encoder_would_write_otherwise(value: dict[Any, Any]) -> None:
    """Floats, huge integers, non-ASCII keys and bad text give RFC 8785's bytes or refusal."""
    assert _ours(value) == _reference(value)


def test_a_hash_is_of_the_canonical_bytes() -> None:
    """Key order and tuples do not change a content hash."""
    assert content_hash({"b": (1, "2"), "a": None}) == content_hash({"a": None, "b": [1, "2"]})


@settings(max_examples=300)
@given(st.dictionaries(_KEYS, _JSON, max_size=6))
def test_a_ledger_event_is_sealed_in_rfc_8785_s_bytes(event: dict[str, Any]) -> None:
    """The ledger's canonical bytes are the rfc8785 package's, or refused alike (issue 20)."""
    try:
        ours: bytes | type[Exception] = canonical_bytes(event)
    except rfc8785.CanonicalizationError:
        ours = rfc8785.CanonicalizationError
    assert ours == _reference(event)


def test_a_plain_ledger_event_is_written_by_the_c_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event of strings, safe integers, booleans and null never reaches the slow walk."""

    def slow(_value: object) -> bytes:
        raise AssertionError("rfc8785 walked a plain event")

    monkeypatch.setattr(rfc8785, "dumps", slow)
    event = {"type": "draft.approved", "seq": 3, "ok": True, "gone": None, "ids": ["a", "b"]}
    assert (
        canonical_bytes(event)
        == b'{"gone":null,"ids":["a","b"],"ok":true,"seq":3,"type":"draft.approved"}'
    )
