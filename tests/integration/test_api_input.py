"""Bad input over real HTTP: every refusal is an OperationOutcome and nothing is stored.

Each test drives the API under uvicorn (SQLite, sandbox EHR, dev identity provider) and counts
the rows of the store before and after the bad request. The module's tests share one running
chartgate (``tenant_stacks``): each acts for a tenant of its own, with its own drafts and
idempotency keys, and counts rows inside the test, so no test sees another's writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from builders import SOAP_NOTE, edited_note, submission
from chartgate.adapters.storage import tables
from stack import Stack, TenantStacks

FHIR_JSON = "application/fhir+json"
STORED_TABLES = (
    tables.drafts,
    tables.draft_versions,
    tables.approvals,
    tables.writebacks,
    tables.audit_events,
    tables.idempotency_keys,
)
NOTE_SENTENCES = [
    line for line in SOAP_NOTE.splitlines() if line.strip() and not line.startswith("#")
]
OLD = "Return if symptoms worsen."
NEW = "Return if fever develops or symptoms last 10 days."


# -- helpers -------------------------------------------------------------------------------


def stored(stack: Stack) -> dict[str, int]:
    """Row counts of every table a request could write to.

    Security events (authn/authz refusals) are themselves audited, by design (issue 5): a
    refusal may add those and nothing else, so they are left out of the count.
    """
    with stack.app.engine.connect() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in STORED_TABLES
        }
        counts["audit_events"] = conn.execute(
            select(func.count())
            .select_from(tables.audit_events)
            .where(tables.audit_events.c.type.not_like("security.%"))
        ).scalar_one()
        return counts


@contextmanager
def nothing_stored(stack: Stack) -> Iterator[None]:
    """Assert that the block leaves drafts, write-backs and audit events exactly as they were."""
    before = stored(stack)
    yield
    assert stored(stack) == before


def outcome(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Check the response is a FHIR OperationOutcome with ``status``; return its first issue."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == FHIR_JSON
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] in {"error", "fatal"}
    assert issue["code"]
    assert issue["diagnostics"]
    if code is not None:
        assert issue["code"] == code, issue
    for sentence in NOTE_SENTENCES:
        assert sentence not in response.text
    return issue


def submit(stack: Stack, body: Any = None, **headers: str) -> httpx.Response:
    """POST /v1/drafts as the scribe with a JSON body (a valid submission by default)."""
    return stack.api.post(
        "/v1/drafts",
        json=submission() if body is None else body,
        headers={**stack.as_scribe(), **headers},
    )


def submit_raw(stack: Stack, content: bytes | Iterator[bytes]) -> httpx.Response:
    """POST /v1/drafts as the scribe with raw bytes."""
    return stack.api.post(
        "/v1/drafts",
        content=content,
        headers={**stack.as_scribe(), "Content-Type": "application/json"},
    )


@pytest.fixture
def stack(shared_sqlite_stacks: TenantStacks) -> Stack:
    """The shared chartgate acting for a tenant no other test used."""
    return shared_sqlite_stacks.next()


@pytest.fixture
def draft(stack: Stack) -> dict[str, Any]:
    """A draft the scribe has submitted, still at version 1."""
    created = submit(stack)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def approve(stack: Stack, draft_id: str, version: str = 'W/"1"', **claims: Any) -> httpx.Response:
    """POST approve as the clinician (claims override the token) naming ``version``."""
    return stack.api.post(
        f"/v1/drafts/{draft_id}/approve",
        headers={**stack.as_clinician(**claims), "If-Match": version},
    )


# -- malformed or unacceptable submissions -------------------------------------------------


def test_malformed_json_is_a_400_operation_outcome(stack: Stack) -> None:
    """A body that is not JSON is refused as a structure error and stores nothing."""
    with nothing_stored(stack):
        response = submit_raw(stack, b'{"patient": "Patient/pat-001", "note": {')
    outcome(response, 400, "structure")


def test_a_body_that_is_not_utf8_is_a_400(stack: Stack) -> None:
    """Bytes that are not UTF-8 are malformed input, not a server error."""
    with nothing_stored(stack):
        response = submit_raw(stack, b"\xff\xfe{\x00}")
    outcome(response, 400, "structure")


def test_an_empty_body_is_a_400(stack: Stack) -> None:
    """An empty body is malformed JSON."""
    with nothing_stored(stack):
        response = submit_raw(stack, b"")
    outcome(response, 400, "structure")


def test_a_json_array_instead_of_an_object_is_a_422(stack: Stack) -> None:
    """Well-formed JSON of the wrong shape is a validation error, not a crash."""
    with nothing_stored(stack):
        response = submit(stack, [submission()])
    outcome(response, 422, "invalid")


def test_an_unknown_top_level_field_is_refused(stack: Stack) -> None:
    """A field the submission schema does not define is refused and named."""
    with nothing_stored(stack):
        response = submit(stack, submission(diagnosis_hint="J20.9"))
    issue = outcome(response, 422, "invalid")
    assert issue["expression"] == ["diagnosis_hint"]


def test_an_unknown_resource_type_in_resources_is_refused(stack: Stack) -> None:
    """A structured proposal whose type a draft may not hold (Patient) is a 422."""
    with nothing_stored(stack):
        response = submit(stack, submission(resources=[{"resourceType": "Patient"}]))
    issue = outcome(response, 422, "invalid")
    assert issue["expression"] == ["resources"]


def test_a_resource_without_a_type_is_refused(stack: Stack) -> None:
    """A structured proposal with no resourceType is a 422."""
    with nothing_stored(stack):
        response = submit(stack, submission(resources=[{"code": {"text": "cough"}}]))
    outcome(response, 422, "invalid")


def test_a_refused_resource_type_is_not_echoed_back(stack: Stack) -> None:
    """The error names the rule broken, never the value sent (here, a sentence of the note)."""
    sentence = NOTE_SENTENCES[0]
    with nothing_stored(stack):
        response = submit(stack, submission(resources=[{"resourceType": sentence}]))
    assert response.status_code == 422
    assert sentence not in response.text


def test_a_missing_encounter_is_refused(stack: Stack) -> None:
    """A draft must name the encounter it belongs to."""
    body = submission()
    del body["encounter"]
    with nothing_stored(stack):
        response = submit(stack, body)
    issue = outcome(response, 422, "invalid")
    assert issue["expression"] == ["encounter"]


def test_an_encounter_that_is_not_an_encounter_reference_is_refused(stack: Stack) -> None:
    """``encounter`` must be ``Encounter/<id>``, not another resource or free text."""
    with nothing_stored(stack):
        response = submit(stack, submission(encounter="Patient/pat-001"))
    outcome(response, 422, "invalid")


def test_a_note_type_that_is_not_loinc_shaped_is_refused(stack: Stack) -> None:
    """``note.type`` must look like a LOINC code before the policy is even asked."""
    body = submission()
    body["note"]["type"] = "progress-note"
    with nothing_stored(stack):
        response = submit(stack, body)
    outcome(response, 422, "invalid")


def test_a_note_type_the_policy_does_not_list_is_forbidden(stack: Stack) -> None:
    """A LOINC-shaped note type missing from the write-back matrix is denied (default deny)."""
    body = submission()
    body["note"]["type"] = "99999-9"
    with nothing_stored(stack):
        response = submit(stack, body)
    issue = outcome(response, 403, "business-rule")
    assert issue["expression"] == ["note.type"]


def test_a_resource_type_the_policy_does_not_list_is_forbidden(stack: Stack) -> None:
    """A structured type a draft may hold but the matrix does not list (Immunization) is denied."""
    with nothing_stored(stack):
        response = submit(stack, submission(resources=[{"resourceType": "Immunization"}]))
    issue = outcome(response, 403, "business-rule")
    assert issue["expression"] == ["resources[0]"]


def test_a_transcript_hash_that_is_not_sha256_hex_is_refused(stack: Stack) -> None:
    """The origin must carry the transcript's 64-hex SHA-256, never the transcript."""
    body = submission()
    body["origin"]["transcript_sha256"] = "not-a-hash"
    with nothing_stored(stack):
        response = submit(stack, body)
    outcome(response, 422, "invalid")


