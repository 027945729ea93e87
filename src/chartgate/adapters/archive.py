# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The retention archive: ledger segments and checkpoint notes written to a directory.

Put the directory on WORM or off-host storage. Files are created once (never
overwritten), fsynced and made read-only; their SHA-256 is recorded in the ledger's
``retention.archived`` event, so the archive can be checked against the ledger and the
ledger against the archive. Concatenated in order, the ``ledger-*.jsonl`` segments are
the input of the offline verifier (``python -m chartgate.ledger.verify``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_NAME = re.compile(r"^[a-z]+-[0-9-]+\.[a-z]+$")


class FileArchive:
    """``Archive`` over ``<directory>/<tenant>/<name>``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._directory = Path(directory)

    def write(self, tenant: str, name: str, lines: Iterable[str]) -> tuple[str, str]:
        """Write ``lines`` (newline-joined) to a new file; return its path and digest."""
        if not _TENANT.fullmatch(tenant) or not _NAME.fullmatch(name):
            raise ValueError("not an archive file name")
        folder = self._directory / tenant
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = "\n".join(lines).encode()
        if data and not data.endswith(b"\n"):
            data += b"\n"
        path = folder / name
        with path.open("xb") as handle:  # never overwrite an archived file
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        path.chmod(0o400)
        return str(path), "sha256:" + hashlib.sha256(data).hexdigest()
