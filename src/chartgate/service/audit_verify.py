"""``chartgate audit verify``: recompute everything in the store and name the first bad entry.

The offline verifier (``chartgate.ledger.verify``) checks an export; this checks the store
itself, with the facts only the store has on top:

* each row's bytes hash to its stored leaf hash, and name the row's own tenant and seq
  (an event moved to another tenant or position is caught even if its hash still holds);
* every other stored column (type, time, correlation, request, actor, draft, write-back,
  patient, and the ``event`` JSON copy) says exactly what the bytes say;
* each checkpoint row carries the note of its own size and root (no replayed note);
* the newest anchored checkpoint (outside the store) is in the store with the same root,
  so a rollback to an older, self-consistent state is caught;
* the head row agrees with the rows: no truncated tail, no forged rows past the head;
* and then everything the offline verifier checks: gap-free sequence, signatures, the
  recomputed root at every checkpoint, rollback, fork and consistency between checkpoints.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from chartgate.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteVerifier,
    parse_signed_note,
)
from chartgate.ledger.keyring import as_verifiers, open_note_any
from chartgate.ledger.merkle import CompactRange, leaf_hash
from chartgate.ledger.seal import identity
from chartgate.ledger.verify import VerifyReport, describe_failure, verify_log
from chartgate.service.audit import LedgerStore, StoredCheckpoint, StoredEntry


@dataclass(frozen=True, slots=True)
class StoreFailure:
    """The first problem found, with a stable ``reason`` code and where it is."""

    reason: str
    message: str
    seq: int | None = None
    last_seq: int | None = None
    checkpoint: int | None = None

    def describe(self) -> str:
        """One line naming the entry or checkpoint."""
        return describe_failure(
            self.reason,
            self.message,
            seq=self.seq,
            last_seq=self.last_seq,
            checkpoint=self.checkpoint,
        )


@dataclass(frozen=True, slots=True)
class StoreReport:
    """The outcome for one tenant's log."""

    tenant: str
    origin: str
    ok: bool
    entries: int
    checkpoints: int
    verified_size: int
    verified_root: str | None
    unsigned_tail: int
    anchored_size: int | None
    failure: StoreFailure | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def describe(self) -> str:
        """One human line."""
        if self.failure is not None:
            return f"FAIL {self.tenant}: {self.failure.describe()}"
        tail = f"; {self.unsigned_tail} newer entries not yet checkpointed" * bool(
            self.unsigned_tail
        )
        anchored = f", anchored at size {self.anchored_size}" * (self.anchored_size is not None)
        return (
            f"OK {self.tenant}: {self.entries} entries, {self.checkpoints} checkpoints, "
            f"verified through size {self.verified_size}{anchored}{tail}"
        )


