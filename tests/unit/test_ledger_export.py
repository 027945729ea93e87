"""Ledger entries as IHE BALP AuditEvents: the right profile, codes, agents and pointer back."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from chartgate.ledger.balp import BALP_PROFILE_BASE, LEDGER_ENTRY_URL
from chartgate.ledger.export import (
    audit_event_id,
    ledger_pointer,
    to_audit_event,
    write_fhir,
)
from chartgate.ledger.seal import seal

ORIGIN = "chartgate.test/clinic-a"
PSEUDONYM = "hmac-sha256:" + "ab" * 32
PLAIN_PATIENT = "Patient/pat-001"


def entry(kind: str, *, seq: int = 7, actor: str = "clinician:dr-test", **fields: Any) -> dict:
    """A sealed ledger entry as ``entry_json`` gives it (seq, leaf hash hex, event)."""
    event = {
        "type": kind,
        "tenant": "clinic-a",
        "at": "2026-11-24T10:00:00.123456Z",
        "correlation_id": "corr-1",
        "request_id": fields.pop("request_id", "req-1"),
        "actor": actor,
        "draft_id": fields.pop("draft_id", "draft-1"),
        "writeback_id": fields.pop("writeback_id", None),
        "patient": fields.pop("patient", PSEUDONYM),
        "data": fields.pop("data", {}),
    }
    sealed = seal(event, tenant="clinic-a", seq=seq)
    return {"seq": seq, "leaf_hash": sealed.leaf_hash.hex(), "event": json.loads(sealed.canonical)}


def profile(resource: dict) -> str:
    return resource["meta"]["profile"][0].removeprefix(BALP_PROFILE_BASE + "IHE.BasicAudit.")


def agent_codes(resource: dict) -> list[tuple[str, bool]]:
    return [(a["type"]["coding"][0]["code"], a["requestor"]) for a in resource["agent"]]


def entity(resource: dict, type_code: str) -> dict:
    return next(e for e in resource["entity"] if e["type"]["code"] == type_code)


@pytest.mark.parametrize(
    ("kind", "data", "expected_profile", "action", "subtype"),
    [
        ("draft.received", {}, "PatientCreate", "C", "create"),
        ("draft.viewed", {}, "PatientRead", "R", "read"),
        ("draft.version_saved", {}, "PatientUpdate", "U", "update"),
        ("draft.approved", {}, "PatientUpdate", "U", "update"),
        ("audit.read", {"what": "events", "query": {}}, "PatientQuery", "E", "search-type"),
    ],
)
def test_each_event_type_gets_its_balp_profile_and_interaction(
    kind: str, data: dict, expected_profile: str, action: str, subtype: str
) -> None:
    """An event about a patient maps to the Patient* BALP profile of its interaction."""
    resource = to_audit_event(entry(kind, data=data), origin=ORIGIN)
    assert profile(resource) == expected_profile
    assert resource["action"] == action
    assert resource["type"]["code"] == "rest"
    assert resource["subtype"][0] == {
        "system": "http://hl7.org/fhir/restful-interaction",
        "code": subtype,
        "display": subtype,
    }
    assert resource["subtype"][-1]["code"] == kind


def test_an_event_without_a_patient_uses_the_plain_profile() -> None:
    """No patient: ``IHE.BasicAudit.Create``, and no patient entity at all."""
    resource = to_audit_event(entry("draft.received", patient=None), origin=ORIGIN)
    assert profile(resource) == "Create"
    assert all(e["type"]["code"] != "1" for e in resource["entity"])


def test_the_patient_entity_carries_the_pseudonym_never_the_plain_reference() -> None:
    """The patient is identified by the tenant's keyed HMAC only."""
    resource = to_audit_event(entry("draft.viewed"), origin=ORIGIN)
    patient = entity(resource, "1")
    assert patient["role"]["code"] == "1"
    assert patient["what"]["identifier"]["value"] == PSEUDONYM
    assert PLAIN_PATIENT not in json.dumps(resource)


def test_the_request_id_is_a_balp_transaction_entity() -> None:
    """``BasicAuditEntityType|XrequestId`` holds the incoming X-Request-Id."""
    resource = to_audit_event(entry("draft.viewed", request_id="req-42"), origin=ORIGIN)
    transaction = entity(resource, "XrequestId")
    assert transaction["what"]["identifier"]["value"] == "req-42"


def test_a_clinician_is_the_requesting_user_beside_client_and_server() -> None:
    """Client (110153), server (110152) and the user with requestor = true."""
    resource = to_audit_event(entry("draft.approved"), origin=ORIGIN)
    assert agent_codes(resource) == [("110153", False), ("110152", False), ("AUT", True)]
    reader = to_audit_event(entry("draft.viewed"), origin=ORIGIN)
    assert agent_codes(reader)[-1] == ("IRCP", True)


