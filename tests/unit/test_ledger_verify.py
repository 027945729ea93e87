# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The offline verifier: an honest export verifies, and every tampering is named.

Also covers the ledger entry (canonical bytes and leaf hash) that the export is made of.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chartgate.ledger.checkpoint import Checkpoint, CheckpointSigner, sign_checkpoint
from chartgate.ledger.entry import LedgerEntry, canonical_bytes
from chartgate.ledger.merkle import CompactRange, consistency_proof, leaf_hash
from chartgate.ledger.verify import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Reason,
    VerifyReport,
    main,
    verify_log,
)

if TYPE_CHECKING:
    from pathlib import Path

ORIGIN = "chartgate.test/ledger/tenant-a"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@dataclass
class Export:
    """An exported log as a hospital receives it: rows, checkpoint notes and a key."""

    rows: list[dict[str, Any]]
    notes: list[str]
    origin: str = ORIGIN
    hashes: list[bytes] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [json.dumps(row) for row in self.rows]

    def verify(self, **kwargs: Any) -> VerifyReport:
        verifier = CheckpointSigner(self.origin, KEY).verifier
        return verify_log(self.lines(), self.notes, verifier, **kwargs)


def _row(seq: int, data: bytes) -> dict[str, Any]:
    canonical = base64.b64encode(data).decode()
    return {"seq": seq, "canonical": canonical, "leaf_hash": leaf_hash(data).hex()}


def _event(tenant: str, seq: int) -> dict[str, Any]:
    return {"type": "draft.viewed", "tenant": tenant, "seq": seq, "actor": f"user-{seq % 3}"}


def _build(
    n: int = 50,
    every: int = 10,
    origin: str = ORIGIN,
    tenant: str = "a",
    key_name: str | None = None,
) -> Export:
    """Append ``n`` synthetic events and sign a checkpoint every ``every`` of them."""
    signer = CheckpointSigner(key_name or origin, KEY)
    tree = CompactRange()
    export = Export(rows=[], notes=[], origin=origin)
    for seq in range(n):
        entry = LedgerEntry.create(tenant, seq, _event(tenant, seq))
        export.rows.append(_row(seq, entry.canonical))
        export.hashes.append(entry.leaf_hash)
        tree.append(entry.leaf_hash)
        if tree.size % every == 0:
            last = signer.last.size if signer.last else 0
            proof = consistency_proof(last, export.hashes) if last else []
            export.notes.append(signer.sign(Checkpoint(origin, tree.size, tree.root()), proof))
    return export


def _checkpoint_of(hashes: list[bytes], origin: str = ORIGIN) -> Checkpoint:
    tree = CompactRange()
    tree.extend(hashes)
    return Checkpoint(origin, tree.size, tree.root())


def _failure(report: VerifyReport) -> tuple[Reason, int | None]:
    assert not report.ok
    assert report.failure is not None
    return report.failure.reason, report.failure.seq


