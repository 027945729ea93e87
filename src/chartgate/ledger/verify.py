# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Offline verifier for an exported audit log: what a hospital runs with only a pinned key.

Input is the export (JSON lines ``{"seq", "canonical" (base64), "leaf_hash" (hex)}``, one
per event, seq being the 0-based leaf index, or the same in the binary format of
``binlog.py``), the signed checkpoint notes, and the log's verifier key. The verifier
trusts none of them except the key: it rehashes every stored event, demands a gap-free
sequence, recomputes the tree root at every checkpoint size, checks every signature, and
checks each checkpoint against the one before it (no rollback, no fork, a valid RFC 9162
consistency proof). It stops at the first problem and names it, so an incident report can
say "entry 4711 was altered" rather than "bad log" (in a binary export, "line" is the
record's 1-based number).

It depends only on the standard library, ``cryptography``, ``rfc8785`` and ``asn1crypto``
(RFC 3161 tokens, ``--timestamps``) through the pure ``chartgate.ledger`` modules::

    python -m chartgate.ledger.verify LOG.jsonl --checkpoints NOTES --key VKEY

exiting 0 when everything verifies, 1 when something does not, 2 on unusable input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from hashlib import sha256 as _sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import rfc8785

from chartgate.ledger import binlog
from chartgate.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteVerifier,
    split_notes,
)
from chartgate.ledger.keyring import as_verifiers, open_note_any, parse_vkeys
from chartgate.ledger.merkle import (
    HASH_SIZE,
    CompactRange,
    leaf_hash,
)
from chartgate.ledger.verify_report import Failure, Reason, VerifyReport, describe_failure

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Failure",
    "Reason",
    "VerifyReport",
    "describe_failure",
    "main",
    "verify_files",
    "verify_log",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Stop(Exception):
    """Carries the first failure out of the verification loop."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


Raw: TypeAlias = "Mapping[str, Any] | str | bytes | tuple[int, bytes, bytes]"


def _decode_entry(raw: Raw, line: int) -> tuple[int, bytes, bytes]:
    """Decode one export row into ``(seq, canonical bytes, stored leaf hash)``."""
    if isinstance(raw, tuple):  # a binary record (binlog.py): nothing to decode
        return raw
    try:
        row = json.loads(raw) if isinstance(raw, str | bytes) else raw
        seq, canonical, stored = row["seq"], row["canonical"], row["leaf_hash"]
        data = base64.b64decode(canonical, validate=True)
        digest = bytes.fromhex(stored)
    except (ValueError, TypeError, KeyError, binascii.Error) as e:
        raise _Stop(Failure(Reason.MALFORMED_ENTRY, f"unreadable entry ({e})", line=line)) from e
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise _Stop(Failure(Reason.MALFORMED_ENTRY, "seq is not an integer", line=line))
    if len(digest) != HASH_SIZE:
        raise _Stop(Failure(Reason.MALFORMED_ENTRY, "leaf_hash is not 32 bytes", seq, line=line))
    return seq, data, digest


def _check_entry(expected: int, raw: Raw, line: int, *, check_canonical: bool) -> bytes:
    """Check one entry's place in the sequence and its hash; return its leaf hash."""
    seq, data, stored = _decode_entry(raw, line)
    if seq > expected:
        message = f"entries {expected}..{seq - 1} are missing (deleted or moved)"
        raise _Stop(Failure(Reason.SEQUENCE_GAP, message, expected, seq - 1, line=line))
    if seq < expected:
        message = f"seq {seq} appears where {expected} belongs (duplicate, reordered or inserted)"
        raise _Stop(Failure(Reason.SEQUENCE_OUT_OF_ORDER, message, seq, line=line))
    if leaf_hash(data) != stored:
        message = "stored bytes do not hash to the stored leaf hash (entry altered)"
        raise _Stop(Failure(Reason.LEAF_HASH_MISMATCH, message, seq, line=line))
    if check_canonical:
        try:
            canonical = bytes(rfc8785.dumps(json.loads(data)))
        except (ValueError, TypeError):  # not JSON, or not representable in JCS
            canonical = b""
        if canonical != data:
            message = "stored bytes are not RFC 8785 canonical JSON"
            raise _Stop(Failure(Reason.NOT_CANONICAL, message, seq, line=line))
    return stored


def _open(
    note: str, index: int, verifiers: Sequence[NoteVerifier], origin: str | None
) -> Checkpoint:
    """Verify one checkpoint note's signature (by any pinned key), format and origin."""
    try:
        cp = Checkpoint.from_body(open_note_any(note, verifiers))
    except CheckpointError as e:
        raise _Stop(Failure(Reason.BAD_CHECKPOINT, str(e), checkpoint=index)) from e
    if origin is not None and cp.origin != origin:
        message = f"origin {cp.origin!r} is not the expected {origin!r}"
        raise _Stop(Failure(Reason.ORIGIN_MISMATCH, message, checkpoint=index))
    return cp


