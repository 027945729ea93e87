"""``chartgate demo`` runs the whole story through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import create_engine, func, select

from chartgate.adapters.storage import tables as t

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))


def test_demo_json_reports_a_committed_write_back(tmp_path: Path) -> None:
    """The demo's JSON summary names the committed DocumentReference, its Provenance and events."""
    database = tmp_path / "demo.sqlite3"
    env = {**os.environ, "CHARTGATE_DATABASE_URL": f"sqlite:///{database}"}
    done = subprocess.run(
        [CHARTGATE, "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["state"] == "committed"
    assert summary["ehr_resource"].startswith("DocumentReference/")
    assert summary["provenance"].startswith("Provenance/")
    assert summary["audit_events"] >= 10
    assert summary["draft_id"]
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        drafts = conn.execute(select(func.count()).select_from(t.drafts)).scalar_one()
        # Start-up events (policy.loaded, key.created) have their own correlation id.
        events = conn.execute(
            select(func.count())
            .select_from(t.audit_events)
            .where(t.audit_events.c.correlation_id == summary["correlation_id"])
        ).scalar_one()
    engine.dispose()
    assert drafts == 1
    assert events == summary["audit_events"]


def test_demo_prints_the_story_and_the_store_it_used(tmp_path: Path) -> None:
    """At 80 columns: the diff with the edit in full, the EHR's answer, the chain, the proof."""
    env = {
        **os.environ,
        "CHARTGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}",
        "COLUMNS": "80",
    }
    done = subprocess.run(
        [CHARTGATE, "demo"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "+++ version 2",
        "state: committed",
        "DocumentReference/",
        "Provenance",
        "writeback.committed",
        "signed checkpoint: size",
        "audit verify: OK",
        "chartgate audit verify",
    ):
        assert expected in out
    # The store's path is printed in full, but at 80 columns a long one (pytest-xdist's temporary
    # folders are) is broken over lines: look for it with the line breaks taken out.
    assert str(tmp_path) in "".join(out.split())
    assert "last 10 days." in out  # the end of the clinician's long edited line, not cropped
    assert '"resourceType": "Provenance"' not in out  # the long JSON is behind --verbose
    assert max(len(line) for line in out.splitlines()) <= 80
    verify = subprocess.run(
        [CHARTGATE, "audit", "verify"],
        capture_output=True,
        text=True,
        env={**env, "CHARTGATE_KEY_FILE": str(tmp_path / "chartgate-kek.key")},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr  # the demo's own store proves itself afterwards
    assert verify.stdout.startswith("OK demo")


def test_the_demo_leaves_no_server_thread_running(tmp_path: Path) -> None:
    """In-process, the demo stops its sandbox EHR, IdP and API threads before it returns."""
    from chartgate.cli.demo import run_demo  # noqa: PLC0415 - only this test runs it in-process

    before = {t.name for t in threading.enumerate()}
    result = run_demo(f"sqlite:///{tmp_path / 'inproc.sqlite3'}")
    assert result.state == "committed"
    left = {t.name for t in threading.enumerate() if t.is_alive()} - before
    assert not {name for name in left if name.startswith("chartgate-http-")}, left