def test_a_scribe_client_is_itself_the_requestor() -> None:
    """A scribe is an OAuth client, not a person: no user agent, the client asked."""
    resource = to_audit_event(entry("draft.received", actor="scribe:scribe-1"), origin=ORIGIN)
    assert agent_codes(resource) == [("110153", True), ("110152", False)]


def test_an_ehr_request_is_sent_by_the_worker_to_the_ehr_under_the_correlation_id() -> None:
    """The worker is the client, the EHR the server; the EHR saw the correlation id."""
    item = entry(
        "ehr.request",
        actor="worker:host:1",
        request_id=None,
        patient=None,
        writeback_id="wb-1",
        data={"method": "POST", "resource_type": "DocumentReference", "payload_hash": "sha256:x"},
    )
    resource = to_audit_event(item, origin=ORIGIN)
    assert profile(resource) == "Create"
    assert agent_codes(resource) == [("110153", True), ("110152", False)]
    assert entity(resource, "XrequestId")["what"]["identifier"]["value"] == "corr-1"
    document = entity(resource, "2")
    assert document["what"]["identifier"] == {
        "system": "urn:chartgate:writeback",
        "value": "wb-1",
    }
    assert document["what"]["type"] == "DocumentReference"


@pytest.mark.parametrize(
    ("kind", "data", "outcome"),
    [
        ("ehr.response", {"method": "POST", "status": 201}, "0"),
        ("ehr.response", {"method": "PUT", "status": 412}, "4"),
        ("ehr.response", {"method": "POST", "status": 503}, "8"),
        ("ehr.response", {"method": "POST", "status": None}, "8"),
        ("writeback.committed", {"kind": "approve"}, "0"),
        ("writeback.conflict", {"kind": "finalize", "reason": "the chart changed"}, "4"),
        ("writeback.ambiguous", {"kind": "approve"}, "8"),
        ("writeback.integrity_refused", {"kind": "approve"}, "12"),
    ],
)
def test_outcomes_follow_the_answer(kind: str, data: dict, outcome: str) -> None:
    """0 success, 4 refused, 8 no answer or server error, 12 integrity guard."""
    item = entry(kind, actor="worker:host:1", writeback_id="wb-1", patient=None, data=data)
    resource = to_audit_event(item, origin=ORIGIN)
    assert resource["outcome"] == outcome
    if outcome != "0" and data.get("reason"):
        assert resource["outcomeDesc"] == data["reason"]


def test_a_finalize_write_back_is_an_update() -> None:
    """Approve and amend create a document; finalize and retract update it."""
    item = entry("writeback.committed", actor="worker:w", patient=None, data={"kind": "finalize"})
    assert to_audit_event(item, origin=ORIGIN)["action"] == "U"


def test_an_audit_read_is_a_query_with_the_query_as_base64() -> None:
    """BALP Query: entity role 24 with the query itself."""
    query = {"correlation_id": "corr-1", "patient": PSEUDONYM}
    item = entry("audit.read", actor="auditor:aud-1", data={"what": "events", "query": query})
    resource = to_audit_event(item, origin=ORIGIN)
    query_entity = next(e for e in resource["entity"] if e.get("role", {}).get("code") == "24")
    decoded = json.loads(base64.b64decode(query_entity["query"]))
    assert decoded == {"what": "events", "query": query}


@pytest.mark.parametrize("kind", ["policy.loaded", "key.created", "security.authn_failed"])
def test_non_rest_events_use_dicom_types_and_claim_no_balp_profile(kind: str) -> None:
    """Configuration and security events are not RESTful interactions."""
    item = entry(kind, actor="system:host", patient=None, draft_id=None, request_id=None)
    resource = to_audit_event(item, origin=ORIGIN)
    assert "meta" not in resource
    assert resource["type"]["system"] == "http://dicom.nema.org/resources/ontology/DCM"
    assert resource["action"] == "E"
    assert resource["agent"][0]["requestor"] is True


def test_an_unknown_future_event_type_still_exports() -> None:
    """A type this module does not know becomes an Application Activity, never an error."""
    item = entry("something.new", actor="system:host", patient=None)
    resource = to_audit_event(item, origin=ORIGIN)
    assert resource["type"]["code"] == "110100"


def test_the_extension_points_back_to_origin_seq_and_leaf_hash() -> None:
    """A consumer can read (origin, seq, leaf hash) back and ask for the proof."""
    item = entry("draft.viewed", seq=41)
    resource = to_audit_event(item, origin=ORIGIN)
    pointer = ledger_pointer(resource)
    assert pointer is not None
    assert (pointer.origin, pointer.seq, pointer.leaf_hash) == (ORIGIN, 41, item["leaf_hash"])
    assert resource["extension"][0]["url"] == LEDGER_ENTRY_URL


