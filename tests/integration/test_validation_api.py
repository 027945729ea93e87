"""Findings over HTTP: the dry run, findings on the draft and the diff, warning overrides.

Real API under uvicorn on SQLite with the sandbox EHR; synthetic data. The module's tests share
one running chartgate (``tenant_stacks``), each acting for a tenant of its own.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from builders import SOAP_NOTE, submission
from stack import Stack, TenantStacks

TODO_NOTE = SOAP_NOTE.replace("Return if symptoms worsen.", "TODO confirm follow-up.")
TODO_KEY = "content.unfinished-marker@note.text"


@pytest.fixture
def stack(shared_sqlite_stacks: TenantStacks) -> Stack:
    """The shared chartgate acting for a tenant no other test used."""
    return shared_sqlite_stacks.next()


def create(stack: Stack, text: str = SOAP_NOTE) -> dict[str, Any]:
    """Submit a draft with this note text; return the draft."""
    body = submission()
    body["note"]["text"] = text
    response = stack.api.post("/v1/drafts", json=body, headers=stack.as_scribe())
    assert response.status_code == 201, response.text
    draft: dict[str, Any] = response.json()
    return draft


def approve(
    stack: Stack, draft_id: str, body: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    """Approve version 1."""
    return stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        json=body,
        headers={**stack.as_clinician(), "If-Match": 'W/"1"', **headers},
    )


def test_a_clean_draft_has_no_findings_anywhere(stack: Stack) -> None:
    """GET, diff and the dry run all show an empty findings list for a clean note."""
    draft = create(stack)
    as_clinician = stack.as_clinician()
    shown = stack.api.get(f"/v1/drafts/{draft['id']}", headers=as_clinician).json()
    diff = stack.api.get(f"/v1/drafts/{draft['id']}/diff", headers=as_clinician).json()
    dry = stack.api.post(f"/v1/drafts/{draft['id']}/validate", headers=as_clinician)
    assert shown["findings"] == []
    assert diff["findings"] == []
    assert dry.status_code == 200
    assert dry.json() == {
        "draft_id": draft["id"],
        "version": 1,
        "accepted": True,
        "findings": [],
        "blocking": [],
        "acknowledged": [],
    }


def test_a_warning_shows_on_the_draft_the_diff_and_the_dry_run(stack: Stack) -> None:
    """A TODO marker is a warning with its key, wherever the clinician looks."""
    draft = create(stack, TODO_NOTE)
    as_clinician = stack.as_clinician()
    shown = stack.api.get(f"/v1/drafts/{draft['id']}", headers=as_clinician).json()
    diff = stack.api.get(f"/v1/drafts/{draft['id']}/diff", headers=as_clinician).json()
    dry = stack.api.post(f"/v1/drafts/{draft['id']}/validate", headers=as_clinician)
    for findings in (shown["findings"], diff["findings"], dry.json()["findings"]):
        assert [(f["key"], f["severity"], f["stage"]) for f in findings] == [
            (TODO_KEY, "warning", "approve")
        ]
    assert dry.json()["accepted"] is False
    assert dry.json()["blocking"] == [TODO_KEY]
    acknowledged = stack.api.post(
        f"/v1/drafts/{draft['id']}/validate", json={"acknowledge": [TODO_KEY]}, headers=as_clinician
    ).json()
    assert acknowledged["accepted"] is True
    assert acknowledged["acknowledged"] == [TODO_KEY]


def test_an_unacknowledged_warning_blocks_approval_and_an_acknowledged_one_is_recorded(
    stack: Stack,
) -> None:
    """Approve is 422 until the warning is acknowledged; the override is in the audit event."""
    draft = create(stack, TODO_NOTE)
    refused = approve(stack, draft["id"])
    assert refused.status_code == 422
    issues = refused.json()["issue"]
    assert issues[0]["severity"] == "error"
    assert issues[1]["severity"] == "warning"
    assert issues[1]["details"]["coding"][0]["code"] == "content.unfinished-marker"
    assert issues[1]["expression"] == ["note.text"]
    assert "confirm follow-up" not in refused.text  # the message names the rule, not the text
    approved = approve(stack, draft["id"], {"acknowledge": [TODO_KEY]})
    assert approved.status_code == 202, approved.text
    chain = stack.app.audit_chain(stack.tenant, draft["correlation_id"])
    event = next(e for e in chain if e["type"] == "draft.approved")
    assert event["data"]["warnings_acknowledged"] == [TODO_KEY]
    assert event["data"]["findings"] == [TODO_KEY]


def test_acknowledging_an_error_does_not_override_it(stack: Stack) -> None:
    """Errors cannot be acknowledged away: a missing section still blocks approval."""
    draft = create(stack, SOAP_NOTE.split("## Plan")[0])
    refused = approve(stack, draft["id"], {"acknowledge": ["section.missing@note.text"]})
    assert refused.status_code == 422
    codes = [i["details"]["coding"][0]["code"] for i in refused.json()["issue"][1:]]
    assert codes == ["section.missing"]


def test_the_approve_body_is_part_of_the_idempotency_fingerprint(stack: Stack) -> None:
    """Same key and body replays; same key with other acknowledgements is a 422 mismatch."""
    draft = create(stack, TODO_NOTE)
    body = {"acknowledge": [TODO_KEY]}
    first = approve(stack, draft["id"], body, **{"Idempotency-Key": "ack-1"})
    again = approve(stack, draft["id"], body, **{"Idempotency-Key": "ack-1"})
    other = approve(stack, draft["id"], {"acknowledge": []}, **{"Idempotency-Key": "ack-1"})
    assert first.status_code == 202, first.text
    assert again.status_code == 202
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert other.status_code == 422


@pytest.mark.parametrize(
    "body",
    [{"acknowledge": "not-a-list"}, {"acknowledge": [TODO_KEY], "force": True}],
)
def test_a_malformed_approve_body_is_refused(stack: Stack, body: dict[str, Any]) -> None:
    """Only ``acknowledge`` (a list of keys) may be sent with an approval."""
    draft = create(stack)
    assert approve(stack, draft["id"], body).status_code == 422


def test_a_clinician_save_with_a_malformed_resource_is_refused(stack: Stack) -> None:
    """Saves are held to the submit rules: a bogus status never becomes a stored version."""
    draft = create(stack)
    edit = {
        "note": draft["versions"][0]["note"],
        "resources": [
            {
                "resourceType": "Observation",
                "status": "bogus",
                "code": {"text": "cough"},
            }
        ],
    }
    saved = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edit,
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert saved.status_code == 422
    codes = {i["details"]["coding"][0]["code"] for i in saved.json()["issue"][1:]}
    # A clinician may set a protected field (status), but not to a value outside its binding.
    assert codes == {"binding.invalid-code"}


def test_the_dry_run_is_for_clinicians_only(stack: Stack) -> None:
    """A scribe cannot ask for findings of a stored draft."""
    draft = create(stack)
    response = stack.api.post(f"/v1/drafts/{draft['id']}/validate", headers=stack.as_scribe())
    assert response.status_code == 403
