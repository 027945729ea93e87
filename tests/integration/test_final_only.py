"""Final-only EHRs (Oracle Health Millennium R4): approving is signing (issue 13 item 2).

The sandbox imitates Oracle Health (final-only notes, no Provenance write) and chartgate uses
the ``oracle-health`` profile, over real HTTP, on SQLite and PostgreSQL. A plain approve is
refused with an OperationOutcome that says what to do; "approve and sign" is one step-up act
that writes the note ``final``, keeps the Provenance in the ledger and puts the attestation
footer into the approved note text. Synthetic data only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from builders import submission
from chartgate.service.signing import SIGN_REQUIRED
from stack import Stack, running_stack


@pytest.fixture
def oracle(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(
        migrated_database_url, tmp_path, vendor="oracle-health", sandbox_vendor="oracle-health"
    ) as stack:
        yield stack


def _draft(stack: Stack) -> str:
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _approve(stack: Stack, draft_id: str, body: dict[str, object] | None, **claims: object):
    headers = {**stack.as_clinician(**claims), "If-Match": 'W/"1"'}
    return stack.api.post(f"/v1/drafts/{draft_id}/approve", json=body, headers=headers)


def test_a_plain_approve_is_refused_with_what_to_do_instead(oracle: Stack) -> None:
    """No unsigned note can exist in this EHR: the plain approve is a 409 naming the way."""
    draft_id = _draft(oracle)
    refused = _approve(oracle, draft_id, None)
    assert refused.status_code == 409, refused.text
    issue = refused.json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["diagnostics"] == SIGN_REQUIRED
    assert oracle.work() == 0


def test_approve_and_sign_needs_a_recent_sign_in(oracle: Stack) -> None:
    """Signing is finalizing: an old authentication gets the RFC 9470 step-up challenge."""
    draft_id = _draft(oracle)
    stale = _approve(oracle, draft_id, {"sign": True}, auth_time=1_700_000_000)
    assert stale.status_code == 401, stale.text
    assert "insufficient_user_authentication" in stale.headers["www-authenticate"]


def test_approve_and_sign_writes_one_final_note_with_its_attestation(oracle: Stack) -> None:
    """One act: the note lands final, the footer is in its text, the Provenance in the ledger."""
    draft_id = _draft(oracle)
    approved = _approve(oracle, draft_id, {"sign": True})
    assert approved.status_code == 202, approved.text
    writeback = approved.json()["writeback"]
    oracle.work()
    status = oracle.api.get(
        f"/v1/writebacks/{writeback['id']}", headers=oracle.as_clinician()
    ).json()
    assert status["state"] == "committed", status
    assert status["provenance"] is None  # the EHR takes none
    draft = oracle.api.get(f"/v1/drafts/{draft_id}", headers=oracle.as_clinician()).json()
    assert draft["state"] == "committed"
    assert draft["doc_status"] == "final"
    with oracle.ehr() as ehr:
        document = ehr.get(f"/{status['ehr_resource']}").json()
        provenances = ehr.get("/Provenance").json().get("entry", [])
    assert document["docStatus"] == "final"
    text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
    assert f"chartgate write-back {writeback['id']}, draft version 1." in text
    assert provenances == []
    kept = [
        e
        for e in oracle.app.audit_chain(oracle.tenant, draft["correlation_id"])
        if e["type"] == "writeback.provenance_kept"
    ]
    assert len(kept) == 1
    assert kept[0]["data"]["provenance"]["target"][0]["reference"].startswith(
        status["ehr_resource"]
    )
    refinalize = oracle.api.post(f"/v1/drafts/{draft_id}/finalize", headers=oracle.as_clinician())
    assert refinalize.status_code == 409  # already final: nothing left to sign


def test_a_note_for_an_ehr_that_takes_drafts_can_still_be_approved_unsigned(
    sandbox_stack: Stack,
) -> None:
    """The control: where preliminary notes are taken, a plain approve is accepted."""
    draft_id = _draft(sandbox_stack)
    answer = _approve(sandbox_stack, draft_id, None)
    assert isinstance(answer, httpx.Response)
    assert answer.status_code == 202, answer.text
