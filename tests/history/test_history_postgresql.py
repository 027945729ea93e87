"""The history check, CI-sized, on PostgreSQL (the SQLite campaign is ``test_history.py``)."""

from __future__ import annotations

from pathlib import Path

from history_run import MARKS, run_and_check

pytestmark = MARKS


def test_every_approval_lands_once_or_fails_visibly_on_postgresql(
    postgres_url: str, medplum_base_url: str, tmp_path: Path
) -> None:
    """Under seeded faults and crashes: no duplicate, no loss, chartgate's state is the chart's."""
    run_and_check(postgres_url, medplum_base_url, tmp_path)
