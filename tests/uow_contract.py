"""The unit of work's domain-event contract, run on the fake and on the real store (ADR 0033).

``tests/unit/test_unit_of_work_events.py`` runs it on ``FakeStore``;
``tests/integration/test_sql_unit_of_work_events.py`` on ``SqlUnitOfWork`` (SQLite, PostgreSQL).
Each check takes a ``UnitOfWorkFactory`` over an empty store and raises on a broken promise.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from builders import submission
from chartgate.domain.drafts import Draft
from chartgate.domain.errors import NotFound
from chartgate.domain.principal import Principal, Role
from chartgate.domain.submission import DraftSubmission
from chartgate.service.context import RequestMeta
from chartgate.service.event_records import Actor, AuditRecorder, UnrecordedChangeError
from chartgate.service.ports import JsonObject, UnitOfWorkFactory

TENANT = "clinic-contract"
AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SCRIBE = Principal(tenant=TENANT, subject="scribe-9", role=Role.SCRIBE)
CLINICIAN = Principal(tenant=TENANT, subject="dr-9", role=Role.CLINICIAN)


class StillClock:
    """The contract's clock: always ``AT``."""

    def now(self) -> datetime:
        """``AT``."""
        return AT


def recorder(principal: Principal, request_id: str) -> AuditRecorder:
    """What ``Context.unit`` gives the unit of work: the actor and request of a use case."""
    name = f"{principal.role.value}:{principal.subject}"
    return AuditRecorder(StillClock(), Actor(name, RequestMeta(request_id).request_id))


def new_draft(draft_id: str) -> Draft:
    """A scribe's synthetic draft, not yet stored (it holds its ``draft.received`` event)."""
    sent = DraftSubmission.model_validate(submission())
    return Draft.submit(
        draft_id=draft_id,
        tenant=TENANT,
        patient=sent.patient,
        encounter=sent.encounter,
        origin=sent.origin,
        content=sent.content(),
        baseline={},
        correlation_id=f"corr-{draft_id}",
        author="scribe:scribe-9",
        at=AT,
    )


def trail(uow: UnitOfWorkFactory, draft_id: str) -> list[JsonObject]:
    """The draft's audit records, in ledger order."""
    with uow(read_only=True) as unit:
        return unit.audit.by_correlation(TENANT, f"corr-{draft_id}")


def adding_a_draft_records_its_event_as_the_use_cases_actor(uow: UnitOfWorkFactory) -> None:
    """One draft.received record, with the recorder's actor and request, committed."""
    with uow() as unit:
        unit.recording(recorder(SCRIBE, "req-add"))
        unit.drafts.add(new_draft("d-add"))
    [record] = trail(uow, "d-add")
    assert record["type"] == "draft.received"
    assert (record["actor"], record["request_id"]) == ("scribe:scribe-9", "req-add")
    assert record["draft_id"] == "d-add"
    assert record["data"]["state"] == "in_review"
    assert record["data"]["version"] == 1


class Boom(Exception):
    """An error inside a unit of work, after its draft changed."""


def _add_then_fail(uow: UnitOfWorkFactory) -> None:
    with uow() as unit:
        unit.recording(recorder(SCRIBE, "req-rollback"))
        unit.drafts.add(new_draft("d-rollback"))
        raise Boom


def a_rolled_back_unit_records_nothing(uow: UnitOfWorkFactory) -> None:
    """An error in the block: neither the draft nor its event is stored."""
    with pytest.raises(Boom):
        _add_then_fail(uow)
    assert trail(uow, "d-rollback") == []
    with uow(read_only=True) as unit, pytest.raises(NotFound):
        unit.drafts.get(TENANT, "d-rollback")


def an_event_is_recorded_once_when_its_draft_is_saved_twice(uow: UnitOfWorkFactory) -> None:
    """A loaded draft edited and saved twice in one unit: one draft.version_saved."""
    with uow() as unit:
        unit.recording(recorder(SCRIBE, "req-1"))
        unit.drafts.add(new_draft("d-twice"))
    with uow() as unit:
        unit.recording(recorder(CLINICIAN, "req-2"))
        draft = unit.drafts.get(TENANT, "d-twice", for_update=True)
        draft.save_version(
            draft.current.content, expected_version=1, author="clinician:dr-9", at=AT
        )
        unit.drafts.save(draft, at=AT)
        unit.drafts.save(draft, at=AT)
    with uow() as unit:  # loaded again and saved unchanged: nothing new to record
        unit.recording(recorder(CLINICIAN, "req-3"))
        unit.drafts.save(unit.drafts.get(TENANT, "d-twice"), at=AT)
    assert [(r["type"], r["request_id"]) for r in trail(uow, "d-twice")] == [
        ("draft.received", "req-1"),
        ("draft.version_saved", "req-2"),
    ]


def a_change_without_a_recorder_is_refused_and_rolled_back(uow: UnitOfWorkFactory) -> None:
    """A draft changed in a unit nobody said whose it is: the commit fails, nothing stored."""
    with pytest.raises(UnrecordedChangeError), uow() as unit:
        unit.drafts.add(new_draft("d-anonymous"))
    assert trail(uow, "d-anonymous") == []
    with uow(read_only=True) as unit, pytest.raises(NotFound):
        unit.drafts.get(TENANT, "d-anonymous")


CONTRACT = (
    adding_a_draft_records_its_event_as_the_use_cases_actor,
    a_rolled_back_unit_records_nothing,
    an_event_is_recorded_once_when_its_draft_is_saved_twice,
    a_change_without_a_recorder_is_refused_and_rolled_back,
)
"""Every check of the contract, for the two suites to run."""
