# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""What the offline verifier says: the reasons it stops, the first failure, the report.

Kept apart from ``verify.py`` (which re-exports them) so the verifier's loop reads alone.
Standard library only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why verification stopped; stable codes for scripts and for the CLI's ``--json``."""

    MALFORMED_ENTRY = "malformed_entry"
    SEQUENCE_GAP = "sequence_gap"
    SEQUENCE_OUT_OF_ORDER = "sequence_out_of_order"
    LEAF_HASH_MISMATCH = "leaf_hash_mismatch"
    NOT_CANONICAL = "not_canonical"
    BAD_CHECKPOINT = "bad_checkpoint"
    ORIGIN_MISMATCH = "origin_mismatch"
    CHECKPOINT_ROLLBACK = "checkpoint_rollback"
    CHECKPOINT_FORK = "checkpoint_fork"
    ROOT_MISMATCH = "root_mismatch"
    INCONSISTENT_CHECKPOINTS = "inconsistent_checkpoints"
    CHECKPOINT_BEYOND_LOG = "checkpoint_beyond_log"
    NO_CHECKPOINT = "no_checkpoint"
    STALE_CHECKPOINT = "stale_checkpoint"


@dataclass(frozen=True, slots=True)
class Failure:
    """The first thing that did not verify.

    ``seq`` is the first entry at fault. When only a checkpoint root disagrees, the altered
    entry lies somewhere in ``seq``..``last_seq`` (the entries that checkpoint added),
    which is as precise as a root can be. ``checkpoint`` is the 0-based position of the
    note in the checkpoint file, ``line`` the 1-based line of the log export.
    """

    reason: Reason
    message: str
    seq: int | None = None
    last_seq: int | None = None
    checkpoint: int | None = None
    line: int | None = None

    def describe(self) -> str:
        """Return a one-line human description naming the entry or checkpoint."""
        return describe_failure(
            self.reason.value,
            self.message,
            seq=self.seq,
            last_seq=self.last_seq,
            checkpoint=self.checkpoint,
            line=self.line,
        )


def describe_failure(
    reason: str,
    message: str,
    *,
    seq: int | None = None,
    last_seq: int | None = None,
    checkpoint: int | None = None,
    line: int | None = None,
) -> str:
    """One line naming what failed and where (``reason at seq 3..5, checkpoint #2: …``)."""
    where = []
    if seq is not None:
        span = f"{seq}..{last_seq}" if last_seq is not None else seq
        where.append(f"seq {span}")
    if checkpoint is not None:
        where.append(f"checkpoint #{checkpoint}")
    if line is not None:
        where.append(f"line {line}")
    prefix = f" at {', '.join(where)}" if where else ""
    return f"{reason}{prefix}: {message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome: counts, the newest verified checkpoint, and the first failure if any.

    ``unsigned_tail`` counts entries after the newest checkpoint: they verified as a
    sequence, but no signature covers them yet.
    """

    ok: bool
    entries: int
    checkpoints: int
    verified_size: int
    verified_root: bytes | None
    unsigned_tail: int
    failure: Failure | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (root as hex)."""
        data = asdict(self)
        data["verified_root"] = self.verified_root.hex() if self.verified_root else None
        return data

    def describe(self) -> str:
        """Return a short human summary."""
        if self.failure is not None:
            return f"FAIL {self.failure.describe()}"
        tail = ""
        if self.unsigned_tail:
            tail = f"; {self.unsigned_tail} newer entries not yet checkpointed"
        return (
            f"OK {self.entries} entries, {self.checkpoints} checkpoints, "
            f"verified through size {self.verified_size}{tail}"
        )
