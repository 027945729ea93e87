"""The auditor API over real HTTP: proofs verify with the pure verifier, reads are recorded.

chartgate runs on SQLite and PostgreSQL against the sandbox EHR; the auditor pins the key
from ``/.well-known/chartgate-ledger-keys`` and checks every answer with
``chartgate.ledger`` alone, as a hospital's auditor would. One chartgate per database serves
the module (``tenant_stacks``); each test acts for a tenant of its own, whose ledger only it
writes.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import func, select

from builders import ENCOUNTER, PATIENT, submission
from chartgate.adapters.storage import tables as t
from chartgate.ledger.checkpoint import Checkpoint, open_note, parse_vkey
from chartgate.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from stack import Stack, TenantStacks


@pytest.fixture
def stack(shared_stacks: TenantStacks) -> Stack:
    """The module's chartgate acting for a tenant of the test's own (a ledger of its own)."""
    return shared_stacks.next()


def as_auditor(stack: Stack) -> dict[str, str]:
    token = stack.sandbox.idp.mint(
        subject="auditor-robin", scopes=["chartgate/audit.read"], tenant=stack.tenant
    )
    return {"Authorization": f"Bearer {token}"}


def story(stack: Stack) -> dict[str, Any]:
    """Submit, approve and write back one synthetic note; return the draft."""
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    draft: dict[str, Any] = created.json()
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    )
    assert approved.status_code == 202, approved.text
    stack.work()
    return draft


def pinned(stack: Stack) -> Any:
    keys = stack.api.get("/.well-known/chartgate-ledger-keys")
    assert keys.status_code == 200, keys.text
    return parse_vkey(keys.json()["keys"][0]["vkey"])


def count(stack: Stack, event_type: str) -> int:
    with stack.app.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(t.audit_events)
                .where(t.audit_events.c.tenant == stack.tenant, t.audit_events.c.type == event_type)
            ).scalar_one()
        )


def test_every_event_of_the_story_has_an_inclusion_proof_that_verifies(stack: Stack) -> None:
    """Each event of the correlation id is proven into the signed checkpoint."""
    draft = story(stack)
    assert stack.app.ledger.checkpointer.checkpoint(stack.tenant) is not None
    verifier = pinned(stack)
    found = stack.api.get(
        "/v1/audit/events",
        params={"correlation_id": draft["correlation_id"]},
        headers=as_auditor(stack),
    )
    assert found.status_code == 200, found.text
    events = found.json()["events"]
    assert events[0]["event"]["type"] == "draft.received"
    assert events[-1]["event"]["type"] == "writeback.committed"
    for item in events:
        answer = stack.api.get(f"/v1/audit/proof/{item['seq']}", headers=as_auditor(stack))
        assert answer.status_code == 200, answer.text
        proof = answer.json()
        checkpoint = Checkpoint.from_body(open_note(proof["checkpoint"]["note"], verifier))
        assert checkpoint.origin == f"chartgate.example/{stack.tenant}"
        data = base64.b64decode(proof["canonical"])
        assert leaf_hash(data).hex() == proof["leaf_hash"] == item["leaf_hash"]
        assert verify_inclusion(
            proof["seq"],
            checkpoint.size,
            leaf_hash(data),
            [bytes.fromhex(node) for node in proof["proof"]],
            checkpoint.root,
        )


def test_consistency_between_two_checkpoints_verifies(stack: Stack) -> None:
    """The log only grew between two checkpoints: the RFC 9162 proof says so."""
    story(stack)
    first = stack.app.ledger.checkpointer.checkpoint(stack.tenant)
    story(stack)
    second = stack.app.ledger.checkpointer.checkpoint(stack.tenant)
    assert first is not None
    assert second is not None
    answer = stack.api.get(
        "/v1/audit/proof",
        params={"from": first.size, "to": second.size},
        headers=as_auditor(stack),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    verifier = pinned(stack)
    old = Checkpoint.from_body(open_note(body["from"]["note"], verifier))
    new = Checkpoint.from_body(open_note(body["to"]["note"], verifier))
    proof = [bytes.fromhex(node) for node in body["proof"]]
    assert verify_consistency(old.size, new.size, old.root, new.root, proof)


def test_events_carry_patient_pseudonyms_and_filter_by_patient(stack: Stack) -> None:
    """No plain patient or encounter reference is sealed; an auditor filters by patient."""
    draft = story(stack)
    by_patient = stack.api.get(
        "/v1/audit/events", params={"patient": PATIENT}, headers=as_auditor(stack)
    )
    assert by_patient.status_code == 200, by_patient.text
    events = by_patient.json()["events"]
    assert {e["event"]["draft_id"] for e in events} == {draft["id"]}
    pseudonym = events[0]["event"]["patient"]
    assert pseudonym.startswith("hmac-sha256:")
    received = events[0]["event"]
    assert received["type"] == "draft.received"
    assert received["data"]["encounter"].startswith("hmac-sha256:")
    assert received["data"]["transcript_sha256"]
    again = stack.api.get(
        "/v1/audit/events", params={"patient": pseudonym}, headers=as_auditor(stack)
    )
    assert [e["seq"] for e in again.json()["events"]] == [e["seq"] for e in events]
    with stack.app.engine.connect() as conn:
        sealed = conn.execute(select(t.audit_events.c.canonical)).scalars().all()
    for data in sealed:
        assert PATIENT.split("/")[1].encode() not in data
        assert ENCOUNTER.split("/")[1].encode() not in data


def test_clinicians_and_scribes_may_not_read_the_ledger_and_are_recorded(stack: Stack) -> None:
    """A clinician or scribe gets 403 on every audit endpoint, each refusal a ledger event."""
    before = count(stack, "security.authz_denied")
    for headers in (stack.as_clinician(), stack.as_scribe()):
        for path in ("/v1/audit/events", "/v1/audit/checkpoint", "/v1/audit/proof/0"):
            answer = stack.api.get(path, headers=headers)
            assert answer.status_code == 403, (path, answer.text)
            assert answer.json()["resourceType"] == "OperationOutcome"
    assert count(stack, "security.authz_denied") == before + 6


def test_each_audit_read_is_itself_a_ledger_event(stack: Stack) -> None:
    """Events, checkpoint and proof reads each append one audit.read naming the auditor."""
    story(stack)
    stack.app.ledger.checkpointer.checkpoint(stack.tenant)
    before = count(stack, "audit.read")
    for path in ("/v1/audit/events", "/v1/audit/checkpoint", "/v1/audit/proof/0"):
        answer = stack.api.get(path, headers={**as_auditor(stack), "X-Request-Id": "audit-42"})
        assert answer.status_code == 200, answer.text
    assert count(stack, "audit.read") == before + 3
    reads = stack.api.get(
        "/v1/audit/events", params={"type": "audit.read"}, headers=as_auditor(stack)
    ).json()["events"]
    last = reads[-1]["event"]
    assert last["actor"] == "auditor:auditor-robin"
    assert last["request_id"] == "audit-42"
    assert last["data"]["what"] == "inclusion_proof"


def test_a_proof_for_an_entry_newer_than_the_checkpoint_is_a_conflict(stack: Stack) -> None:
    """An entry not yet covered by a signed checkpoint has no proof yet (409)."""
    story(stack)
    checkpoint = stack.app.ledger.checkpointer.checkpoint(stack.tenant)
    assert checkpoint is not None
    # This read is recorded as entry ``checkpoint.size``, after the checkpoint.
    assert stack.api.get("/v1/audit/checkpoint", headers=as_auditor(stack)).status_code == 200
    answer = stack.api.get(f"/v1/audit/proof/{checkpoint.size}", headers=as_auditor(stack))
    assert answer.status_code == 409, answer.text
    missing = stack.api.get("/v1/audit/proof/100000", headers=as_auditor(stack))
    assert missing.status_code == 404, missing.text


def test_start_up_records_the_policy_hash_per_tenant(stack: Stack) -> None:
    """Building chartgate records the policy it enforces (and its new keys, in dev mode)."""
    found = stack.api.get(
        "/v1/audit/events", params={"type": "policy.loaded"}, headers=as_auditor(stack)
    ).json()["events"]
    assert found
    assert found[0]["event"]["data"]["policy_hash"] == stack.app.policy.content_hash
    keys = stack.api.get(
        "/v1/audit/events", params={"type": "key.created"}, headers=as_auditor(stack)
    ).json()["events"]
    by_kind = {k["event"]["data"]["kind"]: k["event"]["data"] for k in keys}
    assert by_kind["ledger-signing"]["vkey"] == stack.app.ledger.key.vkey
    assert by_kind["kek"]["mode"] == "dev"  # dev mode made the KEK too (docs/keys.md)
