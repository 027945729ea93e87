"""The history check, CI-sized, on SQLite: every approval lands once or fails visibly.

Under seeded faults at the EHRs and worker crashes at every step, over 500 write-backs: no
duplicate, no loss, chartgate's state is the chart's (``history_run.run_and_check``). The
PostgreSQL campaign is ``test_history_postgresql.py`` (a file of its own, so the two stores
run on two xdist workers side by side).
"""

from __future__ import annotations

from pathlib import Path

from history_run import MARKS, run_and_check

pytestmark = MARKS


def test_every_approval_lands_once_or_fails_visibly_on_sqlite(
    sqlite_url: str, medplum_base_url: str, tmp_path: Path
) -> None:
    """Under seeded faults and crashes: no duplicate, no loss, chartgate's state is the chart's."""
    run_and_check(sqlite_url, medplum_base_url, tmp_path)
