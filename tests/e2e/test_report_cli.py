"""``chartgate report`` and ``drift`` on a store with real stories; the HTML in chromium.

Three write-backs go through the stack: one commits at once, one (another template) goes
ambiguous (its answer lost) and commits after reconciling, one is a conflict (its baseline names a
document the chart does not have). The report must count them so, and its HTML must render
in Debian's chromium with charts that carry data, fetching nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import update

from builders import submission
from chartgate.adapters.storage import tables as t
from stack import Stack, running_stack

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def approve(stack: Stack, **overrides: Any) -> str:
    """Submit and approve; return the write-back id."""
    created = stack.api.post("/v1/drafts", json=submission(**overrides), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    approved = stack.api.post(
        f"/v1/drafts/{created.json()['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    writeback_id: str = approved.json()["writeback"]["id"]
    return writeback_id


def origin(template: str) -> dict[str, Any]:
    """The builders' origin with another prompt template."""
    found: dict[str, Any] = submission()["origin"]
    return {**found, "prompt_template": template}


@pytest.fixture(scope="module")
def stories(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A store with a commit, an ambiguous-then-commit and a conflict; its CHARTGATE_* env."""
    tmp = tmp_path_factory.mktemp("reports")
    url = f"sqlite:///{tmp / 'cg.sqlite3'}"
    with running_stack(url, tmp) as stack:
        approve(stack)
        assert stack.work() == 1
        # The write commits and its answer is lost (mutating requests only: the executor's
        # chart reads before it writes are not hit): ambiguous, then reconciled as found.
        storm = {"commit_then_drop": 1}
        answer = httpx.post(f"{stack.sandbox.base_url}/__sandbox/faults", json=storm, timeout=5)
        assert answer.status_code == 200
        ambiguous = approve(stack, origin=origin("hp-v1"))
        assert stack.work() == 1
        with stack.app.engine.begin() as conn:
            conn.execute(
                update(t.writebacks)
                .where(t.writebacks.c.id == ambiguous)
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert stack.work() == 1
        approve(stack, origin=origin("hp-v1"), baseline={"DocumentReference/gone": "1"})
        assert stack.work() == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGATE_")}
    env["CHARTGATE_DEV_MODE"] = "true"  # keys made on first use (docs/keys.md)
    env |= {"CHARTGATE_DATABASE_URL": url, "CHARTGATE_KEY_FILE": str(tmp / "kek.key")}
    return tmp, env


def chartgate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [CHARTGATE, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_report_counts_commits_ambiguity_conflicts_and_complete_chains(
    stories: tuple[Path, dict[str, str]],
) -> None:
    """JSON figures: 3 write-backs, 2 committed, 1 conflict, 1 went ambiguous, no gaps."""
    _, env = stories
    report = json.loads(chartgate(env, "report", "--json").stdout)
    total = report["total"]
    assert total["writebacks"] == 3
    assert total["committed"] == 2
    assert total["conflict"] == 1
    assert total["ambiguous"] == 1
    assert total["audit_incomplete"] == 0
    assert total["commit_p50_seconds"] is not None
    by_template = {row["group"]: row for row in report["by"]["template"]}
    assert by_template["soap-v3"]["success_rate"] == 1.0
    assert by_template["hp-v1"]["conflict_rate"] == 0.5
    clinicians = [row["group"] for row in report["by"]["clinician"]]
    assert len(clinicians) == 1
    assert clinicians[0].startswith("clin-")
    assert "clinician-test" not in json.dumps(report)  # a pseudonym, never the subject


def test_terminal_tables_fit_and_drift_compares_windows(
    stories: tuple[Path, dict[str, str]],
) -> None:
    """The table output names the breakdowns; drift puts all approvals in the recent window."""
    _, env = stories
    tables = chartgate(env, "report").stdout
    for heading in ("by note type", "by template", "by model", "by clinician"):
        assert heading in tables
    assert "every committed write-back has its whole chain" in tables
    now = datetime.now(UTC)
    window = f"{(now - timedelta(hours=1)).isoformat()}..{(now + timedelta(hours=1)).isoformat()}"
    base = f"{(now - timedelta(days=30)).date()}..{(now - timedelta(days=2)).date()}"
    drift = json.loads(
        chartgate(env, "drift", "--window", window, "--baseline", base, "--json").stdout
    )
    auto = next(s for s in drift["signals"] if s["signal"].startswith("auto-accept"))
    assert (auto["baseline_n"], auto["window_n"]) == (0, 3)
    assert auto["window"] == 1.0  # nobody edited a word
    assert {row["template"] for row in drift["exceptions_by_template"]} == {"soap-v3", "hp-v1"}
    access = {(a["group"], a["name"]): a for a in drift["access"]}
    scope = access["scope", "chartgate/drafts.approve (approvals carrying it)"]
    assert (scope["baseline"], scope["window"], scope["added"]) == (0, 3, True)
    clinicians = access["role", "clinician (distinct actors)"]
    assert clinicians["window"] >= 1
    assert clinicians["added"]
    table = chartgate(env, "drift", "--window", window, "--baseline", base).stdout
    assert "access: scopes granted, roles acting, grants" in table
    assert "ADDED" in table


def test_a_bad_window_is_one_line_and_exit_2(stories: tuple[Path, dict[str, str]]) -> None:
    """A window that is not FROM..TO is refused in one line."""
    _, env = stories
    done = subprocess.run(
        [CHARTGATE, "drift", "--window", "last week"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "FROM..TO" in done.stderr


def test_the_html_report_renders_in_chromium_with_charts_that_have_data(
    stories: tuple[Path, dict[str, str]],
) -> None:
    """Chromium renders the file, fetches nothing, and every chart has bars with values."""
    tmp, env = stories
    page_file = tmp / "report.html"
    chartgate(env, "report", "--html", str(page_file))
    text = page_file.read_text()
    assert "http://" not in text
    assert "https://" not in text
    assert "<script" not in text
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required under CI=true")
        pytest.skip(f"{CHROMIUM} is not installed")
    requests: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri())
            assert page.title().startswith("chartgate write-back report")
            daily = page.locator("svg.chart-daily rect.bar")
            assert daily.count() >= 2  # committed and conflict bars at least
            values = [
                float(v)
                for v in page.eval_on_selector_all(
                    "rect.bar", "els => els.map(e => e.getAttribute('data-value'))"
                )
            ]
            assert sum(values) > 0
            box = page.locator("svg.chart-daily").bounding_box()
            assert box is not None
            assert box["width"] > 400
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [page_file.as_uri()]