class _Stop(Exception):
    def __init__(self, failure: StoreFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _check_checkpoint_rows(checkpoints: list[StoredCheckpoint], tenant: str) -> list[str]:
    """Each checkpoint row must hold the note of its own tenant, size and root."""
    notes = []
    for index, row in enumerate(checkpoints):
        try:
            parsed = Checkpoint.from_body(parse_signed_note(row.note).text)
        except CheckpointError as e:
            raise _Stop(StoreFailure("bad_checkpoint", str(e), checkpoint=index)) from e
        if parsed.size != row.size or parsed.root != row.root or row.tenant != tenant:
            message = (
                f"the row for size {row.size} carries a note for size {parsed.size} "
                "or another root (replayed or substituted checkpoint)"
            )
            raise _Stop(StoreFailure("checkpoint_row_mismatch", message, checkpoint=index))
        notes.append(row.note)
    return notes


def _check_anchor(
    anchor_note: str | None,
    checkpoints: list[StoredCheckpoint],
    verifier: NoteVerifier | Sequence[NoteVerifier],
    origin: str,
) -> int | None:
    """The newest anchored checkpoint must be in the store, with the same root."""
    if anchor_note is None:
        return None
    try:
        anchored = Checkpoint.from_body(open_note_any(anchor_note, as_verifiers(verifier)))
    except CheckpointError as e:
        raise _Stop(StoreFailure("bad_anchor", f"anchored note does not verify: {e}")) from e
    if anchored.origin != origin:
        raise _Stop(StoreFailure("bad_anchor", f"anchored note is for {anchored.origin!r}"))
    stored = {cp.size: cp for cp in checkpoints}.get(anchored.size)
    if stored is None:
        newest = checkpoints[-1].size if checkpoints else 0
        message = (
            f"the anchored checkpoint of size {anchored.size} is not in the store (newest: "
            f"{newest}); the log was rolled back or an old checkpoint replayed"
        )
        raise _Stop(StoreFailure("anchor_missing", message, seq=newest))
    if stored.root != anchored.root:
        message = f"the store's checkpoint of size {anchored.size} differs from the anchored one"
        raise _Stop(StoreFailure("anchor_fork", message, checkpoint=checkpoints.index(stored)))
    return anchored.size


_SEAL_KEYS = frozenset({"v", "tenant", "seq"})


def _same_event(stored: dict[str, Any], sealed: dict[str, Any]) -> bool:
    """The JSON copy says what the bytes say.

    Tenant and position are checked against their own columns; rows sealed by migration 0002
    (from before the ledger) keep a copy without the seal's keys, so those are left aside.
    """

    def bare(event: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in event.items() if k not in _SEAL_KEYS}

    return bare(stored) == bare(sealed)


class _Rows:
    """Checks store-only facts row by row and hands the export form to the verifier."""

    def __init__(self, rows: Iterator[StoredEntry], tenant: str) -> None:
        self.rows = rows
        self.tenant = tenant
        self.count = 0
        self.tree = CompactRange()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            yield self._check(row)

    def _check(self, row: StoredEntry) -> dict[str, Any]:
        seq = row.seq
        if row.canonical is None or row.leaf_hash is None:
            raise _Stop(StoreFailure("missing_bytes", "row has no sealed bytes", seq))
        if leaf_hash(row.canonical) != row.leaf_hash:
            message = "stored bytes do not hash to the stored leaf hash (entry altered)"
            raise _Stop(StoreFailure("leaf_hash_mismatch", message, seq))
        tenant, sealed_seq, event = identity(row.canonical)
        if tenant != self.tenant:
            message = f"row of tenant {self.tenant!r} holds an event sealed for {tenant!r} (moved)"
            raise _Stop(StoreFailure("tenant_mismatch", message, seq))
        if sealed_seq != seq:
            message = f"row {seq} holds the event sealed as seq {sealed_seq} (reordered or moved)"
            raise _Stop(StoreFailure("seq_mismatch", message, seq))
        columns = {
            "type": row.type,
            "correlation_id": row.correlation_id,
            "request_id": row.request_id,
            "actor": row.actor,
            "draft_id": row.draft_id,
            "writeback_id": row.writeback_id,
            "patient": row.patient,
        }
        if "at" in event:  # rows sealed by migration 0002 from before the ledger may lack it
            columns["at"] = row.at.isoformat().replace("+00:00", "Z")
        changed = [name for name, value in columns.items() if event.get(name) != value]
        if row.stored_event is not None and not _same_event(row.stored_event, event):
            changed.append("event")
        if changed:
            message = f"column(s) {', '.join(changed)} differ from the sealed event"
            raise _Stop(StoreFailure("column_mismatch", message, seq))
        self.count += 1
        self.tree.append(row.leaf_hash)
        return {
            "seq": seq,
            "canonical": base64.b64encode(row.canonical).decode(),
            "leaf_hash": row.leaf_hash.hex(),
        }


def verify_store(
    store: LedgerStore,
    tenant: str,
    verifier: NoteVerifier | Sequence[NoteVerifier],
    origin: str,
    *,
    anchor_note: str | None = None,
) -> StoreReport:
    """Verify one tenant's log in the store; stop at the first problem and name it."""
    rows = _Rows(store.entries(tenant), tenant)
    checkpoints: list[StoredCheckpoint] = []
    anchored: int | None = None
    failure: StoreFailure | None = None
    verified_size, verified_root = 0, None
    try:
        checkpoints = store.checkpoints(tenant)
        notes = _check_checkpoint_rows(checkpoints, tenant)
        anchored = _check_anchor(anchor_note, checkpoints, verifier, origin)
        head = store.head(tenant)
        report = verify_log(rows, notes, verifier, origin=origin, min_size=anchored or 0)
        verified_size = report.verified_size
        verified_root = report.verified_root.hex() if report.verified_root else None
        if not (report.entries == 0 and not notes):  # an empty log has nothing to prove
            _check_report(report)
        _check_head(head, rows)
    except _Stop as stop:
        failure = stop.failure
    return StoreReport(
        tenant=tenant,
        origin=origin,
        ok=failure is None,
        entries=rows.count,
        checkpoints=len(checkpoints),
        verified_size=verified_size,
        verified_root=verified_root,
        unsigned_tail=rows.count - verified_size,
        anchored_size=anchored,
        failure=failure,
    )


def _check_report(report: VerifyReport) -> None:
    """Raise the offline verifier's first failure as the store's."""
    f = report.failure
    if f is not None:
        raise _Stop(StoreFailure(f.reason.value, f.message, f.seq, f.last_seq, f.checkpoint))


def _check_head(head: Any, rows: _Rows) -> None:  # noqa: ANN401 - LedgerHead | None
    """The head row must count exactly the rows and hold their root."""
    count = rows.count
    size = head.size if head is not None else 0
    if size > count:
        message = f"the head counts {size} entries, the store holds {count} (tail truncated)"
        raise _Stop(StoreFailure("head_mismatch", message, count, size - 1))
    if size < count:
        message = f"the store holds {count - size} entries past the head (forged rows)"
        raise _Stop(StoreFailure("head_mismatch", message, size, count - 1))
    if count and (head is None or head.compact is None or head.compact.root() != rows.tree.root()):
        raise _Stop(StoreFailure("head_mismatch", "the head's compact range is not the log's"))
