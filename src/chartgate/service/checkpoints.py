"""Cutting signed checkpoints of each tenant's log, and publishing them to the anchor.

A checkpoint is cut for a tenant when its log grew by ``every`` entries or when
``interval`` passed since the last one with anything new (defaults 1,000 / 1 s). The
worker loop calls ``tick()`` on every poll, ``chartgate audit checkpoint`` forces one;
API processes never sign (docs/decisions/0010-ledger-in-the-store.md).

Before signing, the checkpointer recomputes the new root from the last checkpoint's
stored compact range plus the new leaves (each rehashed from its stored bytes) and
demands that the head's own range agrees; the signer then refuses the checkpoint unless
an RFC 9162 consistency proof connects it to the last signed note. So a store altered
behind chartgate's back is never signed over: it raises ``LedgerDamaged`` instead.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from chartgate.domain.errors import LedgerDamaged
from chartgate.ledger.checkpoint import Checkpoint, CheckpointSigner
from chartgate.ledger.merkle import CompactRange, consistency_proof_between, leaf_hash
from chartgate.service.audit import (
    Anchor,
    LedgerUnitFactory,
    SigningKey,
    StoredCheckpoint,
    range_to_bytes,
)
from chartgate.service.ports import Clock

log = logging.getLogger(__name__)


class Stamper(Protocol):
    """Gets an RFC 3161 timestamp for a signed note and keeps it (``adapters/tsa.py``)."""

    def stamp(self, tenant: str, size: int, note: str) -> None:
        """Timestamp the checkpoint of ``tenant`` at ``size``."""
        ...


class Checkpointer:
    """Signs checkpoints of every tenant's log when due, one transaction per tenant."""

    def __init__(
        self,
        *,
        ledger: LedgerUnitFactory,
        clock: Clock,
        key: SigningKey,
        origin_prefix: str,
        every: int = 1000,
        interval: timedelta = timedelta(seconds=1),
        anchor: Anchor | None = None,
        stamper: Stamper | None = None,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._key = key
        self._origin_prefix = origin_prefix
        self._every = every
        self._interval = interval
        self._anchor = anchor
        self._stamper = stamper

    def origin(self, tenant: str) -> str:
        """The tenant's checkpoint origin line."""
        return f"{self._origin_prefix}/{tenant}"

    def due(self) -> list[str]:
        """Tenants whose log grew by ``every`` entries, or has news older than ``interval``."""
        now = self._clock.now()
        with self._ledger(read_only=True) as unit:
            status = unit.ledger.checkpoint_status()
        return [
            tenant
            for tenant, size, signed, at in status
            if size > signed
            and (at is None or size - signed >= self._every or now - at >= self._interval)
        ]

    def tick(self) -> list[StoredCheckpoint]:
        """Checkpoint every due tenant; a damaged tenant is logged and skipped, not fatal."""
        made = []
        for tenant in self.due():
            try:
                checkpoint = self.checkpoint(tenant)
            except LedgerDamaged:
                log.exception("ledger of one tenant is damaged; not signing it")
                continue
            if checkpoint is not None:
                made.append(checkpoint)
        return made

    def checkpoint(self, tenant: str) -> StoredCheckpoint | None:
        """Sign and store a checkpoint of the tenant's whole log now (None if nothing new)."""
        with self._ledger() as unit:
            store = unit.ledger
            head = store.head(tenant, lock=True)
            last = store.latest_checkpoint(tenant)
            if head is None or head.size == 0 or (last is not None and last.size == head.size):
                return None
            if last is not None and last.size > head.size:
                raise LedgerDamaged("the ledger head is behind its last checkpoint")
            start = last.size if last is not None else 0
            old = last.compact_range() if last is not None else CompactRange()
            tail = CompactRange(begin=start)
            hashes: list[bytes] = []
            expected = start
            for entry in store.entries(tenant, start, head.size):
                if entry.seq != expected or entry.canonical is None or entry.leaf_hash is None:
                    raise LedgerDamaged(f"ledger entry {expected} is missing or incomplete")
                if leaf_hash(entry.canonical) != entry.leaf_hash:
                    raise LedgerDamaged(f"ledger entry {entry.seq} does not match its hash")
                hashes.append(entry.leaf_hash)
                expected += 1
            if expected != head.size:
                raise LedgerDamaged(f"ledger entries {expected}..{head.size - 1} are missing")
            tail.extend(hashes)
            tree = old.copy()
            tree.extend(hashes)
            if head.compact is None or head.compact.root() != tree.root():
                raise LedgerDamaged("the ledger head disagrees with the stored entries")
            checkpoint = Checkpoint(origin=self.origin(tenant), size=head.size, root=tree.root())
            proof = consistency_proof_between(old, tail) if start > 0 else []
            signer = CheckpointSigner(
                self._key.name,
                self._key.private_key,
                last_note=last.note if last else None,
                trusted=self._key.verifiers,
            )
            note = signer.sign(checkpoint, proof)
            stored = StoredCheckpoint(
                tenant=tenant,
                size=head.size,
                root=checkpoint.root,
                note=note,
                compact=range_to_bytes(tree),
                signed_at=self._clock.now(),
            )
            store.add_checkpoint(stored)
        self._publish(tenant, note)
        self._stamp(tenant, head.size, note)
        return stored

    def _stamp(self, tenant: str, size: int, note: str) -> None:
        """Ask the TSA to timestamp the note after commit; a failure is logged, not fatal.

        The next checkpoint extends this one, so its timestamp covers this one's entries too.
        """
        if self._stamper is None:
            return
        try:
            self._stamper.stamp(tenant, size, note)
        except Exception:
            log.exception("timestamping a ledger checkpoint failed; the next one will be")

    def _publish(self, tenant: str, note: str) -> None:
        """Hand the note to the anchor after commit; a failure is logged, not fatal.

        The next checkpoint is consistent with this one, so anchoring it later covers it.
        """
        if self._anchor is None:
            return
        try:
            self._anchor.publish(tenant, note)
        except Exception:
            log.exception("anchoring a ledger checkpoint failed; the next one will cover it")
