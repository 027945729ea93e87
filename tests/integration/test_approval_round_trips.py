"""What one approval asks of the store: each read it needs, once (issue 20).

An approval appends two ledger events (``draft.approved`` and ``writeback.queued``) of one
write-back in one transaction. The tenant's ledger head and the write-back's stored trace
are read once for both, not once per event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from builders import scribe_and_clinician, submission
from chartgate.domain.submission import DraftSubmission
from chartgate.service.context import RequestMeta
from stack import running_stack


def test_an_approval_reads_the_ledger_head_once_and_not_the_trace_it_just_queued(
    tmp_path: Path,
) -> None:
    """Two events, one head read; no trace read back (the transaction inserted the row).

    The outbox row is inserted without a trace in this transaction, so the unit of work knows
    it (issue 20): the events carry no traceparent with tracing off, as when it was read.
    """
    with running_stack(f"sqlite:///{tmp_path}/a.sqlite3", tmp_path) as stack:
        scribe, clinician = scribe_and_clinician(stack.tenant)
        meta = RequestMeta(request_id="r")
        body = DraftSubmission.model_validate(submission())
        draft = stack.app.drafting.submit_draft(scribe, body, meta)
        seen: list[str] = []

        def before(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            seen.append(" ".join(statement.split()))

        event.listen(stack.app.engine, "before_cursor_execute", before)
        try:
            stack.app.approvals.approve(clinician, draft.id, expected_version=1, meta=meta)
        finally:
            event.remove(stack.app.engine, "before_cursor_execute", before)
        with stack.app.uow(read_only=True) as uow:
            events = uow.audit.by_correlation(stack.tenant, draft.correlation_id)
    inserted = [s for s in seen if s.startswith("INSERT INTO audit_events")]
    head_reads = [s for s in seen if s.startswith("SELECT ledger_heads.")]
    trace_reads = [s for s in seen if s.startswith("SELECT writebacks.traceparent")]
    assert len(inserted) == 2
    assert len(head_reads) == 1
    assert trace_reads == []
    queued = [e for e in events if e["type"] in {"draft.approved", "writeback.queued"}]
    assert len(queued) == 2
    assert all("traceparent" not in e for e in queued)


def test_the_schema_stamp_is_stored_with_the_version_and_read_back(tmp_path: Path) -> None:
    """Submit keeps the version's schema stamp in draft_versions (0018); it reads back.

    So an approval in another process can use it (ADR 0032).
    """
    with running_stack(f"sqlite:///{tmp_path}/a.sqlite3", tmp_path) as stack:
        scribe, _ = scribe_and_clinician(stack.tenant)
        body = DraftSubmission.model_validate(submission())
        draft = stack.app.drafting.submit_draft(scribe, body, RequestMeta(request_id="r"))
        with stack.app.uow(read_only=True) as uow:
            stored = uow.drafts.get(stack.tenant, draft.id).current.schema_stamp
    assert draft.current.schema_stamp is not None
    assert stored == draft.current.schema_stamp


def test_an_approval_reads_the_drafts_versions_once(tmp_path: Path) -> None:
    """The transaction reuses the draft read before the chart check when its row is unchanged.

    One read of ``draft_versions`` (before the EHR is asked), and in the transaction one read
    of the row version instead of the draft and its versions again.
    """
    with running_stack(f"sqlite:///{tmp_path}/a.sqlite3", tmp_path) as stack:
        scribe, _ = scribe_and_clinician(stack.tenant)
        meta = RequestMeta(request_id="r")
        body = DraftSubmission.model_validate(submission())
        draft = stack.app.drafting.submit_draft(scribe, body, meta)
        seen: list[str] = []

        def before(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            seen.append(" ".join(statement.split()))

        event.listen(stack.app.engine, "before_cursor_execute", before)
        try:
            approved, _ = stack.app.approvals.approve(
                scribe_and_clinician(stack.tenant)[1], draft.id, expected_version=1, meta=meta
            )
        finally:
            event.remove(stack.app.engine, "before_cursor_execute", before)
    version_reads = [s for s in seen if "FROM draft_versions WHERE" in s and "max(" not in s]
    assert len(version_reads) == 1
    assert len([s for s in seen if s.startswith("SELECT drafts.row_version")]) == 1
    assert approved.state.value == "queued"


def test_a_draft_changed_after_the_first_read_is_read_again(
    database_url: str, tmp_path: Path
) -> None:
    """A row version moved on (another save) gives a fresh draft, not the one known before.

    On both stores, the locked read (``for_update``, as approval asks) included.
    """
    with running_stack(database_url, tmp_path) as stack:
        scribe, _ = scribe_and_clinician(stack.tenant)
        body = DraftSubmission.model_validate(submission())
        draft = stack.app.drafting.submit_draft(scribe, body, RequestMeta(request_id="r"))
        with stack.app.uow(read_only=True) as uow:
            known = uow.drafts.get(stack.tenant, draft.id)
        with stack.app.uow() as uow:
            unchanged = uow.drafts.get(stack.tenant, draft.id, for_update=True, known=known)
            assert unchanged is known
            changed = uow.drafts.get(stack.tenant, draft.id)
            changed.baseline = {**changed.baseline, "note": "changed meanwhile"}
            uow.drafts.save(changed, at=changed.created_at)
        with stack.app.uow() as uow:
            again = uow.drafts.get(stack.tenant, draft.id, for_update=True, known=known)
    assert again is not known
    assert again.baseline["note"] == "changed meanwhile"
    assert known.stored_version is not None
    assert again.stored_version == known.stored_version + 1
