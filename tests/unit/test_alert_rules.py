"""The example alert rules (docs/ops/alerts.yml) are valid and name metrics chartgate exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from chartgate.adapters.storage.ops_stats import OpsSnapshot, QueueState
from chartgate.observability import Metrics, StoreCollector

RULES = Path(__file__).parents[2] / "docs" / "ops" / "alerts.yml"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SLO_ALERTS = {
    "ChartgateApproveToCommitSlow",
    "ChartgateAmbiguousBacklogOld",
    "ChartgateCheckpointStale",
    "ChartgateEhrErrorRateHigh",
}


def exported_names() -> set[str]:
    """Every sample name a process exports once each metric has a value."""
    metrics = Metrics(profiles={"clinic-a": "epic"})
    snapshot = OpsSnapshot(
        queue={"ambiguous": QueueState(1, NOW)},
        ledger_size={"clinic-a": 3},
        last_checkpoint={"clinic-a": NOW},
        sink_backlog={"clinic-a": 0},
    )
    metrics.registry.register(StoreCollector(lambda: snapshot, lambda: NOW))
    metrics.writebacks.labels("approve", "committed").inc()
    metrics.approve_to_commit.labels("approve").observe(1)
    metrics.ehr_requests.labels("clinic-a", "epic", "POST", "DocumentReference", "2xx").inc()
    metrics.count_auth_failure("expired")
    metrics.log_dropped.labels("chartgate.security").inc()
    metrics.worker_last_poll.set(1)
    text = generate_latest(metrics.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def rules() -> list[dict[str, object]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_every_rule_is_well_formed_and_the_slos_are_covered() -> None:
    """Each rule has a name and an expression; alerts have a duration, severity and summary."""
    found = rules()
    assert {str(rule.get("alert")) for rule in found} >= SLO_ALERTS
    for rule in found:
        assert ("alert" in rule) != ("record" in rule), rule
        assert isinstance(rule["expr"], str)
        assert rule["expr"].strip()
        if "alert" in rule:
            assert re.fullmatch(r"\d+[smh]", str(rule["for"])), rule
            assert rule["labels"]["severity"] in {"page", "ticket"}, rule  # type: ignore[index]
            assert rule["annotations"]["summary"], rule  # type: ignore[index]


def test_every_metric_an_alert_reads_is_exported() -> None:
    """A renamed metric would leave an alert that can never fire: names must match."""
    exported = exported_names()
    recorded = {str(rule["record"]) for rule in rules() if "record" in rule}
    for rule in rules():
        for name in re.findall(r"\bchartgate[a-z0-9_:]*", str(rule["expr"])):
            assert name in exported or name in recorded, f"{name} in {rule.get('alert')}"


def test_promtool_accepts_the_rules() -> None:
    """``promtool check rules`` passes (Debian's prometheus package ships promtool)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing under CI: make install puts it there (prometheus)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
