"""The impact report and its correction plan (service/impact.py), over the fakes.

``chartgate impact`` runs in a process of its own in the e2e tests, so its rules are checked
here: patients stay pseudonymous unless revealed (and always in the plan), every covered tenant
records one ``impact.read``, and each draft gets the action its newest note write-back calls for.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chartgate.service.impact import PLAN_KIND, ImpactFilter, ImpactReport, ImpactRow, ImpactService
from fakes import FakeClock, FakeIds, FakeStore

APPROVED = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Pseudonyms:
    """A stand-in keyed pseudonym: tenant and reference, visibly not the reference itself."""

    def reference(self, tenant: str, reference: str) -> str:
        return f"hmac-sha256:{tenant}:{len(reference)}:{reference[::-1]}"


class Queries:
    """The store's read: the rows it holds, and the filters it was asked with."""

    def __init__(self, rows: list[ImpactRow]) -> None:
        self.stored = rows
        self.asked: list[ImpactFilter] = []

    def rows(self, query: ImpactFilter) -> list[ImpactRow]:
        self.asked.append(query)
        return [r for r in self.stored if query.tenant in (None, r.tenant)]


def row(draft: str = "d-1", wb: str = "wb-1", **fields: object) -> ImpactRow:
    """One approved write-back of clinic-a (a committed note by default)."""
    values: dict[str, object] = {
        "tenant": "clinic-a",
        "draft_id": draft,
        "draft_state": "written",
        "patient": "Patient/pat-001",
        "encounter": "Encounter/enc-001",
        "writeback_id": wb,
        "kind": "approve",
        "writeback_state": "committed",
        "chart_resource": "DocumentReference/doc-1",
        "chart_version": "1",
        "provenance": "Provenance/prov-1",
        "model": "example-scribe-llm@2026.10.1",
        "prompt_template": "soap-v3",
        "approved_at": APPROVED,
        **fields,
    }
    return ImpactRow(**values)  # type: ignore[arg-type]


def service(rows: list[ImpactRow]) -> tuple[ImpactService, FakeStore, Queries]:
    store, queries = FakeStore(), Queries(rows)
    impact = ImpactService(
        queries=queries,
        uow=store.unit,
        clock=FakeClock(NOW),
        ids=FakeIds("read"),
        pseudonyms=Pseudonyms(),
        tenants=["clinic-a", "clinic-b"],
    )
    return impact, store, queries


def test_patients_and_encounters_are_pseudonyms_unless_revealed() -> None:
    """By default no reference appears; ``reveal`` shows them and keeps the pseudonym beside."""
    impact, _, _ = service([row()])
    hidden = impact.run(ImpactFilter(), actor="operator:o").rows[0]
    assert "pat-001" not in hidden["patient"]
    assert "enc-001" not in hidden["encounter"]
    assert hidden["patient"] == Pseudonyms().reference("clinic-a", "Patient/pat-001")
    shown = impact.run(ImpactFilter(), actor="operator:o", reveal=True).rows[0]
    assert (shown["patient"], shown["encounter"]) == ("Patient/pat-001", "Encounter/enc-001")
    assert shown["patient_pseudonym"] == hidden["patient"]
    assert shown["approved_at"] == APPROVED.isoformat()


def test_every_covered_tenant_records_one_read_with_its_own_count() -> None:
    """No tenant filter: an ``impact.read`` in each configured tenant, one correlation id."""
    impact, store, _ = service([row(), row("d-2", "wb-2")])
    since = datetime(2026, 11, 1, tzinfo=UTC)
    impact.run(ImpactFilter(model_version="2026.10.1", since=since), actor="operator:o")
    events = store.tables.audit
    assert [(e.type.value, e.tenant, e.data["rows"]) for e in events] == [
        ("impact.read", "clinic-a", 2),
        ("impact.read", "clinic-b", 0),
    ]
    assert {e.correlation_id for e in events} == {"read-1"}
    assert events[0].actor == "operator:o"
    assert events[0].data["patients_revealed"] is False
    assert events[0].data["filters"] == {
        "tenant": None,
        "model_version": "2026.10.1",
        "prompt_template": None,
        "from": since.isoformat(),
        "to": None,
    }


def test_a_tenant_filter_reads_and_records_only_that_tenant() -> None:
    """``--tenant clinic-b``: the store is asked for clinic-b only, and only clinic-b records."""
    impact, store, queries = service([row()])
    report = impact.run(ImpactFilter(tenant="clinic-b"), actor="operator:o", reveal=True)
    assert report.rows == []
    assert queries.asked == [ImpactFilter(tenant="clinic-b")]
    assert [(e.tenant, e.data["patients_revealed"]) for e in store.tables.audit] == [
        ("clinic-b", True)
    ]


@pytest.mark.parametrize(
    ("newest", "action"),
    [
        ({}, "amend or retract the note in the chart"),
        ({"draft_state": "retracted"}, "none: already retracted"),
        ({"kind": "amend"}, "check: already corrected"),
        ({"kind": "retract"}, "check: already corrected"),
        ({"writeback_state": "queued", "chart_resource": None}, "wait: held or queued"),
        ({"writeback_state": "ambiguous", "chart_resource": None}, "wait: held or queued"),
        ({"writeback_state": "needs_person"}, "amend or retract the note in the chart"),
        (
            {"writeback_state": "rejected", "chart_resource": None},
            "resolve the write-back first (see its state)",
        ),
    ],
    ids=[
        "in-chart",
        "retracted",
        "amended",
        "retract-landed",
        "queued",
        "ambiguous",
        "landed-needs-person",
        "rejected",
    ],
)
def test_the_plan_says_what_a_clinician_does_from_the_newest_write_back(
    newest: dict[str, object], action: str
) -> None:
    """The draft's newest note write-back decides between amend, wait, check, none, resolve."""
    impact, _, _ = service([row(), row(wb="wb-2", **newest)])
    plan = impact.run(ImpactFilter(), actor="operator:o").plan(NOW)
    [item] = plan["items"]
    assert item["action"].startswith(action)
    assert item["writebacks"] == ["wb-1", "wb-2"]
    assert item["review"] == "/review/d-1"


def test_structured_write_backs_follow_their_note_and_the_plan_names_no_patient() -> None:
    """A structured row after the note does not decide; the plan carries pseudonyms only."""
    rows = [
        row(writeback_state="queued", chart_resource=None),
        row(
            wb="wb-2", kind="structured", writeback_state="committed", chart_resource="Condition/c"
        ),
        row("d-2", "wb-3", tenant="clinic-b", patient="Patient/pat-002"),
    ]
    impact, _, _ = service(rows)
    report = impact.run(ImpactFilter(), actor="operator:o", reveal=True)
    plan = report.plan(NOW)
    assert (plan["kind"], plan["version"], plan["created_at"]) == (PLAN_KIND, 1, NOW.isoformat())
    first, second = plan["items"]
    assert first["action"].startswith("wait: held or queued")
    assert first["chart_resource"] == "Condition/c"  # the newest one known
    assert (second["tenant"], second["draft_id"]) == ("clinic-b", "d-2")
    assert "pat-00" not in str(plan)


def test_an_empty_report_plans_nothing() -> None:
    """No write-back under the filters: a plan with no items, the filters kept."""
    report = ImpactReport(filters=ImpactFilter(prompt_template="soap-v9"), rows=[], revealed=False)
    plan = report.plan(NOW)
    assert plan["items"] == []
    assert plan["filters"]["prompt_template"] == "soap-v9"