# -- size limit ----------------------------------------------------------------------------


def test_an_oversized_body_is_a_413(stack: Stack) -> None:
    """A body over max_body_bytes (256 KiB by default) is refused before it is parsed."""
    assert stack.app.settings.max_body_bytes == 256 * 1024
    body = submission()
    body["note"]["text"] = "é" * 150_000  # under the character limit, over the byte limit
    with nothing_stored(stack):
        response = submit(stack, body)
    outcome(response, 413, "too-costly")
    assert "é" * 20 not in response.text


def test_an_oversized_streamed_body_is_a_413(stack: Stack) -> None:
    """A chunked body with no Content-Length is cut off once it passes the limit."""

    def chunks() -> Iterator[bytes]:
        for _ in range(300):
            yield b" " * 1024

    with nothing_stored(stack):
        response = submit_raw(stack, chunks())
    outcome(response, 413, "too-costly")


def test_a_body_just_under_the_limit_is_parsed(stack: Stack) -> None:
    """The limit is on bytes over the limit only: a large but allowed body reaches validation."""
    padding = " " * (stack.app.settings.max_body_bytes - 2048)
    raw = json.dumps(submission()).encode()[:-1] + padding.encode() + b"}"
    response = submit_raw(stack, raw)
    assert response.status_code == 201, response.text


