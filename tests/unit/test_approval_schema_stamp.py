"""The schema stamp (ADR 0032): approval re-proves only the approval-time values.

At submit and save chartgate runs the FHIR schema over what approving the new version would
send, with placeholders for the write-back id, the approver and the time, and keeps a stamp
(the digest of those templates, the policy and the validator). Approval rebuilds the templates
from what it sends; on a match the schema judges only the values put where the placeholders
were. Anything that does not match (a pre-0018 version, a signed approval, another policy or
validator, a forged stamp) gets the full check, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from builders import TENANT
from chartgate.adapters.fhir_models import R4BSchema
from chartgate.domain.errors import ValidationFailed
from chartgate.domain.findings import Finding
from unit.test_use_cases import META, Desk, desk, edit

FULL = ["DocumentReference", "Provenance"]


class CountingSchema:
    """The production schema, recording where it was asked to look."""

    def __init__(self, version: str = "") -> None:
        self._inner = R4BSchema()
        self._version = version or self._inner.version
        self.seen: list[str] = []

    @property
    def version(self) -> str:
        """The inner models' version (or the one given: an upgrade)."""
        return self._version

    def check(self, resource: Mapping[str, Any], *, location: str) -> list[Finding]:
        """Record ``location`` and judge as production does."""
        self.seen.append(location)
        return self._inner.check(resource, location=location)


def counted(schema: CountingSchema | None = None) -> tuple[Desk, CountingSchema, str]:
    """A desk over a counting schema, with one draft submitted (and stamped)."""
    schema = schema or CountingSchema()
    d = desk(schema=schema)
    draft_id = d.submit()
    schema.seen.clear()
    return d, schema, draft_id


def stored_stamp(d: Desk, draft_id: str) -> str | None:
    with d.store.unit() as uow:
        return uow.drafts.get(TENANT, draft_id).current.schema_stamp


def restamp(d: Desk, draft_id: str, stamp: str | None) -> None:
    """Overwrite the stored version's stamp (a pre-0018 row, or a forged one)."""
    with d.store.unit() as uow:
        draft = uow.drafts.get(TENANT, draft_id)
        draft.versions[-1] = replace(draft.current, schema_stamp=stamp)
        d.store.tables.drafts[(TENANT, draft_id)] = draft


def test_submit_stamps_the_version_when_what_approval_sends_passes_the_schema() -> None:
    """Submit runs the schema over the two templates and keeps a sha256 stamp on version 1."""
    d, _, draft_id = counted()
    stamp = stored_stamp(d, draft_id)
    assert stamp is not None
    assert stamp.startswith("sha256:")


def test_approving_a_stamped_version_checks_only_the_approval_time_values() -> None:
    """With a matching stamp the schema judges the approval-time values alone.

    Not the DocumentReference and the Provenance again; the approval is queued.
    """
    d, schema, draft_id = counted()
    d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    assert schema.seen == ["approval"]


def test_a_saved_version_is_stamped_and_its_approval_skips_the_full_check() -> None:
    """Save stamps the new version too; approving it needs no full schema run."""
    d, schema, draft_id = counted()
    d.drafting.save_version(
        d.clinician(), draft_id, expected_version=1, edit=edit(" Saved."), meta=META
    )
    assert stored_stamp(d, draft_id) is not None
    schema.seen.clear()
    d.approvals.approve(d.clinician(), draft_id, expected_version=2, meta=META)
    assert schema.seen == ["approval"]


@pytest.mark.parametrize(
    "stamp",
    [None, "sha256:" + "0" * 64],
    ids=["version-saved-before-the-stamp", "stamp-that-does-not-match"],
)
def test_a_missing_or_foreign_stamp_gets_the_full_schema_check(stamp: str | None) -> None:
    """A version without a stamp, or with a stamp that does not match, is checked in full."""
    d, schema, draft_id = counted()
    restamp(d, draft_id, stamp)
    d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    assert schema.seen == FULL


def test_a_signed_approval_is_not_what_the_stamp_proved_and_is_checked_in_full() -> None:
    """Approve-and-sign sends docStatus final; the stamp proved a preliminary note."""
    d, schema, draft_id = counted()
    d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META, sign=True)
    assert schema.seen == FULL


def test_a_new_validator_version_re_proves_the_schema() -> None:
    """A stamp made under other models (before an upgrade of fhir.resources) does not match."""
    schema = CountingSchema(version="fhir.resources 0.0.1 R4B")
    d, _, draft_id = counted(schema)
    schema._version = R4BSchema().version
    d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META)
    assert schema.seen == FULL


def test_an_approval_time_value_the_schema_refuses_is_refused_with_a_stamp() -> None:
    """An empty fhirUser is not a FHIR string: refused although stamped; nothing queued."""
    d, schema, draft_id = counted()
    with pytest.raises(ValidationFailed):
        d.approvals.approve(d.clinician(fhir_user=""), draft_id, expected_version=1, meta=META)
    assert schema.seen == ["approval"]
    assert d.store.tables.writebacks == {}


def test_where_the_ehr_takes_signed_notes_only_the_stamp_is_of_the_signed_note() -> None:
    """A final-only EHR's versions are stamped as the signed note approval sends there.

    So approve-and-sign needs no full schema run.
    """
    schema = CountingSchema()
    d = desk(schema=schema)
    d.directory.overrides = {"accepts_preliminary": False}
    draft_id = d.submit()
    schema.seen.clear()
    d.approvals.approve(d.clinician(), draft_id, expected_version=1, meta=META, sign=True)
    assert schema.seen == ["approval"]
