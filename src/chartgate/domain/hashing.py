"""Content addressing: the hash of what was approved is the hash of what is sent.

The canonical form is RFC 8785 (JSON Canonicalization Scheme) so the same content always
hashes the same, whatever key order or whitespace it arrived with.

Speed: the ``rfc8785`` package serialises in pure Python, one node at a time (8 % of an
approval's time in a serve process under load, issue 20). For the JSON chartgate hashes —
strings, integers in the safe range, booleans, null, lists and objects with ASCII keys — the
standard library's C encoder writes exactly the RFC 8785 bytes: keys sorted (ASCII keys sort
the same by code point as by UTF-16 code unit), no whitespace, the same escapes (the short
ones for backspace, tab, newline, form feed, return, quote and backslash, and a lower-case
``u00xx`` one for the other control characters; nothing else escaped), integers in decimal.
Anything else — a float (RFC 8785 writes ES6 numbers), an integer past 2**53 - 1, a
non-ASCII key, a lone surrogate, another type — goes to ``rfc8785``, which serialises or
refuses it as before. ``tests/unit/test_canonical_json.py`` checks that both give the same
bytes (or the same refusal) over generated JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785

_SAFE_INT = 2**53 - 1
_FAST = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def _plain(value: object) -> bool:
    """Whether the C encoder's bytes are RFC 8785's for ``value`` (see the module docstring)."""
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str or kind is bool or node is None:
            continue
        if kind is int:
            if -_SAFE_INT <= node <= _SAFE_INT:
                continue
            return False
        if kind is dict:
            for key, child in node.items():
                if type(key) is not str or not key.isascii():
                    return False
                stack.append(child)
        elif kind is list or kind is tuple:
            stack.extend(node)
        else:
            return False
    return True


def canonical_json(value: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """Serialise to RFC 8785 canonical JSON bytes."""
    if _plain(value):
        try:
            return _FAST(value).encode()
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 refuses it below
            pass
    return bytes(rfc8785.dumps(value))


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Mapping[str, Any] | Sequence[Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + sha256_hex(canonical_json(value))