class TestLedgerEntry:
    def test_canonical_bytes_are_rfc8785(self) -> None:
        """Keys are sorted and whitespace dropped, whatever order the event was built in."""
        assert canonical_bytes({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'

    def test_values_json_cannot_carry_exactly_are_refused(self) -> None:
        """NaN has no JSON form, so canonicalising it raises instead of guessing."""
        with pytest.raises(ValueError, match="nan"):
            canonical_bytes({"x": math.nan})

    def test_entry_hashes_its_canonical_bytes_as_a_leaf(self) -> None:
        """An entry's leaf hash is SHA-256(0x00 || canonical bytes) and re-checks as such."""
        entry = LedgerEntry.create("a", 0, {"k": "v"})
        assert entry.canonical == b'{"k":"v"}'
        assert entry.leaf_hash == leaf_hash(b'{"k":"v"}')
        assert entry.hash_matches()
        altered = LedgerEntry("a", 0, b'{"k":"w"}', entry.leaf_hash)
        assert not altered.hash_matches()

    def test_negative_sequence_is_refused(self) -> None:
        """Sequence numbers are leaf indexes, so they start at zero."""
        with pytest.raises(ValueError, match="negative"):
            LedgerEntry.create("a", -1, {})


class TestHonestExport:
    def test_honest_export_verifies(self) -> None:
        """An untouched export verifies through its newest checkpoint."""
        report = _build(55, 10).verify()
        assert report.ok, report.describe()
        assert (report.entries, report.checkpoints) == (55, 5)
        assert (report.verified_size, report.unsigned_tail) == (50, 5)
        assert report.verified_root == _checkpoint_of(_build(50, 10).hashes).root
        assert report.describe().startswith("OK 55 entries, 5 checkpoints")

    def test_blank_lines_are_ignored(self) -> None:
        """Blank lines in the JSON-lines file are not entries."""
        export = _build(20, 10)
        lines = export.lines()
        lines.insert(5, "")
        verifier = CheckpointSigner(ORIGIN, KEY).verifier
        assert verify_log(lines, export.notes, verifier).ok

    def test_without_any_checkpoint_nothing_is_proven(self) -> None:
        """An export with no signed checkpoint fails: its hashes alone prove nothing."""
        assert _failure(_build(9, 10).verify()) == (Reason.NO_CHECKPOINT, None)

    def test_empty_log_with_empty_checkpoint_verifies(self) -> None:
        """A log with no entries verifies against a signed size-0 checkpoint."""
        export = Export(rows=[], notes=[CheckpointSigner(ORIGIN, KEY).sign(_checkpoint_of([]))])
        assert export.verify().ok


class TestTampering:
    def test_changed_byte_is_named_by_its_seq(self) -> None:
        """One changed byte of a stored event is reported as that entry's hash mismatch."""
        export = _build()
        data = bytearray(base64.b64decode(export.rows[17]["canonical"]))
        data[3] ^= 0x01
        export.rows[17]["canonical"] = base64.b64encode(bytes(data)).decode()
        assert _failure(export.verify()) == (Reason.LEAF_HASH_MISMATCH, 17)

    def test_changed_event_with_recomputed_hash_fails_at_its_checkpoint(self) -> None:
        """Rewriting an event and its leaf hash breaks the signed root that covers it."""
        export = _build()
        export.rows[17] = _row(17, b'{"forged":true}')
        report = export.verify()
        assert _failure(report) == (Reason.ROOT_MISMATCH, 10)
        assert report.failure is not None
        assert (report.failure.last_seq, report.failure.checkpoint) == (19, 1)
        assert report.verified_size == 10

    def test_deleted_row_is_a_gap(self) -> None:
        """A deleted row is reported as the first missing seq."""
        export = _build()
        del export.rows[23]
        assert _failure(export.verify()) == (Reason.SEQUENCE_GAP, 23)

    def test_deleted_row_with_renumbering_breaks_the_root(self) -> None:
        """Deleting a row and renumbering the rest to hide the gap breaks the next root."""
        export = _build()
        del export.rows[23]
        for seq, row in enumerate(export.rows):
            row["seq"] = seq
        assert _failure(export.verify()) == (Reason.ROOT_MISMATCH, 20)

    def test_reordered_rows_are_named(self) -> None:
        """Two swapped rows are reported at the first position that is out of place."""
        export = _build()
        export.rows[30], export.rows[31] = export.rows[31], export.rows[30]
        assert _failure(export.verify()) == (Reason.SEQUENCE_GAP, 30)

    def test_reordered_contents_with_renumbering_break_the_root(self) -> None:
        """Swapping two events' contents but keeping seq order breaks the covering root."""
        export = _build()
        for key in ("canonical", "leaf_hash"):
            export.rows[30][key], export.rows[31][key] = export.rows[31][key], export.rows[30][key]
        assert _failure(export.verify()) == (Reason.ROOT_MISMATCH, 30)

    def test_truncated_tail_is_caught_by_the_newest_checkpoint(self) -> None:
        """Dropping the tail that a checkpoint covers is reported as a truncated export."""
        export = _build()
        del export.rows[45:]
        report = export.verify()
        assert _failure(report) == (Reason.CHECKPOINT_BEYOND_LOG, 45)
        assert report.failure is not None
        assert (report.failure.last_seq, report.failure.checkpoint) == (49, 4)

    def test_truncation_with_its_checkpoints_needs_the_last_known_size(self) -> None:
        """Dropping the tail and its checkpoints is caught when the verifier knows a size."""
        export = _build()
        del export.rows[40:]
        del export.notes[4:]
        assert export.verify().ok
        assert _failure(export.verify(min_size=50)) == (Reason.STALE_CHECKPOINT, None)

    def test_inserted_row_is_out_of_order(self) -> None:
        """A forged row slipped in with an existing seq is reported as out of order."""
        export = _build()
        export.rows.insert(12, _row(11, b'{"forged":true}'))
        assert _failure(export.verify()) == (Reason.SEQUENCE_OUT_OF_ORDER, 11)

    def test_inserted_row_with_renumbering_breaks_the_root(self) -> None:
        """A forged row inserted and the rest renumbered breaks the covering root."""
        export = _build()
        export.rows.insert(12, _row(12, b'{"forged":true}'))
        for seq, row in enumerate(export.rows):
            row["seq"] = seq
        assert _failure(export.verify()) == (Reason.ROOT_MISMATCH, 10)

    def test_checkpoint_resigned_by_another_key_is_refused(self) -> None:
        """A forked root signed with any key but the pinned one is a bad checkpoint."""
        export = _build()
        forged = _checkpoint_of([*export.hashes[:29], leaf_hash(b"x")])
        export.notes[2] = sign_checkpoint(forged, ORIGIN, Ed25519PrivateKey.generate())
        report = export.verify()
        assert _failure(report) == (Reason.BAD_CHECKPOINT, None)
        assert report.failure is not None
        assert report.failure.checkpoint == 2

    def test_forked_root_signed_with_the_real_key_is_refused(self) -> None:
        """Even the real key cannot make the log accept a root its entries do not produce."""
        export = _build()
        forged = _checkpoint_of([*export.hashes[:29], leaf_hash(b"x")])
        export.notes[2] = sign_checkpoint(forged, ORIGIN, KEY)
        assert _failure(export.verify()) == (Reason.ROOT_MISMATCH, 20)

    def test_two_roots_for_one_size_are_a_fork(self) -> None:
        """Publishing a second, different root for the same size is reported as a fork."""
        export = _build()
        forged = _checkpoint_of([*export.hashes[:29], leaf_hash(b"x")])
        export.notes.insert(3, sign_checkpoint(forged, ORIGIN, KEY))
        assert _failure(export.verify())[0] == Reason.CHECKPOINT_FORK

    def test_replayed_old_checkpoint_is_a_rollback(self) -> None:
        """An old checkpoint published again after a newer one is reported as a rollback."""
        export = _build()
        export.notes.append(export.notes[1])
        report = export.verify()
        assert _failure(report)[0] == Reason.CHECKPOINT_ROLLBACK
        assert report.failure is not None
        assert report.failure.checkpoint == 5

    def test_checkpoint_of_another_tenant_is_refused(self) -> None:
        """Another tenant's checkpoint, signed under its own key name, does not verify here."""
        export = _build()
        other = _build(origin="chartgate.test/ledger/tenant-b")
        export.notes[0] = other.notes[0]
        assert _failure(export.verify())[0] == Reason.BAD_CHECKPOINT

    def test_checkpoint_of_another_origin_under_a_shared_key_is_refused(self) -> None:
        """Even signed by the same key and name, another log's checkpoint fails the origin pin."""
        export = _build()
        other = _build(origin="chartgate.test/ledger/tenant-b", key_name=ORIGIN)
        export.notes[0] = other.notes[0]
        assert _failure(export.verify(origin=ORIGIN))[0] == Reason.ORIGIN_MISMATCH

    def test_event_moved_to_another_tenant_fails_both_logs(self) -> None:
        """Moving an event leaves a gap in its own log and breaks the other log's root."""
        tenant_a = _build()
        tenant_b = _build(origin="chartgate.test/ledger/tenant-b", tenant="b")
        moved = tenant_a.rows.pop(7)
        tenant_b.rows.insert(7, moved)
        for seq, row in enumerate(tenant_b.rows):
            row["seq"] = seq
        assert _failure(tenant_a.verify()) == (Reason.SEQUENCE_GAP, 7)
        assert _failure(tenant_b.verify()) == (Reason.ROOT_MISMATCH, 0)

    @pytest.mark.parametrize(
        "line",
        [
            "not json",
            '{"seq": 0}',
            '{"seq": "0", "canonical": "", "leaf_hash": ""}',
            '{"seq": 0, "canonical": "***", "leaf_hash": "00"}',
            '{"seq": 0, "canonical": "", "leaf_hash": "abcd"}',
        ],
        ids=["not-json", "missing-fields", "string-seq", "bad-base64", "short-hash"],
    )
    def test_unreadable_row_is_named_by_its_line(self, line: str) -> None:
        """A row that cannot be decoded is reported with its line number."""
        export = _build(10, 10)
        lines = export.lines()
        lines[0] = line
        verifier = CheckpointSigner(ORIGIN, KEY).verifier
        report = verify_log(lines, export.notes, verifier)
        assert _failure(report)[0] == Reason.MALFORMED_ENTRY
        assert report.failure is not None
        assert report.failure.line == 1

    def test_non_canonical_bytes_are_caught_only_when_asked(self) -> None:
        """Bytes that are hashed consistently but not canonical JSON pass unless checked."""
        data = b'{"b": 1, "a": 2}'
        notes = [CheckpointSigner(ORIGIN, KEY).sign(_checkpoint_of([leaf_hash(data)]))]
        export = Export(rows=[_row(0, data)], notes=notes)
        assert export.verify().ok
        assert _failure(export.verify(check_canonical=True)) == (Reason.NOT_CANONICAL, 0)

    @settings(deadline=None, max_examples=50)
    @given(st.integers(min_value=0, max_value=29), st.integers(min_value=0), st.data())
    def test_any_changed_byte_is_named(self, seq: int, position: int, data: st.DataObject) -> None:
        """Whichever byte of whichever event changes, the report names exactly that seq."""
        export = _build(30, 10)
        raw = bytearray(base64.b64decode(export.rows[seq]["canonical"]))
        raw[position % len(raw)] ^= data.draw(st.integers(min_value=1, max_value=255))
        export.rows[seq]["canonical"] = base64.b64encode(bytes(raw)).decode()
        assert _failure(export.verify()) == (Reason.LEAF_HASH_MISMATCH, seq)


class TestCommandLine:
    @pytest.fixture
    def files(self, tmp_path: Path) -> tuple[Path, Path, str]:
        export = _build()
        log = tmp_path / "log.jsonl"
        log.write_text("\n".join(export.lines()) + "\n")
        notes = tmp_path / "checkpoints.txt"
        notes.write_text("".join(export.notes))
        return log, notes, CheckpointSigner(ORIGIN, KEY).verifier.vkey

    def test_clean_export_exits_zero(
        self, files: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The CLI exits 0 and prints OK for an honest export."""
        log, notes, vkey = files
        assert main([str(log), "--checkpoints", str(notes), "--key", vkey]) == EXIT_OK
        assert capsys.readouterr().out.startswith("OK 50 entries")

    def test_tampered_export_exits_one_naming_the_entry(
        self, files: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The CLI exits 1 and its JSON report names the first bad seq."""
        log, notes, vkey = files
        lines = log.read_text().splitlines()
        del lines[8]
        log.write_text("\n".join(lines) + "\n")
        args = [str(log), "--checkpoints", str(notes), "--key", vkey, "--json"]
        assert main(args) == EXIT_FAILED
        report = json.loads(capsys.readouterr().out)
        assert report["failure"]["reason"] == "sequence_gap"
        assert report["failure"]["seq"] == 8

    def test_key_may_be_given_as_a_file(
        self, files: tuple[Path, Path, str], tmp_path: Path
    ) -> None:
        """A pinned key stored in a file is read from it."""
        log, notes, vkey = files
        key_file = tmp_path / "ledger.vkey"
        key_file.write_text(vkey + "\n")
        assert main([str(log), "--checkpoints", str(notes), "--key", str(key_file)]) == EXIT_OK

    def test_unusable_key_exits_two(
        self, files: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A malformed pinned key is a usage error (exit 2), not a verification result."""
        log, notes, _ = files
        assert main([str(log), "--checkpoints", str(notes), "--key", "nope"]) == EXIT_USAGE
        assert "verifier key" in capsys.readouterr().err

    def test_runs_as_a_module_without_the_rest_of_chartgate(
        self, files: tuple[Path, Path, str]
    ) -> None:
        """``python -m chartgate.ledger.verify`` works and loads no other chartgate package."""
        log, notes, vkey = files
        args = [str(log), "--checkpoints", str(notes), "--key", vkey]
        run = subprocess.run(
            [sys.executable, "-m", "chartgate.ledger.verify", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == EXIT_OK, run.stderr
        assert run.stdout.startswith("OK 50 entries")
        probe = (
            "import json, sys, chartgate.ledger.verify\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('chartgate'))))\n"
        )
        loaded = json.loads(
            subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, check=True
            ).stdout
        )
        assert loaded == [
            "chartgate",
            "chartgate.ledger",
            "chartgate.ledger.binlog",  # the binary export format
            "chartgate.ledger.checkpoint",
            "chartgate.ledger.keyring",  # several pinned keys after a rotation
            "chartgate.ledger.merkle",
            "chartgate.ledger.verify",
            "chartgate.ledger.verify_report",
        ]
