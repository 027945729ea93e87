"""What one clean write-back asks of the store: no read whose answer it cannot use (issue 20).

A note's first write-back in a mode where nothing rides in its transaction reads the
draft's write-back list neither at the claim (no structured part can ride along) nor at the
finish (the chart's approved version matters only after a refused follow-up), reads its
approval once, at the claim, and takes its own row from the claim's UPDATE. The finish
reads the draft's versions only when the draft changed since the claim saved it
(``DraftRepository.get(known=)``), and the claim's save does not ask for the last version
number its own read just saw.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from builders import scribe_and_clinician, submission
from chartgate.domain.submission import DraftSubmission, Note, VersionEdit
from chartgate.service.context import RequestMeta
from stack import Stack, running_stack


def _approved(stack: Stack) -> str:
    """Submit and approve one synthetic note; its draft id."""
    scribe, clinician = scribe_and_clinician(stack.tenant)
    meta = RequestMeta(request_id="r")
    body = DraftSubmission.model_validate(submission())
    draft = stack.app.drafting.submit_draft(scribe, body, meta)
    stack.app.approvals.approve(clinician, draft.id, expected_version=1, meta=meta)
    return draft.id


def test_a_clean_write_back_reads_its_approval_once_and_not_the_drafts_write_backs(
    tmp_path: Path,
) -> None:
    """One approval read, one read of the versions, no list of the draft's write-backs."""
    with running_stack(f"sqlite:///{tmp_path}/w.sqlite3", tmp_path) as stack:
        draft_id = _approved(stack)
        seen: list[str] = []

        def before(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            seen.append(" ".join(statement.split()))

        event.listen(stack.app.engine, "before_cursor_execute", before)
        try:
            taken = stack.app.executor(owner="t").run_once()
        finally:
            event.remove(stack.app.engine, "before_cursor_execute", before)
        with stack.app.uow(read_only=True) as uow:
            state = uow.drafts.get(stack.tenant, draft_id).state.value
    approval_reads = [s for s in seen if s.startswith("SELECT approvals.")]
    draft_lists = [
        s for s in seen if s.startswith("SELECT writebacks.") and "writebacks.draft_id =" in s
    ]
    assert taken == 1
    assert state == "committed"
    assert len(approval_reads) == 1
    assert draft_lists == []
    # The claim's UPDATE returns the row it leaves: the write-back is not read again.
    assert [s for s in seen if s.startswith("SELECT writebacks.tenant, writebacks.id, ")] == []
    assert len([s for s in seen if s.startswith("SELECT draft_versions.tenant")]) == 1
    # The claim read the versions in its own transaction: only the finish asks for the last.
    assert len([s for s in seen if s.startswith("SELECT max(draft_versions.number)")]) == 1


def test_a_save_rolled_back_leaves_no_row_version_to_trust(tmp_path: Path) -> None:
    """After a rollback the draft is read in full again, never taken as what the store holds."""
    with running_stack(f"sqlite:///{tmp_path}/r.sqlite3", tmp_path) as stack:
        draft_id = _approved(stack)
        with stack.app.uow() as uow:
            draft = uow.drafts.get(stack.tenant, draft_id)
        stored = draft.stored_version
        with pytest.raises(RuntimeError), stack.app.uow() as uow:  # noqa: PT012 - the rollback
            uow.drafts.save(draft, at=draft.created_at)
            assert draft.stored_version == (stored or 0) + 1
            raise RuntimeError
        assert draft.stored_version is None
        with stack.app.uow(read_only=True) as uow:
            again = uow.drafts.get(stack.tenant, draft_id, known=draft)
    assert again is not draft
    assert again.stored_version == stored


def test_an_edit_saved_after_its_read_in_one_transaction_stores_the_new_version(
    tmp_path: Path,
) -> None:
    """The save that skips asking for the last version still inserts the version it adds."""
    with running_stack(f"sqlite:///{tmp_path}/e.sqlite3", tmp_path) as stack:
        scribe, clinician = scribe_and_clinician(stack.tenant)
        meta = RequestMeta(request_id="r")
        body = submission()
        draft = stack.app.drafting.submit_draft(scribe, DraftSubmission.model_validate(body), meta)
        edit = VersionEdit(note=Note.model_validate({**body["note"], "text": "Edited."}))
        stack.app.drafting.save_version(
            clinician, draft.id, expected_version=1, edit=edit, meta=meta
        )
        with stack.app.uow(read_only=True) as uow:
            stored = uow.drafts.get(stack.tenant, draft.id)
    assert [v.number for v in stored.versions] == [1, 2]
    assert stored.versions[-1].content.note.text == "Edited."


def test_a_write_back_read_after_a_write_following_its_claim_is_read_from_the_store(
    tmp_path: Path,
) -> None:
    """The row a claim returned is served once, never after the row was written again."""
    with running_stack(f"sqlite:///{tmp_path}/c.sqlite3", tmp_path) as stack:
        _approved(stack)
        now = stack.app.clock.now()
        with stack.app.uow() as uow:
            ((tenant, writeback_id),) = uow.writebacks.due(now)
            prior = uow.writebacks.claim(
                tenant, writeback_id, owner="t", now=now, lease_until=now + timedelta(minutes=1)
            )
            later = now + timedelta(seconds=1)
            renewed = uow.writebacks.renew_lease(
                tenant, writeback_id, owner="t", now=later, lease_until=later + timedelta(minutes=1)
            )
            claimed = uow.writebacks.get(tenant, writeback_id)
    assert prior == "queued"
    assert renewed
    assert claimed.state == "sending"
    assert claimed.attempts == 1
    assert claimed.updated_at == later  # the renewal's, not the row the claim returned