# -- If-Match ------------------------------------------------------------------------------


@pytest.mark.parametrize("if_match", ["abc", 'W/"v1"', '"1", "2"', "*", 'W/"-1"'])
def test_a_malformed_if_match_on_save_is_a_422(
    stack: Stack, draft: dict[str, Any], if_match: str
) -> None:
    """If-Match must name one draft version; anything else is refused before any work."""
    with nothing_stored(stack):
        response = stack.api.put(
            f"/v1/drafts/{draft['id']}",
            json=edited_note(draft, OLD, NEW),
            headers={**stack.as_clinician(), "If-Match": if_match},
        )
    issue = outcome(response, 422, "invalid")
    assert issue["expression"] == ["If-Match"]


def test_saving_without_if_match_is_a_422(stack: Stack, draft: dict[str, Any]) -> None:
    """A clinician must say which version they edited."""
    with nothing_stored(stack):
        response = stack.api.put(
            f"/v1/drafts/{draft['id']}",
            json=edited_note(draft, OLD, NEW),
            headers=stack.as_clinician(),
        )
    issue = outcome(response, 422, "invalid")
    assert issue["expression"] == ["If-Match"]


def test_approving_without_if_match_is_a_422(stack: Stack, draft: dict[str, Any]) -> None:
    """A clinician must say which version they approve."""
    with nothing_stored(stack):
        response = stack.api.post(f"/v1/drafts/{draft['id']}/approve", headers=stack.as_clinician())
    outcome(response, 422, "invalid")


def test_approving_with_a_malformed_if_match_is_a_422(stack: Stack, draft: dict[str, Any]) -> None:
    """Approve refuses an If-Match that names no version."""
    with nothing_stored(stack):
        response = approve(stack, draft["id"], version="latest")
    outcome(response, 422, "invalid")


