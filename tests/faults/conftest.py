"""Fixtures of the fault tests: chartgate against sandboxes that imitate other EHRs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import Stack, running_stack


@pytest.fixture
def epic_sandbox_stack(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate (sandbox vendor: sends Markdown) writing to a sandbox imitating Epic."""
    with running_stack(migrated_sqlite_url, tmp_path, sandbox_vendor="epic") as stack:
        yield stack


@pytest.fixture
def epic_stack(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate with the Epic profile writing to a sandbox imitating Epic: no conditional create.

    Here the database claim and the reconciliation read are the only duplicate guards.
    """
    with running_stack(
        migrated_sqlite_url, tmp_path, vendor="epic", sandbox_vendor="epic"
    ) as stack:
        yield stack
