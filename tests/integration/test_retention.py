"""Retention by rule: deletes and archives what is due, honours holds, records it all in the ledger.

chartgate runs a real story on SQLite and PostgreSQL (sandbox EHR); the retention runner
is then asked to act as of seven years later. Afterwards the ledger still verifies with
``chartgate audit verify``, including after a tenant is offboarded and crypto-shredded.
Synthetic data only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders import submission
from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.keys.local import LocalKeyProvider
from chartgate.adapters.storage import tables as t
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.bootstrap.standalone import open_retention
from chartgate.cli.main import app as cli
from chartgate.domain.errors import DecryptionError
from chartgate.ledger.checkpoint import split_notes
from chartgate.ledger.verify import verify_log
from chartgate.policy.retention import load_retention
from chartgate.service.retention import RetentionReport
from chartgate.settings import Settings
from stack import Stack, running_stack

LATER = timedelta(days=7 * 366)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def stack(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(migrated_database_url, tmp_path) as running:
        yield running


def submit(stack: Stack) -> dict[str, Any]:
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft: dict[str, Any] = created.json()
    return draft


def approve(stack: Stack, draft: dict[str, Any]) -> None:
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={
            **stack.as_clinician(),
            "If-Match": 'W/"1"',
            "Idempotency-Key": f"approve-{draft['id']}",
        },
    )
    assert approved.status_code == 202, approved.text
    stack.work()


def rules_file(tmp_path: Path, **changes: Any) -> Path:
    """The shipped rules with ``changes`` (legal holds, offboarded tenants) applied."""
    data = yaml.safe_load(default_rules_text())
    data.update(changes)
    path = tmp_path / "retention.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def default_rules_text() -> str:
    return resources.files("chartgate.policy").joinpath("retention.yaml").read_text()


def settings_for(stack: Stack, tmp_path: Path, rules: Path, **changes: Any) -> Settings:
    return stack.app.settings.model_copy(
        update={
            "retention_policy": str(rules),
            "retention_archive_dir": str(tmp_path / "archive"),
            **changes,
        }
    )


def run(settings: Settings, at: datetime, *, dry_run: bool = False) -> RetentionReport:
    service, engine = open_retention(settings, clock=Clock(at))
    try:
        return service.run(dry_run=dry_run)
    finally:
        engine.dispose()


def rows(stack: Stack, table: str, tenant: str | None = None) -> int:
    model = t.metadata.tables[table]
    query = select(func.count()).select_from(model)
    if tenant is not None:
        query = query.where(model.c.tenant == tenant)
    with stack.app.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def events(stack: Stack, kind: str) -> list[dict[str, Any]]:
    with stack.app.ledger.unit(read_only=True) as unit:
        return [e.event() for e in unit.ledger.entries(stack.tenant) if e.type == kind]


def audit_verify(settings: Settings) -> tuple[int, dict[str, Any]]:
    env = {
        "CHARTGATE_DATABASE_URL": settings.database_url,
        "CHARTGATE_KEY_FILE": settings.key_file,
    }
    result = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


def test_due_drafts_and_content_are_deleted_by_rule_holds_kept_and_all_recorded(
    stack: Stack, tmp_path: Path
) -> None:
    """Never-approved and approved drafts go, a held one stays, the ledger says what happened."""
    abandoned = submit(stack)
    charted = submit(stack)
    approve(stack, charted)
    held = submit(stack)
    approve(stack, held)
    rules = rules_file(
        tmp_path,
        legal_holds=[{"tenant": stack.tenant, "draft": held["id"], "reason": "hold L-1"}],
    )
    settings = settings_for(stack, tmp_path, rules)
    assert stack.app.ledger.checkpointer.checkpoint(stack.tenant) is not None
    later = datetime.now(UTC) + LATER
    size_before = len(events(stack, "draft.received"))

    plan = run(settings, later, dry_run=True)
    by_subject = {(a.record_class, a.subject): a.action for a in plan.actions}
    assert by_subject[("drafts", abandoned["id"])] == "delete"
    assert by_subject[("approved_content", charted["id"])] == "delete"
    assert by_subject[("approved_content", held["id"])] == "held"
    assert ("idempotency_keys", "all") in by_subject
    assert by_subject[next(k for k in by_subject if k[0] == "ledger")] == "archive"
    assert plan.done == []
    assert rows(stack, "drafts", stack.tenant) == 3  # a dry run changes nothing
    assert events(stack, "retention.deleted") == []

    report = run(settings, later)
    done = {(a.record_class, a.subject): a.action for a in report.done}
    assert done[("drafts", abandoned["id"])] == "deleted"
    assert done[("approved_content", charted["id"])] == "deleted"
    assert rows(stack, "drafts", stack.tenant) == 1
    assert rows(stack, "writebacks", stack.tenant) == 1
    assert rows(stack, "idempotency_keys", stack.tenant) == 0
    gone = stack.api.get(f"/v1/drafts/{charted['id']}", headers=stack.as_clinician())
    assert gone.status_code == 404

    deleted = {e["draft_id"]: e for e in events(stack, "retention.deleted") if e["draft_id"]}
    assert set(deleted) == {abandoned["id"], charted["id"]}
    charted_event = deleted[charted["id"]]
    assert charted_event["correlation_id"] == charted["correlation_id"]
    assert charted_event["data"]["class"] == "approved_content"
    assert charted_event["data"]["rows"] == {
        "writebacks": 1,
        "approvals": 1,
        "draft_versions": 1,
        "drafts": 1,
    }
    assert charted_event["data"]["rules_hash"] == load_retention(rules).content_hash
    assert charted_event["patient"].startswith("hmac-sha256:")
    assert len(events(stack, "draft.received")) == size_before  # the history stays

    code, verified = audit_verify(settings)
    assert code == 0, verified

    again = run(settings, later)
    assert [a for a in again.done if a.record_class in {"drafts", "approved_content"}] == []


def test_archived_ledger_segments_verify_offline_and_match_the_ledger(
    stack: Stack, tmp_path: Path
) -> None:
    """The archive is the offline verifier's input; its digest is in ``retention.archived``."""
    approve(stack, submit(stack))
    assert stack.app.ledger.checkpointer.checkpoint(stack.tenant) is not None
    settings = settings_for(stack, tmp_path, rules_file(tmp_path))
    report = run(settings, datetime.now(UTC) + LATER)
    archived = {a.record_class: a for a in report.done if a.action == "archived"}
    segment = Path(archived["ledger"].detail["file"])
    notes_file = segment.with_name(f"ledger-{segment.stem.split('-')[-1]}.checkpoints")
    verdict = verify_log(
        segment.read_text().splitlines(),
        split_notes(notes_file.read_text()),
        stack.app.ledger.key.verifier,
        origin=stack.app.ledger.audit.origin(stack.tenant),
    )
    assert verdict.ok, verdict
    recorded = {e["data"]["class"]: e["data"] for e in events(stack, "retention.archived")}
    assert recorded["ledger"]["sha256"] == archived["ledger"].detail["sha256"]
    assert recorded["checkpoints"]["to"] >= 1
    second = run(settings, datetime.now(UTC) + LATER)
    assert [a for a in second.done if a.action == "archived"] == []  # nothing archived twice