def test_saving_on_a_stale_version_is_a_412(stack: Stack, draft: dict[str, Any]) -> None:
    """An edit of version 1 after version 2 was saved is refused, not merged."""
    first = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edited_note(draft, OLD, NEW),
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert first.status_code == 200, first.text
    with nothing_stored(stack):
        response = stack.api.put(
            f"/v1/drafts/{draft['id']}",
            json=edited_note(draft, OLD, "Return in one week."),
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
    outcome(response, 412, "conflict")


def test_approving_a_stale_version_is_a_412(stack: Stack, draft: dict[str, Any]) -> None:
    """A clinician cannot approve version 1 once version 2 exists: they did not review it."""
    saved = stack.api.put(
        f"/v1/drafts/{draft['id']}",
        json=edited_note(draft, OLD, NEW),
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert saved.status_code == 200, saved.text
    with nothing_stored(stack):
        response = approve(stack, draft["id"], version='W/"1"')
    outcome(response, 412, "conflict")


def test_an_edit_with_an_unknown_resource_type_is_refused(
    stack: Stack, draft: dict[str, Any]
) -> None:
    """Saving a version is held to the same schema as submitting."""
    edit = {**edited_note(draft, OLD, NEW), "resources": [{"resourceType": "Patient"}]}
    with nothing_stored(stack):
        response = stack.api.put(
            f"/v1/drafts/{draft['id']}",
            json=edit,
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
    outcome(response, 422, "invalid")


# -- who may do what -----------------------------------------------------------------------


def test_no_token_is_a_401_with_a_bearer_challenge(stack: Stack) -> None:
    """A request without a bearer token is refused with WWW-Authenticate: Bearer."""
    with nothing_stored(stack):
        response = stack.api.post("/v1/drafts", json=submission())
    outcome(response, 401, "login")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_no_token_gets_a_challenge_without_an_error_code(stack: Stack) -> None:
    """RFC 6750 section 3.1: a request with no credentials gets no ``error=`` in the challenge."""
    response = stack.api.post("/v1/drafts", json=submission())
    assert response.status_code == 401
    assert "error=" not in response.headers["www-authenticate"]


def test_a_garbage_token_is_a_401_invalid_token(stack: Stack) -> None:
    """A bearer value that is not a signed token is refused as invalid_token."""
    with nothing_stored(stack):
        response = stack.api.post(
            "/v1/drafts", json=submission(), headers={"Authorization": "Bearer not.a.jwt"}
        )
    outcome(response, 401, "login")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_an_expired_token_is_a_401(stack: Stack) -> None:
    """A token past its exp (beyond the leeway) is refused."""
    with nothing_stored(stack):
        expired = stack.scribe_token(lifetime_seconds=-600)
        response = submit(stack, Authorization=f"Bearer {expired}")
    outcome(response, 401, "login")


def test_a_scribe_cannot_approve(stack: Stack, draft: dict[str, Any]) -> None:
    """The AI scribe's client token may submit drafts but never approve them."""
    with nothing_stored(stack):
        response = stack.api.post(
            f"/v1/drafts/{draft['id']}/approve",
            headers={**stack.as_scribe(), "If-Match": 'W/"1"'},
        )
    outcome(response, 403, "forbidden")


def test_a_scribe_cannot_edit_or_read_a_draft(stack: Stack, draft: dict[str, Any]) -> None:
    """Reading and editing drafts are clinician acts."""
    with nothing_stored(stack):
        read = stack.api.get(f"/v1/drafts/{draft['id']}", headers=stack.as_scribe())
        saved = stack.api.put(
            f"/v1/drafts/{draft['id']}",
            json=edited_note(draft, OLD, NEW),
            headers={**stack.as_scribe(), "If-Match": 'W/"1"'},
        )
    outcome(read, 403, "forbidden")
    outcome(saved, 403, "forbidden")


def test_a_clinician_cannot_submit_a_draft(stack: Stack) -> None:
    """Drafts come from the scribe client; a clinician's token cannot submit one."""
    with nothing_stored(stack):
        response = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_clinician())
    outcome(response, 403, "forbidden")


def test_a_clinician_outside_the_launch_encounter_cannot_approve(
    stack: Stack, draft: dict[str, Any]
) -> None:
    """A clinician launched into another encounter may not approve this one's draft (404)."""
    with nothing_stored(stack):
        response = approve(stack, draft["id"], encounter="enc-999")
    outcome(response, 404, "not-found")  # as an unknown id: no existence oracle (issue 12)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/drafts/no-such-draft"),
        ("GET", "/v1/drafts/no-such-draft/diff"),
        ("PUT", "/v1/drafts/no-such-draft"),
        ("POST", "/v1/drafts/no-such-draft/approve"),
        ("POST", "/v1/drafts/no-such-draft/finalize"),
        ("POST", "/v1/drafts/no-such-draft/discard"),
        ("GET", "/v1/writebacks/no-such-writeback"),
    ],
)
def test_an_id_that_does_not_exist_is_a_404(
    stack: Stack, draft: dict[str, Any], method: str, path: str
) -> None:
    """Unknown draft and write-back ids are 404 OperationOutcomes, for every verb."""
    with nothing_stored(stack):
        response = stack.api.request(
            method,
            path,
            json=edited_note(draft, OLD, NEW) if method == "PUT" else None,
            headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
        )
    outcome(response, 404, "not-found")


# -- authentication strength ---------------------------------------------------------------


def test_approval_without_mfa_is_a_401_step_up(stack: Stack, draft: dict[str, Any]) -> None:
    """A password-only session cannot approve: 401 insufficient_user_authentication."""
    with nothing_stored(stack):
        response = approve(stack, draft["id"], amr=["pwd"])
    outcome(response, 401, "login")
    assert 'error="insufficient_user_authentication"' in response.headers["www-authenticate"]


def test_finalize_with_an_old_authentication_is_a_401_step_up(stack: Stack) -> None:
    """Finalizing a committed note needs a fresh login: an hour-old auth_time is refused."""
    created = submit(stack)
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    assert approve(stack, draft_id).status_code == 202
    stack.work()
    with nothing_stored(stack):
        response = stack.api.post(
            f"/v1/drafts/{draft_id}/finalize",
            headers=stack.as_clinician(auth_time=int(time.time()) - 3600),
        )
    outcome(response, 401, "login")
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert "max_age=300" in challenge
    view = stack.api.get(f"/v1/drafts/{draft_id}", headers=stack.as_clinician()).json()
    assert view["state"] == "committed"
    assert view["doc_status"] != "final"