class _Run:
    """One verification pass: streams entries and checks each checkpoint when reached.

    Keeps the compact range of the whole log; each checkpoint's root is recomputed from it
    when the log reaches the checkpoint's size.
    """

    def __init__(
        self,
        notes: Sequence[str],
        verifiers: Sequence[NoteVerifier],
        origin: str | None,
        *,
        check_canonical: bool,
    ) -> None:
        self.notes = notes
        self.verifiers = verifiers
        self.origin = origin
        self.check_canonical = check_canonical
        self.count = 0
        self.tree = CompactRange()
        # Leaf hashes checked but not yet added to ``tree``: extended in one batch when a
        # checkpoint needs the root (the same hashes, fewer Python calls).
        self.leaves: list[bytes] = []
        self.checked: list[Checkpoint] = []
        self.pending = 0  # index of the next note to check
        self.upcoming: Checkpoint | None = None  # that note, opened once

    @property
    def last(self) -> Checkpoint | None:
        """The newest checkpoint verified so far."""
        return self.checked[-1] if self.checked else None

    def settle(self) -> None:
        """Check every pending checkpoint the log has reached, in file order."""
        while self.pending < len(self.notes):
            if self.upcoming is None:
                note = self.notes[self.pending]
                self.upcoming = _open(note, self.pending, self.verifiers, self.origin)
            if self.upcoming.size > self.count:
                return
            self.check_checkpoint(self.upcoming, self.pending)
            self.checked.append(self.upcoming)
            self.pending, self.upcoming = self.pending + 1, None

    def feed(self, entries: Iterable[Raw]) -> None:
        """Check and append every entry, settling checkpoints as their sizes are reached."""
        self.settle()
        fast = not self.check_canonical
        for line, raw in enumerate(entries, start=1):
            if fast and type(raw) is tuple:  # a binary record: no decoding to do
                seq, data, digest = raw
                if seq != self.count or _sha256(b"\x00" + data).digest() != digest:
                    _check_entry(self.count, raw, line, check_canonical=False)  # names it
            elif isinstance(raw, str | bytes) and not raw.strip():
                continue
            else:
                digest = _check_entry(self.count, raw, line, check_canonical=self.check_canonical)
            self.leaves.append(digest)
            self.count += 1
            if self.upcoming is None or self.upcoming.size == self.count:
                self.settle()

    def check_checkpoint(self, cp: Checkpoint, index: int) -> None:
        """Check one checkpoint at its size: lineage and the root recomputed from the leaves."""
        self.tree.extend(self.leaves)
        self.leaves = []
        last = self.last
        if last is not None:
            if cp.origin != last.origin:
                message = f"origin {cp.origin!r} differs from earlier {last.origin!r}"
                raise _Stop(Failure(Reason.ORIGIN_MISMATCH, message, checkpoint=index))
            if cp.size < last.size:
                message = f"size {cp.size} follows size {last.size} (replayed or rolled back)"
                raise _Stop(Failure(Reason.CHECKPOINT_ROLLBACK, message, checkpoint=index))
            if cp.size == last.size and cp.root != last.root:
                message = f"two different roots signed for size {cp.size} (forked log)"
                raise _Stop(Failure(Reason.CHECKPOINT_FORK, message, checkpoint=index))
        if self.tree.root() != cp.root:
            first = last.size if last is not None else 0
            message = f"recomputed root of the first {cp.size} entries differs from the signed one"
            last_seq = cp.size - 1 if cp.size else None
            raise _Stop(Failure(Reason.ROOT_MISMATCH, message, first, last_seq, checkpoint=index))
        # This root and the previous checkpoint's were both recomputed from one continuous
        # sequence of checked leaves, so the two checkpoints are consistent by construction:
        # an RFC 9162 consistency proof between them cannot fail, and is no longer rebuilt
        # here (it cost a second Merkle range over every leaf; issue 20). A verifier holding
        # only checkpoints and proofs, not the leaves, checks proofs (``merkle.py``).

    def finish(self, min_size: int) -> None:
        """Fail on checkpoints the export cannot reach, or on no (recent enough) checkpoint."""
        if self.upcoming is not None:
            size = self.upcoming.size
            message = f"checkpoint covers {size} entries, export holds {self.count} (truncated)"
            failure = Failure(
                Reason.CHECKPOINT_BEYOND_LOG, message, self.count, size - 1, self.pending
            )
            raise _Stop(failure)
        last = self.last
        if last is None:
            raise _Stop(Failure(Reason.NO_CHECKPOINT, "no signed checkpoint; nothing is proven"))
        if last.size < min_size:
            message = f"newest checkpoint has size {last.size}, expected at least {min_size}"
            raise _Stop(Failure(Reason.STALE_CHECKPOINT, message))


