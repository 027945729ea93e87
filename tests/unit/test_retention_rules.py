"""Retention rules as data: the schema refuses unsafe rules, holds and grace periods decide."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chartgate.domain.errors import PolicyFileError
from chartgate.domain.retention import RecordClass, parse_duration, parse_retention
from chartgate.policy.retention import load_retention, load_retention_bytes

NOW = datetime(2032, 6, 1, tzinfo=UTC)


def rules(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "name": "test",
        "rules": {
            "drafts": {"action": "delete", "after": "90d"},
            "approved_content": {"action": "delete", "after": "6y"},
            "idempotency_keys": {"action": "delete", "after": "2d"},
            "scribe_sessions": {"action": "delete", "after": "30d"},
            "consent_records": {"action": "delete", "after": "6y"},
            "ledger": {"action": "archive", "after": "1y"},
            "checkpoints": {"action": "keep", "after": "1y"},
        },
    }
    for key, value in changes.items():
        if key in data["rules"]:
            data["rules"][key] = value
        else:
            data[key] = value
    return data


def test_the_shipped_rules_load_and_keep_the_ledger() -> None:
    """The default file parses; the ledger is archived, never deleted."""
    loaded = load_retention(None)
    assert loaded.policy.rules.ledger.action.value == "archive"
    assert loaded.content_hash.startswith("sha256:")


@pytest.mark.parametrize(
    ("text", "days"),
    [("90d", 90), ("2w", 14), ("6y", 6 * 366), ("1y", 366)],
)
def test_durations_read_as_days_with_generous_years(text: str, days: int) -> None:
    """A year counts 366 days, so a minimum is never cut short by a leap day."""
    assert parse_duration(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["", "6 years", "-1d", "0d", "1m", "P6Y"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    """Unclear durations are refused rather than guessed."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_deleting_the_ledger_is_refused_by_the_schema() -> None:
    """The ledger is append-only: ``delete`` is not an action it can have."""
    with pytest.raises(PolicyFileError, match="append-only"):
        parse_retention(rules(ledger={"action": "delete", "after": "6y"}))


def test_archiving_clinical_content_out_of_the_store_is_refused() -> None:
    """Content is deleted or kept; it is never copied out in clear."""
    with pytest.raises(PolicyFileError, match="not archived"):
        parse_retention(rules(drafts={"action": "archive", "after": "90d"}))


def test_every_class_must_be_named() -> None:
    """A missing class is an error: nothing is retained (or deleted) by accident."""
    data = rules()
    del data["rules"]["idempotency_keys"]
    with pytest.raises(PolicyFileError, match="idempotency_keys"):
        parse_retention(data)


def test_unknown_fields_and_repeated_keys_are_refused() -> None:
    """A typo in a retention file fails loudly."""
    with pytest.raises(PolicyFileError, match="unknown field"):
        parse_retention(rules(keep_forever=True))
    with pytest.raises(PolicyFileError, match="duplicate key"):
        load_retention_bytes(b"version: 1\nversion: 1\n", source="x")


def test_a_legal_hold_covers_its_tenant_or_draft_until_its_date() -> None:
    """A tenant hold covers every draft; a draft hold only that draft; both end."""
    policy = parse_retention(
        rules(
            legal_holds=[
                {"tenant": "clinic-a", "reason": "litigation", "until": "2033-01-01"},
                {"tenant": "clinic-b", "draft": "d-1", "reason": "peer review"},
            ]
        )
    )
    assert policy.held("clinic-a", "any", NOW) is not None
    assert policy.held("clinic-a", "any", datetime(2033, 1, 2, tzinfo=UTC)) is None
    assert policy.held("clinic-b", "d-1", NOW) is not None
    assert policy.held("clinic-b", "d-2", NOW) is None


def test_a_tenant_under_hold_cannot_be_offboarded() -> None:
    """Shredding a held tenant is a contradiction the schema catches."""
    with pytest.raises(PolicyFileError, match="legal hold"):
        parse_retention(
            rules(
                legal_holds=[{"tenant": "clinic-a", "reason": "litigation"}],
                offboarded_tenants=[{"tenant": "clinic-a", "offboarded_on": "2032-01-01"}],
            )
        )


def test_shredding_waits_for_the_grace_period() -> None:
    """An offboarded tenant is due only ``shred_after`` its offboarding date."""
    policy = parse_retention(
        rules(offboarded_tenants=[{"tenant": "old", "offboarded_on": "2032-05-15"}])
    )
    tenant = policy.offboarded_tenants[0]
    assert tenant.offboarded_on == date(2032, 5, 15)
    assert not tenant.due(NOW)
    assert tenant.due(NOW + timedelta(days=14))


def test_a_kept_class_has_no_cutoff() -> None:
    """``keep`` means never due."""
    policy = parse_retention(rules())
    assert policy.cutoff(RecordClass.CHECKPOINTS, NOW) is None
    assert policy.cutoff(RecordClass.DRAFTS, NOW) == NOW - timedelta(days=90)


def test_scribe_sessions_and_consent_records_have_rules() -> None:
    """Both must be named; neither may be archived out of the store; the shipped ones."""
    data = rules()
    del data["rules"]["consent_records"]
    with pytest.raises(PolicyFileError, match="consent_records"):
        parse_retention(data)
    with pytest.raises(PolicyFileError, match="not archived"):
        parse_retention(rules(scribe_sessions={"action": "archive", "after": "30d"}))
    shipped = load_retention(None).policy
    assert shipped.rules.scribe_sessions.after.days == 30
    assert shipped.rules.consent_records.after.days == 6 * 366
