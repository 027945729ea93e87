# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The default ledger anchor: every signed checkpoint appended to a per-tenant file.

Anchoring puts each checkpoint somewhere an attacker who owns the database does not: a
file on another volume, ideally WORM storage (S3 Object Lock, ``chattr +a``) or shipped
off the host by the log pipeline. ``chartgate audit verify`` then demands that the newest
anchored checkpoint is still in the store with the same root, which catches a rollback
of the whole store to an older, self-consistent state. An RFC 3161 timestamp authority or
a transparency-log witness implements the same two methods (``service.audit.Anchor``).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from chartgate.ledger.checkpoint import split_notes

_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class FileAnchor:
    """Appends signed notes to ``<directory>/<tenant>.checkpoints`` (fsynced, 0600)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._directory = Path(directory)
        self._lock = threading.Lock()

    def path(self, tenant: str) -> Path:
        """The tenant's anchor file (the tenant id is checked: it names a file)."""
        if not _TENANT.fullmatch(tenant):
            raise ValueError("not a tenant id")
        return self._directory / f"{tenant}.checkpoints"

    def publish(self, tenant: str, note: str) -> None:
        """Append one note; blank-line separated, as ``split_notes`` reads them."""
        path = self.path(tenant)
        with self._lock:
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, (note if note.endswith("\n") else note + "\n").encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)

    def notes(self, tenant: str) -> list[str]:
        """Every note anchored for the tenant, oldest first."""
        path = self.path(tenant)
        if not path.exists():
            return []
        return split_notes(path.read_text(encoding="utf-8"))

    def latest(self, tenant: str) -> str | None:
        """The newest anchored note, or None."""
        notes = self.notes(tenant)
        return notes[-1] if notes else None