# -- Idempotency-Key -----------------------------------------------------------------------


def test_the_same_key_and_body_replays_the_first_answer(stack: Stack) -> None:
    """A retried submit returns the first answer, marked replayed, and stores one draft."""
    before = stored(stack)
    first = submit(stack, **{"Idempotency-Key": "submit-enc-001-a"})
    second = submit(stack, **{"Idempotency-Key": "submit-enc-001-a"})
    assert first.status_code == second.status_code == 201, second.text
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    after = stored(stack)
    assert after["drafts"] == before["drafts"] + 1
    assert after["draft_versions"] == before["draft_versions"] + 1


def test_the_same_key_with_another_body_is_a_422(stack: Stack) -> None:
    """Reusing a key for a different request is refused and stores nothing new."""
    assert submit(stack, **{"Idempotency-Key": "submit-enc-001-b"}).status_code == 201
    other = submission()
    other["note"]["title"] = "Progress note (revised)"
    with nothing_stored(stack):
        response = submit(stack, other, **{"Idempotency-Key": "submit-enc-001-b"})
    issue = outcome(response, 422)
    assert issue["expression"] == ["Idempotency-Key"]


@pytest.mark.parametrize("key", ["has space", "a" * 256, "semi;colon", "slash/key"])
def test_a_key_outside_the_grammar_is_a_422(stack: Stack, key: str) -> None:
    """An Idempotency-Key must be 1-255 characters of [A-Za-z0-9_-:.]."""
    with nothing_stored(stack):
        response = submit(stack, **{"Idempotency-Key": key})
    issue = outcome(response, 422, "invalid")
    assert issue["expression"] == ["Idempotency-Key"]


def test_a_replayed_approval_queues_one_writeback(stack: Stack, draft: dict[str, Any]) -> None:
    """Approving twice with the same key answers the same and queues exactly one write-back."""
    headers = {**stack.as_clinician(), "If-Match": 'W/"1"', "Idempotency-Key": "approve-1"}
    first = stack.api.post(f"/v1/drafts/{draft['id']}/approve", headers=headers)
    assert first.status_code == 202, first.text
    before = stored(stack)
    second = stack.api.post(f"/v1/drafts/{draft['id']}/approve", headers=headers)
    # The replay is recorded in the ledger (issue 12), and nothing else changes.
    assert stored(stack) == {**before, "audit_events": before["audit_events"] + 1}
    assert second.status_code == 202, second.text
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    with stack.app.engine.connect() as conn:
        queued = conn.execute(
            select(func.count())
            .select_from(tables.writebacks)
            .where(tables.writebacks.c.tenant == stack.tenant)
        ).scalar_one()
    assert queued == 1  # the tenant's only write-back: the first approval's


def test_a_refused_request_with_a_key_stores_no_draft(stack: Stack) -> None:
    """Malformed JSON sent with a key stores nothing, and the key stays free for a retry."""
    with nothing_stored(stack):
        response = stack.api.post(
            "/v1/drafts",
            content=b"{not json",
            headers={
                **stack.as_scribe(),
                "Content-Type": "application/json",
                "Idempotency-Key": "retry-me",
            },
        )
    outcome(response, 400, "structure")
    retry = submit(stack, **{"Idempotency-Key": "retry-me"})
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers


def test_deeply_nested_json_is_a_400_not_a_server_error(stack: Stack) -> None:
    """Hostile nesting that exhausts the JSON parser's recursion is malformed input (400)."""
    with nothing_stored(stack):
        response = submit_raw(stack, b"[" * 100_000 + b"]" * 100_000)
    outcome(response, 400, "structure")


def test_an_integer_too_long_to_convert_is_a_400_not_a_server_error(stack: Stack) -> None:
    """A 5,000-digit number (over Python's int conversion limit) is malformed input (400)."""
    with nothing_stored(stack):
        response = submit_raw(stack, b'{"patient": ' + b"9" * 5000 + b"}")
    outcome(response, 400, "structure")


def test_an_unknown_route_and_a_wrong_method_are_operation_outcomes(stack: Stack) -> None:
    """Even the framework's own 404 and 405 answer in FHIR's shape."""
    with nothing_stored(stack):
        missing = stack.api.get("/v1/no-such-thing", headers=stack.as_clinician())
        wrong = stack.api.delete("/v1/drafts", headers=stack.as_clinician())
    outcome(missing, 404, "not-found")
    outcome(wrong, 405, "not-supported")
