"""``chartgate compliance report`` and ``chartgate access review`` on a store with a real story.

The demo's story (scribe submits, clinician edits and approves, the worker writes to the
sandbox EHR) fills the store; the commands then run through the real entry point with a
production-shaped config (https destinations, a processor registry, grants) on SQLite and
PostgreSQL. The sign-off lands in the ledger, and the ledger still verifies afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.ledger import SqlLedgerUnit
from chartgate.cli.demo import TENANT, run_demo

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))

CONFIG = """
dev_mode = false

[[processors]]
id = "clinic-ehr"
legal_entity = "Example EHR Vendor, Inc."
role = "ehr"
purpose = "write-back"
endpoints = ["https://fhir.example.org/r4"]
phi_categories = ["clinical-notes"]
baa_signed = 2026-01-01
baa_expires = 2026-06-30

[[processors]]
id = "idp"
legal_entity = "Example IdP"
role = "identity"
purpose = "sign-in"
endpoints = ["https://login.example.org"]

[[tenants]]
id = "demo"
issuers = ["https://login.example.org"]
scribe_clients = ["scribe-demo-client", "retired-scribe"]
ehr = { base_url = "https://fhir.example.org/r4" }

[[tenants.care_team_grants]]
fhir_user = "Practitioner/prac-999"
encounters = ["Encounter/enc-999"]
"""


@pytest.fixture
def story(migrated_database_url: str, tmp_path: Path) -> dict[str, str]:
    """A store with the demo's story; the environment to run the CLI on it.

    The store starts as a copy of the migrated template: these tests are about the reports,
    not about migrating an empty store (the migration tests' subject).
    """
    database_url = migrated_database_url
    result = run_demo(database_url)
    config = tmp_path / "chartgate.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CHARTGATE_PROCESSORS", "CHARTGATE_DEV_MODE"}
    }
    env.update(
        CHARTGATE_CONFIG=str(config),
        CHARTGATE_DATABASE_URL=database_url,
        CHARTGATE_KEY_FILE=result.key_file,
    )
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHARTGATE, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_the_report_answers_from_the_system(story: dict[str, str], tmp_path: Path) -> None:
    """Roles per access kind, ledger verified, expired BAA flagged, keys, encryption, HTML."""
    page = tmp_path / "report.html"
    done = _run(story, "compliance", "report", "--json", "--html", str(page))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["who_can"]["approve"]) == {"clinician"}
    assert set(report["who_can"]["investigate"]) == {"auditor"}
    (demo,) = [t for t in report["tenants"] if t["tenant"] == TENANT]
    assert demo["ledger_ok"] is True
    assert demo["last_checkpoint"]["size"] >= 1
    assert demo["kill_switches"] == []
    assert "tenant demo: ehr.base_url" in report["processors"]["attention"]
    assert report["encryption"]["draft_versions"]["encrypted"] == ["content_blob"]
    assert [k["present"] for k in report["key_custody"]] == [True, True]
    assert all(k["owner_only"] for k in report["key_custody"])
    assert "<h2>who_can</h2>" in page.read_text(encoding="utf-8")


def test_the_access_review_lists_use_and_dormant_grants_and_records_the_sign_off(
    story: dict[str, str],
) -> None:
    """Who acted, unused grants and clients; the sign-off is a ledger entry that verifies."""
    today = datetime.now(UTC).date().isoformat()
    args = ("access", "review", "--from", today, "--to", today, "--tenant", TENANT, "--json")
    done = _run(story, *args, "--sign-off", "dana.reviewer")
    assert done.returncode == 0, done.stderr
    (review,) = json.loads(done.stdout)
    actors = {p["actor"]: p for p in review["principals"]}
    assert actors["scribe:scribe-demo-client"]["used"] == ["submit"]
    assert "approve" in actors["clinician:clinician-dana"]["used"]
    assert review["grants"] == [
        {
            "fhir_user": "Practitioner/prac-999",
            "encounters": 1,
            "patients": 0,
            "expires_at": None,
            "dormant": True,
        }
    ]
    assert {c["client_id"]: c["dormant"] for c in review["scribe_clients"]} == {
        "scribe-demo-client": False,
        "retired-scribe": True,
    }
    engine = make_engine(story["CHARTGATE_DATABASE_URL"])
    try:
        with SqlLedgerUnit(engine, read_only=True) as unit:
            signed = unit.ledger.entry(TENANT, review["signed_off_seq"])
    finally:
        engine.dispose()
    assert signed is not None
    assert signed.type == "compliance.access_review_signed"
    assert signed.event()["data"]["content_hash"] == review["content_hash"]
    assert signed.actor == "reviewer:dana.reviewer"
    again = _run(story, *args)
    assert any(
        a["type"] == "compliance.access_review_signed"
        for a in json.loads(again.stdout)[0]["admin_actions"]
    )
    verify = _run(story, "audit", "checkpoint")
    assert verify.returncode == 0, verify.stderr
    assert _run(story, "audit", "verify").returncode == 0
