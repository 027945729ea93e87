# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Several pinned verifier keys: the current ledger key and those it replaced.

After ``chartgate keys rotate --ledger`` older checkpoints carry the old key's signature
and newer ones the new key's. A verifier pins every published key (one per line in a key
file, ``/.well-known/chartgate-ledger-keys`` lists them all); each note must verify under
the pinned key whose name and id its signature line carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chartgate.ledger.checkpoint import (
    MalformedNoteError,
    NoteVerifier,
    SignatureError,
    open_note,
    parse_signed_note,
    parse_vkey,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


def as_verifiers(pinned: NoteVerifier | Sequence[NoteVerifier]) -> tuple[NoteVerifier, ...]:
    """One verifier or several, as a tuple."""
    return (pinned,) if isinstance(pinned, NoteVerifier) else tuple(pinned)


def parse_vkeys(text: str) -> tuple[NoteVerifier, ...]:
    """Parse one verifier key per non-empty line (``#`` starts a comment line)."""
    lines = [line.strip() for line in text.splitlines()]
    keys = tuple(parse_vkey(line) for line in lines if line and not line.startswith("#"))
    if not keys:
        raise MalformedNoteError("no verifier key given")
    return keys


def open_note_any(note: str, verifiers: Sequence[NoteVerifier]) -> str:
    """Return the note text if a pinned key signed it (that key's signature must verify)."""
    signatures = parse_signed_note(note).signatures
    for verifier in verifiers:
        if any(s.name == verifier.name and s.key_id == verifier.key_id for s in signatures):
            return open_note(note, verifier)
    raise SignatureError("note is not signed by any pinned key")