def test_an_offboarded_tenant_is_crypto_shredded_and_its_ledger_still_verifies(
    stack: Stack, tmp_path: Path
) -> None:
    """Rows deleted, data key destroyed: a backup copy of its ciphertext no longer opens."""
    draft = submit(stack)
    approve(stack, draft)
    with stack.app.engine.connect() as conn:
        backup = conn.execute(
            select(t.draft_versions.c.content_blob).where(
                t.draft_versions.c.draft_id == draft["id"]
            )
        ).scalar_one()
    assert stack.app.ledger.checkpointer.checkpoint(stack.tenant) is not None
    rules = rules_file(
        tmp_path,
        offboarded_tenants=[
            {"tenant": stack.tenant, "offboarded_on": "2026-01-01", "shred_after": "30d"}
        ],
    )
    later = datetime.now(UTC) + timedelta(days=1)

    still_configured = run(settings_for(stack, tmp_path, rules), later)
    assert [a.action for a in still_configured.actions if a.record_class == "tenant"] == ["blocked"]
    assert rows(stack, "tenant_keys", stack.tenant) == 1

    settings = settings_for(stack, tmp_path, rules, tenants=[])
    report = run(settings, later)
    assert [a.action for a in report.done if a.record_class == "tenant"] == ["shredded"]
    for table in ("drafts", "draft_versions", "approvals", "writebacks", "tenant_keys"):
        assert rows(stack, table, stack.tenant) == 0, table
    destroyed = events(stack, "key.destroyed")
    assert len(destroyed) == 1
    assert destroyed[0]["data"]["kind"] == "tenant-data-key"

    fresh = EnvelopeCipher(LocalKeyProvider(settings.key_file), SqlDataKeyStore(stack.app.engine))
    aad = f"{stack.tenant}|draft_versions|{draft['id']}|1".encode()
    with pytest.raises(DecryptionError):
        fresh.decrypt(stack.tenant, bytes(backup), aad=aad)

    code, verified = audit_verify(settings)
    assert code == 0, verified
    assert run(settings, later).done == []  # nothing left to shred


def test_scribe_sessions_and_consent_records_go_by_their_rules(
    stack: Stack, tmp_path: Path
) -> None:
    """Ended sessions go after 30 days; consent after six years, never before its drafts."""
    encounter = submission()["encounter"]
    opened = stack.api.post(
        "/v1/scribe-sessions",
        json={"patient": submission()["patient"], "encounter": encounter,
              "template": "soap-v3", "scribe_client": "scribe-test-client"},
        headers=stack.as_clinician(),
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    consent = stack.api.post(
        "/v1/consents",
        json={"patient": submission()["patient"], "encounter": encounter,
              "consenter": "patient", "method": "verbal",
              "consented_at": "2026-11-20T08:55:00Z", "jurisdiction": "US-CA",
              "scope": ["audio-recording"], "captured_by": "Practitioner/prac-001"},
        headers=stack.as_clinician(),
    )  # fmt: skip
    assert consent.status_code == 201, consent.text
    draft = submit(stack)  # a draft of the same encounter, never approved
    settings = settings_for(stack, tmp_path, rules_file(tmp_path))

    soon = run(settings, datetime.now(UTC) + timedelta(days=20))
    assert [a for a in soon.done if a.record_class in {"scribe_sessions", "consent_records"}] == []
    month = run(settings, datetime.now(UTC) + timedelta(days=40))
    assert [(a.record_class, a.detail["rows"]) for a in month.done] == [("scribe_sessions", 1)]
    assert rows(stack, "scribe_sessions", stack.tenant) == 0

    first = run(settings, datetime.now(UTC) + LATER)  # the draft goes; its consent waits
    assert ("drafts", draft["id"]) in {(a.record_class, a.subject) for a in first.done}
    assert rows(stack, "consent_records", stack.tenant) == 1
    second = run(settings, datetime.now(UTC) + LATER)
    assert [(a.record_class, a.detail["rows"]) for a in second.done] == [("consent_records", 1)]
    assert rows(stack, "consent_records", stack.tenant) == 0
    classes = [e["data"]["class"] for e in events(stack, "retention.deleted")]
    assert classes.count("scribe_sessions") == 1
    assert classes.count("consent_records") == 1
