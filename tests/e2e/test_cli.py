"""The CLI's operational commands through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``chartgate`` with ``args``; never raises on a non-zero exit."""
    return subprocess.run(
        [CHARTGATE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_sandbox_refuses_a_bad_fault_plan_with_a_clear_message() -> None:
    """``chartgate sandbox --faults`` with an unknown fault exits 2 naming it."""
    done = run("sandbox", "--port", "0", "--faults", '{"bogus": 1}')
    assert done.returncode == 2
    assert "unknown fault" in done.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    """``chartgate db upgrade`` brings an empty SQLite file to the current schema."""
    url = f"sqlite:///{tmp_path / 'up.sqlite3'}"
    done = run("db", "upgrade", env={"CHARTGATE_DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"drafts", "draft_versions", "approvals", "writebacks", "audit_events"} <= tables


def test_invalid_settings_exit_2_naming_the_setting(tmp_path: Path) -> None:
    """A malformed setting is refused at start-up with its name, not a traceback."""
    done = run("db", "upgrade", env={"CHARTGATE_MAX_BODY_BYTES": "not-a-number"})
    assert done.returncode == 2
    assert "max_body_bytes" in done.stderr
    assert "Traceback" not in done.stderr