def test_the_id_is_stable_per_log_and_position() -> None:
    """Same (origin, seq) ⇒ same id (a re-push updates); another log or seq ⇒ another id."""
    first = to_audit_event(entry("draft.viewed", seq=3), origin=ORIGIN)
    again = to_audit_event(entry("draft.viewed", seq=3), origin=ORIGIN)
    assert first["id"] == again["id"] == audit_event_id(ORIGIN, 3)
    assert audit_event_id(ORIGIN, 4) != first["id"]
    assert audit_event_id("chartgate.test/clinic-b", 3) != first["id"]


def test_recorded_is_a_fhir_instant_in_milliseconds() -> None:
    """Microseconds from the ledger are cut to what every FHIR server accepts."""
    resource = to_audit_event(entry("draft.viewed"), origin=ORIGIN)
    assert resource["recorded"] == "2026-11-24T10:00:00.123Z"


def test_every_export_parses_as_an_r4_audit_event() -> None:
    """The fhir.resources R4B model accepts each shape we emit (R4 and R4B agree here)."""
    items = [
        entry("draft.received", actor="scribe:s"),
        entry("draft.approved", data={"amr": ["pwd", "otp"], "version": 2}),
        entry("ehr.response", actor="worker:w", writeback_id="wb", data={"status": 201}),
        entry("audit.read", actor="auditor:a", data={"what": "events", "query": {}}),
        entry("policy.loaded", actor="system:h", patient=None, data={"policy_hash": "sha256:x"}),
    ]
    for item in items:
        AuditEvent.model_validate(to_audit_event(item, origin=ORIGIN))


def test_write_fhir_writes_one_ndjson_line_per_entry() -> None:
    """The ``audit export --format fhir`` hook: NDJSON, one AuditEvent per line."""
    out = io.StringIO()
    count = write_fhir(
        [entry("draft.viewed", seq=0), entry("draft.viewed", seq=1)], origin=ORIGIN, out=out
    )
    lines = out.getvalue().splitlines()
    assert count == len(lines) == 2
    assert [json.loads(line)["resourceType"] for line in lines] == ["AuditEvent"] * 2


@pytest.mark.parametrize(
    ("asked", "subtype", "action"),
    [("read", "read", "R"), ("search", "search-type", "E")],
)
def test_a_refused_context_read_names_the_interaction_that_was_asked(
    asked: str, subtype: str, action: str
) -> None:
    """``context.refused`` is exported as the read or the search the scribe asked for."""
    resource = to_audit_event(
        entry("context.refused", actor="scribe:s", data={"interaction": asked}), origin=ORIGIN
    )
    assert resource["subtype"][0]["code"] == subtype
    assert resource["action"] == action


@pytest.mark.parametrize(
    ("at", "recorded"),
    [
        ("2026-11-24T10:00:00", "2026-11-24T10:00:00.000Z"),
        ("2026-11-24T05:00:00-05:00", "2026-11-24T10:00:00.000Z"),
        ("not a time", "1970-01-01T00:00:00.000Z"),
        (None, "1970-01-01T00:00:00.000Z"),
    ],
    ids=["naive-is-utc", "offset-converted", "unreadable", "absent"],
)
def test_recorded_is_always_a_utc_instant_even_from_an_odd_stored_time(
    at: str | None, recorded: str
) -> None:
    """A naive or offset time becomes UTC; an unreadable one the epoch, never a bad instant."""
    item = entry("draft.viewed")
    item["event"] = {**item["event"], "at": at}
    assert to_audit_event(item, origin=ORIGIN)["recorded"] == recorded


def test_a_traceparent_is_exported_as_its_own_entity() -> None:
    """The W3C traceparent of the request travels as an entity beside the X-Request-Id."""
    item = entry("draft.viewed")
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    item["event"] = {**item["event"], "traceparent": trace}
    resource = to_audit_event(item, origin=ORIGIN)
    values = [e["what"]["identifier"]["value"] for e in resource["entity"] if "what" in e]
    assert trace in values
    assert "req-1" in values


def test_a_pointer_is_read_only_from_a_complete_ledger_extension() -> None:
    """Foreign or broken extensions are skipped; a resource without ours has no pointer."""
    resource = to_audit_event(entry("draft.viewed", seq=5), origin=ORIGIN)
    ours = resource["extension"][0]
    broken = {"url": LEDGER_ENTRY_URL, "extension": [{"url": "seq", "valueInteger": 5}, "junk"]}
    shuffled = {**resource, "extension": ["not a dict", {"url": "other"}, broken, ours]}
    pointer = ledger_pointer(shuffled)
    assert pointer is not None
    assert pointer.seq == 5
    assert ledger_pointer({**resource, "extension": [broken]}) is None
    assert ledger_pointer({"resourceType": "AuditEvent"}) is None
