"""The ports of retention: the store's side and the archive (adapters implement them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chartgate.domain.events import AuditRecord

RecordFor = Callable[[Mapping[str, int]], AuditRecord]
"""Builds a ledger event from the row counts the store actually deleted."""


@dataclass(frozen=True, slots=True)
class DraftCandidate:
    """A draft whose rows a rule may delete."""

    tenant: str
    draft_id: str
    correlation_id: str
    state: str
    last_change: datetime
    patient: str


class RetentionStore(Protocol):
    """The store's side of retention (``adapters/storage/retention.py``)."""

    def expired_drafts(self, cutoff: datetime, *, approved: bool) -> list[DraftCandidate]:
        """Settled drafts unchanged since ``cutoff`` (approved ones, or never approved)."""
        ...

    def delete_draft(
        self, candidate: DraftCandidate, cutoff: datetime, *, approved: bool, record: RecordFor
    ) -> Mapping[str, int] | None:
        """Delete the draft's rows and append its event in one transaction (None: it changed)."""
        ...

    def expired_idempotency(self, cutoff: datetime) -> dict[str, int]:
        """Per tenant, how many stored answers are older than ``cutoff``."""
        ...

    def delete_idempotency(self, tenant: str, cutoff: datetime, record: RecordFor) -> int:
        """Delete them and append the event in one transaction; how many."""
        ...

    def expired_rows(self, record_class: str, cutoff: datetime) -> dict[str, int]:
        """Per tenant, how many rows of ``record_class`` (scribe sessions, consent) are due."""
        ...

    def delete_rows(
        self, record_class: str, tenant: str, cutoff: datetime, record: RecordFor
    ) -> int:
        """Delete the tenant's due rows of ``record_class`` with their event; how many."""
        ...

    def tenant_rows(self, tenant: str) -> dict[str, int]:
        """Rows of the tenant outside the ledger, per table (and ``tenant_keys``)."""
        ...

    def shred_tenant(
        self, tenant: str, records: Callable[[Mapping[str, int], str], list[AuditRecord]]
    ) -> Mapping[str, int]:
        """Delete the tenant's rows and its data key, appending the events, in one transaction."""
        ...


class Archive(Protocol):
    """Where archived ledger segments and checkpoint notes go (``adapters/archive.py``)."""

    def write(self, tenant: str, name: str, lines: Iterable[str]) -> tuple[str, str]:
        """Write the file (refusing to overwrite); return its path and ``sha256:<hex>``."""
        ...