def verify_log(
    entries: Iterable[Raw],
    checkpoint_notes: Sequence[str],
    verifier: NoteVerifier | Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    min_size: int = 0,
    check_canonical: bool = False,
) -> VerifyReport:
    """Verify an exported log against its signed checkpoints and a pinned key.

    Checkpoints are taken in the order given (the order they were published) and each is
    checked as soon as the log reaches its size, so the failure reported is the earliest
    in log order. ``origin`` pins the log identity (one tenant's log); ``min_size`` is the
    newest size the caller has seen before, so a rolled-back export (an old checkpoint and
    a truncated log) is caught; ``check_canonical`` also re-canonicalises every event,
    which is much slower and only needed when the exporter itself is in doubt.
    """
    verifiers = as_verifiers(verifier)  # after a key rotation: every published key
    run = _Run(checkpoint_notes, verifiers, origin, check_canonical=check_canonical)
    failure: Failure | None = None
    try:
        run.feed(entries)
        run.finish(min_size)
    except _Stop as stop:
        failure = stop.failure
    except binlog.Malformed as e:  # a binary export cut short or damaged
        failure = Failure(Reason.MALFORMED_ENTRY, str(e), line=e.record)
    last = run.last
    return VerifyReport(
        ok=failure is None,
        entries=run.count,
        checkpoints=len(run.checked),
        verified_size=last.size if last else 0,
        verified_root=last.root if last else None,
        unsigned_tail=run.count - (last.size if last else 0),
        failure=failure,
    )


def verify_files(
    log_path: Path,
    checkpoints_path: Path,
    vkey: str,
    *,
    origin: str | None = None,
    min_size: int = 0,
    check_canonical: bool = False,
) -> VerifyReport:
    """Verify an export on disk: a JSON-lines or binary log and a file of concatenated notes."""
    verifier = parse_vkeys(vkey)
    notes = split_notes(checkpoints_path.read_text(encoding="utf-8"))
    with log_path.open("rb") as log:
        return verify_log(
            binlog.records(log) if binlog.is_binary(log) else log,
            notes,
            verifier,
            origin=origin,
            min_size=min_size,
            check_canonical=check_canonical,
        )


def _read_vkey(arg: str) -> str:
    """Return the verifier key given on the command line, or read from the file it names."""
    try:
        path = Path(arg)
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    except OSError:  # a key string is not a usable path (e.g. a component too long)
        pass
    return arg


def _parser() -> argparse.ArgumentParser:
    """Build the command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m chartgate.ledger.verify",
        description="Verify an exported chartgate audit log offline against a pinned key.",
    )
    parser.add_argument("log", type=Path, help="exported log, JSON lines or binary")
    parser.add_argument("--checkpoints", type=Path, required=True, help="signed notes file")
    parser.add_argument(
        "--key", required=True, help="verifier key <name>+<hex id>+<base64>, or a file of them"
    )
    parser.add_argument("--origin", help="expected log origin (pins the tenant's log)")
    parser.add_argument("--min-size", type=int, default=0, help="newest size seen before")
    parser.add_argument("--check-canonical", action="store_true", help="re-canonicalise events")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--timestamps", type=Path, help="RFC 3161 tokens (<tenant>.timestamps)")
    parser.add_argument("--tsa-cert", type=Path, help="trusted TSA certificate(s), PEM")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verifier; return 0 when the log verifies, 1 when not, 2 on bad input."""
    args = _parser().parse_args(argv)
    try:
        report = verify_files(
            args.log,
            args.checkpoints,
            _read_vkey(args.key),
            origin=args.origin,
            min_size=args.min_size,
            check_canonical=args.check_canonical,
        )
        from chartgate.ledger.timestamp import verify_stamp_files  # noqa: PLC0415 - if asked

        stamps = (
            verify_stamp_files(args.checkpoints, args.timestamps, args.tsa_cert)
            if report.ok and args.timestamps
            else None
        )
    except (OSError, CheckpointError, UnicodeDecodeError, ValueError) as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    if stamps is not None:  # docs/ledger.md#timestamps
        sys.stdout.write(f"bad_timestamp: {stamps}\n")
        return EXIT_FAILED
    out = json.dumps(report.to_dict(), indent=2) if args.json else report.describe()
    sys.stdout.write(out + "\n")
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
