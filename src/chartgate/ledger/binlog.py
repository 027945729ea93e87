# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The binary ledger export: the canonical bytes as stored, length-prefixed, no JSON, no base64.

Why: the JSON-lines export costs the offline verifier a JSON parse and a base64 decode per
event before it can rehash the event's bytes; on a million events that is most of its time
(issue 20: verify at 14x raw SHA-256, goal 5x). This file carries the same three facts per
event -- seq, stored leaf hash, canonical bytes -- so the verifier only slices and hashes.
The verifier (``chartgate.ledger.verify``) reads both formats and tells them apart by the
first line.

Layout (all integers big-endian)::

    b"chartgate-ledger-binary-1" and a newline
    per event: seq (u64) | length (u32) | leaf hash (32 bytes) | canonical bytes (length)

Standard library only, like the rest of the offline verifier's modules.
"""

from __future__ import annotations

import struct
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

MAGIC = b"chartgate-ledger-binary-1\n"
_HEAD = struct.Struct(">QI32s")
MAX_EVENT_BYTES = 16 * 1024 * 1024
"""A length above this is damage, not an event (the store's events are a few KB)."""
_CHUNK = 1 << 20


class Malformed(ValueError):
    """A record that cannot be read (truncated, or an impossible length); ``record`` is 1-based."""

    def __init__(self, record: int, message: str) -> None:
        super().__init__(message)
        self.record = record


def write(entries: Iterable[tuple[int, bytes, bytes]], out: IO[bytes]) -> int:
    """Write ``(seq, canonical bytes, leaf hash)`` records after the magic line; return how many."""
    out.write(MAGIC)
    count = 0
    for seq, data, digest in entries:
        out.write(_HEAD.pack(seq, len(data), digest))
        out.write(data)
        count += 1
    return count


def is_binary(handle: IO[bytes]) -> bool:
    """Whether a seekable file starts with the magic line (the position is left at 0)."""
    start = handle.read(len(MAGIC))
    handle.seek(0)
    return start == MAGIC


def records(handle: IO[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
    """Every ``(seq, canonical bytes, stored leaf hash)`` in file order, read in 1 MiB chunks.

    A file that ends inside a record, or a record whose length is impossible, raises
    ``Malformed`` naming the record: an export cut short is damage the verifier reports.
    """
    if handle.read(len(MAGIC)) != MAGIC:
        raise Malformed(0, "not a chartgate binary ledger export")
    buffer, position, number = b"", 0, 0
    head_size, unpack = _HEAD.size, _HEAD.unpack_from
    while True:
        if len(buffer) - position < head_size:
            buffer = buffer[position:] + handle.read(_CHUNK)
            position = 0
            if not buffer:
                return
            if len(buffer) < head_size:
                raise Malformed(number + 1, "the file ends inside a record header")
        seq, length, digest = unpack(buffer, position)
        number += 1
        if length > MAX_EVENT_BYTES:
            raise Malformed(number, f"a record claims {length} bytes")
        start = position + head_size
        end = start + length
        if end > len(buffer):
            buffer = buffer[position:] + handle.read(max(_CHUNK, end - position))
            position, start, end = 0, head_size, head_size + length
            if end > len(buffer):
                raise Malformed(number, "the file ends inside a record")
        yield seq, buffer[start:end], digest
        position = end
