"""The history check's one campaign per store, and what it must show.

``test_history.py`` runs it on SQLite, ``test_history_postgresql.py`` on PostgreSQL: over 500
write-backs per store under every fault kind and crash point, 1,000 over both. Repeat a run
with ``CHARTGATE_HISTORY_SEED=<seed>``; ``make soak`` runs the large version and prints the
table.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from history_checker import check, render, table
from history_harness import FAULT_KINDS, Scale, campaign, new_seed

from chartgate.service.writeback import CRASH_POINTS

SOAK = os.environ.get("CHARTGATE_HISTORY_SOAK") == "1"
DEFAULT_BATCH = 10 if SOAK else 5
BATCH = int(os.environ.get("CHARTGATE_HISTORY_BATCH") or DEFAULT_BATCH)
AT_LEAST = 2_750 if SOAK else 500
"""Write-backs per store a run of the default size makes (two stores: >= 5,500 / >= 1,000)."""
SCALE = Scale(batch=BATCH, crashes=3) if SOAK else Scale(batch=BATCH, points_per_kind=2)
MARKS = [pytest.mark.medplum, pytest.mark.timeout(5400 if SOAK else 900)]
"""Each store's test file carries them (one file per store: xdist's loadfile runs the two
stores on two workers side by side)."""
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def run_and_check(database_url: str, medplum_base_url: str, tmp_path: Path) -> None:
    """One store's campaign, its table written out, and every promise checked (see README)."""
    seed = int(os.environ.get("CHARTGATE_HISTORY_SEED") or new_seed())
    print(f"\nhistory seed {seed} (repeat with CHARTGATE_HISTORY_SEED={seed})")
    progress = print if os.environ.get("CHARTGATE_HISTORY_PROGRESS") == "1" else None
    history = campaign(
        database_url, tmp_path, medplum_base_url, seed=seed, scale=SCALE, progress=progress
    )
    violations = check(history)
    rendered = render(table([history], violations))
    print(rendered)
    summary = (
        f"{len(history.writebacks)} write-backs, {len(history.crashes)} crashes, "
        f"{history.wall_seconds:.1f} s wall, store {history.store}"
    )
    print(summary)
    print(f"where the wall time went ({history.store}):\n{history.profile()}")
    OUTPUT.mkdir(exist_ok=True)
    name = f"history-{'soak' if SOAK else 'ci'}-{history.store}.txt"
    (OUTPUT / name).write_text(
        f"seed {seed}\n{rendered}\n{summary}\n{history.profile()}\n", encoding="utf-8"
    )

    assert not violations, f"seed {seed}: {len(violations)} violation(s):\n" + "\n".join(
        [str(v) for v in violations[:40]] + history.notes
    )
    kinds = {t.fault for t in history.writebacks.values()}
    assert len(kinds) >= 12, kinds
    points = {c.point for c in history.crashes}
    assert points == set(CRASH_POINTS), points
    assert len(kinds) == sum(len(k) for k in FAULT_KINDS.values())
    if BATCH == DEFAULT_BATCH:
        assert len(history.writebacks) >= AT_LEAST, len(history.writebacks)
