"""``chartgate killswitch`` and ``chartgate impact`` through the real entry point.

A running chartgate (API + sandbox EHR, SQLite file) holds the data; the CLI runs as a
separate process against the same store, as an operator would. Synthetic data only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from builders import PATIENT, submission
from chartgate.adapters.storage import tables as t
from stack import Stack, running_stack

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))
BAD = "2026.10.1"
GOOD = "2026.11.0"


@pytest.fixture
def stack(sqlite_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate on a SQLite file, writing to the sandbox EHR."""
    with running_stack(sqlite_url, tmp_path) as running:
        yield running


def run(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """``chartgate`` with the running stack's settings; never raises on a non-zero exit."""
    settings = stack.app.settings
    tenants = [tenant.model_dump(mode="json", exclude_none=True) for tenant in settings.tenants]
    env = {
        **os.environ,
        "CHARTGATE_DATABASE_URL": settings.database_url,
        "CHARTGATE_KEY_FILE": settings.key_file,
        "CHARTGATE_TENANTS": json.dumps(tenants),
    }
    return subprocess.run(
        [CHARTGATE, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def written(stack: Stack, version: str) -> str:
    """Submit, approve and write one note made by model ``version``; its write-back id."""
    origin = submission()["origin"] | {"model": {"name": "example-scribe-llm", "version": version}}
    draft = stack.api.post(
        "/v1/drafts", json=submission(origin=origin), headers=stack.as_scribe()
    ).json()
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    writeback_id: str = approved.json()["writeback"]["id"]
    stack.work()
    return writeback_id


def events(stack: Stack, event_type: str) -> list[dict[str, Any]]:
    """The ledger's events of one type, oldest first."""
    with stack.app.engine.connect() as conn:
        rows = conn.execute(
            select(t.audit_events.c.actor, t.audit_events.c.event)
            .where(t.audit_events.c.type == event_type)
            .order_by(t.audit_events.c.seq)
        ).all()
    return [{"actor": r.actor, **r.event} for r in rows]


def writeback_states(stack: Stack) -> dict[str, str]:
    """Every write-back's state, by id."""
    with stack.app.engine.connect() as conn:
        rows = conn.execute(select(t.writebacks.c.id, t.writebacks.c.state)).all()
    return {r.id: r.state for r in rows}


def test_killswitch_set_status_clear_hold_and_resume(stack: Stack) -> None:
    """The operator holds write-back for a model version, sees it, and clearing resumes it."""
    done = run(
        stack,
        *("killswitch", "set", "--mode", "hold-write-back", "--scope", "model-version"),
        *("--value", BAD, "--reason", "hallucinated doses", "--by", "alice", "--json"),
    )
    assert done.returncode == 0, done.stderr
    engaged = json.loads(done.stdout)
    assert engaged["acknowledged"] is True
    assert engaged["switch"]["tenant"] == "*"
    status = json.loads(run(stack, "killswitch", "status", "--json").stdout)
    assert [s["id"] for s in status["switches"]] == [engaged["switch"]["id"]]
    held = written(stack, BAD)
    passed = written(stack, GOOD)
    assert writeback_states(stack) == {held: "queued", passed: "committed"}
    cleared = run(
        stack,
        "killswitch",
        "clear",
        engaged["switch"]["id"],
        "--reason",
        "model rolled back",
        "--by",
        "alice",
    )
    assert cleared.returncode == 0, cleared.stderr
    stack.work()
    assert writeback_states(stack)[held] == "committed"
    assert "no kill switch engaged" in run(stack, "killswitch", "status").stdout
    actors = {e["actor"] for e in events(stack, "killswitch.engaged")}
    actors |= {e["actor"] for e in events(stack, "killswitch.released")}
    assert actors == {"operator:alice"}


def test_killswitch_bad_input_is_one_line_and_exit_2(stack: Stack) -> None:
    """An unknown scope, a missing value or an unknown id: one line on stderr, exit 2."""
    for args in (
        ("set", "--mode", "stop-drafting", "--scope", "planet", "--reason", "x"),
        ("set", "--mode", "stop-drafting", "--scope", "note-type", "--reason", "x"),
        ("set", "--mode", "pause", "--reason", "x"),
        ("clear", "no-such-switch", "--reason", "x"),
    ):
        done = run(stack, "killswitch", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert done.stderr.strip().startswith("error:"), done.stderr


def test_impact_lists_what_a_model_version_wrote_and_plans_the_correction(
    stack: Stack, tmp_path: Path
) -> None:
    """Impact finds the bad version's notes only, pseudonymised, audited, and writes a plan."""
    bad = {written(stack, BAD), written(stack, BAD)}
    written(stack, GOOD)
    before = writeback_states(stack)
    plan = tmp_path / "plan.json"
    done = run(
        stack,
        "impact",
        "--model-version",
        BAD,
        "--format",
        "json",
        "--plan",
        str(plan),
        "--by",
        "bob",
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert {r["writeback_id"] for r in rows} == bad
    assert all(r["patient"].startswith("hmac-sha256:") for r in rows)
    assert all(r["chart_resource"].startswith("DocumentReference/") for r in rows)
    items = json.loads(plan.read_text())["items"]
    assert len(items) == 2
    assert {i["action"] for i in items} == {"amend or retract the note in the chart"}
    assert all(i["review"] == f"/review/{i['draft_id']}" for i in items)
    assert PATIENT not in plan.read_text()
    revealed = run(
        stack,
        "impact",
        "--model-version",
        f"example-scribe-llm@{BAD}",
        "--format",
        "csv",
        "--reveal-patients",
    )
    assert revealed.returncode == 0, revealed.stderr
    table = list(csv.DictReader(io.StringIO(revealed.stdout)))
    assert {r["patient"] for r in table} == {PATIENT}
    reads = events(stack, "impact.read")
    assert [(e["actor"], e["data"]["rows"], e["data"]["patients_revealed"]) for e in reads][:1] == [
        ("operator:bob", 2, False)
    ]
    assert reads[-1]["data"]["patients_revealed"] is True
    assert writeback_states(stack) == before  # the report changed nothing


def test_impact_refuses_a_bad_time_or_format(stack: Stack) -> None:
    """A malformed --from or --format is one line on stderr and exit 2."""
    for args in (("--from", "yesterday"), ("--format", "xml"), ("--tenant", "nobody")):
        done = run(stack, "impact", *args)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
