"""The binary ledger export (``chartgate.ledger.binlog``) and its offline verification."""

from __future__ import annotations

import base64
import io
import struct
from pathlib import Path

import pytest
from test_ledger_verify import KEY, ORIGIN, _build

from chartgate.ledger import binlog
from chartgate.ledger.checkpoint import CheckpointSigner
from chartgate.ledger.verify import EXIT_FAILED, EXIT_OK, Reason, VerifyReport, main, verify_files

RECORD_HEAD = 8 + 4 + 32


def write_export(tmp_path: Path, records: list[tuple[int, bytes, bytes]]) -> tuple[Path, Path]:
    """The records as a binary log beside the honest export's checkpoint notes."""
    log = tmp_path / "tenant-a.cglog"
    with log.open("wb") as handle:
        binlog.write(records, handle)
    notes = tmp_path / "tenant-a.checkpoints"
    notes.write_text("".join(_build().notes))
    return log, notes


def honest() -> list[tuple[int, bytes, bytes]]:
    """The 50 events of the JSON-lines tests, as binary records."""
    export = _build()
    return [
        (row["seq"], base64.b64decode(row["canonical"]), digest)
        for row, digest in zip(export.rows, export.hashes, strict=True)
    ]


def verify(log: Path, notes: Path) -> VerifyReport:
    vkey = CheckpointSigner(ORIGIN, KEY).verifier.vkey
    return verify_files(log, notes, vkey, origin=ORIGIN)


def test_records_read_back_exactly_as_written_across_chunk_edges() -> None:
    """Seq, bytes and hash come back in order, whatever their sizes."""
    records = [(i, bytes([i % 251]) * (i * 7919 % 300_000), bytes([i]) * 32) for i in range(40)]
    buffer = io.BytesIO()
    assert binlog.write(records, buffer) == 40
    buffer.seek(0)
    assert binlog.is_binary(buffer)
    assert buffer.tell() == 0
    assert list(binlog.records(buffer)) == records


def test_an_honest_binary_export_verifies_like_the_json_one(tmp_path: Path) -> None:
    """Same entries, same checkpoints, same verified root as the JSON-lines export."""
    report = verify(*write_export(tmp_path, honest()))
    expected = _build().verify()
    assert report.ok, report.describe()
    assert (report.entries, report.verified_size, report.verified_root) == (
        expected.entries,
        expected.verified_size,
        expected.verified_root,
    )


def test_a_changed_byte_is_named_by_its_seq(tmp_path: Path) -> None:
    """One flipped byte inside record 17's event: a leaf hash mismatch at seq 17."""
    records = honest()
    seq, data, digest = records[17]
    records[17] = (seq, data[:5] + bytes([data[5] ^ 1]) + data[6:], digest)
    report = verify(*write_export(tmp_path, records))
    assert report.failure is not None
    assert (report.failure.reason, report.failure.seq) == (Reason.LEAF_HASH_MISMATCH, 17)


def test_a_deleted_record_is_a_gap(tmp_path: Path) -> None:
    """Record 8 removed: entries 8..8 are missing."""
    records = honest()
    del records[8]
    report = verify(*write_export(tmp_path, records))
    assert report.failure is not None
    assert (report.failure.reason, report.failure.seq) == (Reason.SEQUENCE_GAP, 8)


@pytest.mark.parametrize("cut", [3, RECORD_HEAD + 10])
def test_a_file_cut_short_is_a_malformed_entry_naming_the_record(tmp_path: Path, cut: int) -> None:
    """Cut inside the 3rd record's header or body: malformed, record 3, exit 1."""
    log, notes = write_export(tmp_path, honest())
    data = log.read_bytes()
    offset = len(binlog.MAGIC)
    for _ in range(2):
        (length,) = struct.unpack_from(">I", data, offset + 8)
        offset += RECORD_HEAD + length
    log.write_bytes(data[: offset + cut])
    report = verify(log, notes)
    assert report.failure is not None
    assert (report.failure.reason, report.failure.line) == (Reason.MALFORMED_ENTRY, 3)
    vkey = CheckpointSigner(ORIGIN, KEY).verifier.vkey
    assert main([str(log), "--checkpoints", str(notes), "--key", vkey]) == EXIT_FAILED


def test_an_impossible_length_is_malformed_not_a_huge_read(tmp_path: Path) -> None:
    """A record claiming more than 16 MiB is damage, reported without reading it."""
    log, notes = write_export(tmp_path, honest())
    data = bytearray(log.read_bytes())
    struct.pack_into(">I", data, len(binlog.MAGIC) + 8, binlog.MAX_EVENT_BYTES + 1)
    log.write_bytes(bytes(data))
    report = verify(log, notes)
    assert report.failure is not None
    assert (report.failure.reason, report.failure.line) == (Reason.MALFORMED_ENTRY, 1)


def test_the_command_reads_both_formats(tmp_path: Path) -> None:
    """``python -m chartgate.ledger.verify`` on the binary file exits 0."""
    log, notes = write_export(tmp_path, honest())
    vkey = CheckpointSigner(ORIGIN, KEY).verifier.vkey
    assert main([str(log), "--checkpoints", str(notes), "--key", vkey]) == EXIT_OK
