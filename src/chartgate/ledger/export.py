# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Ledger entries as FHIR R4 AuditEvents following IHE BALP, each pointing back to its proof.

Why this exists: a hospital's SIEM or audit repository speaks FHIR ``AuditEvent``, not our
ledger. Each sealed ledger entry becomes one AuditEvent shaped after the IHE Basic Audit Log
Patterns (https://profiles.ihe.net/ITI/BALP/): ``type`` rest, ``subtype`` the RESTful
interaction, ``action`` C/R/U/D/E, ``outcome`` 0/4/8/12, agents client (DCM 110153), server
(DCM 110152) and, for a person, a user with ``requestor = true``; ``source.type`` Application
Server; an entity ``BasicAuditEntityType|XrequestId`` carrying the ``X-Request-Id``; and, when
the event is about a patient, a patient entity whose identifier is the tenant's keyed HMAC
pseudonym, never the plain reference. Events outside the RESTful interactions (policy loaded,
keys, authentication) use the DICOM event types and claim no BALP profile.

Every AuditEvent carries the extension ``LEDGER_ENTRY_URL`` = (log origin, seq, leaf hash),
so a consumer holding only the AuditEvent can ask for its inclusion proof
(``GET /v1/audit/proof/{seq}``) and check it against a signed checkpoint of that origin.

The AuditEvent id is derived from (origin, seq) (UUID v5), so exporting or pushing the same
entry twice yields the same resource: a sink that receives ``PUT /AuditEvent/{id}`` again
updates instead of duplicating (at-least-once delivery, exactly-once content).

Pure: no IO except writing to the text stream ``write_fhir`` is handed.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from chartgate.domain.fhir_codes import WRITEBACK_SYSTEM, coding, concept
from chartgate.ledger.balp import (
    ACTION,
    ACTOR_SYSTEM,
    APPLICATION_ACTIVITY,
    AUDIT_EVENT_TYPE,
    BALP_ENTITY_TYPE,
    BALP_PROFILE_BASE,
    BY_KIND,
    BY_METHOD,
    BY_TYPE,
    DETAIL_KEYS,
    DICOM,
    DICOM_EVENTS,
    DRAFT_SYSTEM,
    ENTITY_TYPE,
    EVENT_TYPE_SYSTEM,
    HUMAN_ROLES,
    ID_NAMESPACE,
    LEDGER_ENTRY_URL,
    MAX_DETAIL_CHARS,
    OBJECT_ROLE,
    ORIGIN_SYSTEM,
    OUTCOME_BY_TYPE,
    PARTICIPATION_TYPE,
    PROFILE,
    PSEUDONYM_SYSTEM,
    RESTFUL_INTERACTION,
    SOURCE_TYPE,
    Interaction,
    Outcome,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# -- public API ----------------------------------------------------------------------------


def audit_event_id(origin: str, seq: int) -> str:
    """The AuditEvent id of entry ``seq`` of the log ``origin``: stable across exports.

    UUID v5 of ``<origin>#<seq>``: a FHIR id (36 characters of ``[a-f0-9-]``), unique per
    log and position, so a second push of the same entry updates the same resource.
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"{origin}#{seq}"))


@dataclass(frozen=True, slots=True)
class LedgerPointer:
    """What the extension says: which log, which position, which leaf hash."""

    origin: str
    seq: int
    leaf_hash: str


def ledger_pointer(resource: Mapping[str, Any]) -> LedgerPointer | None:
    """Read (origin, seq, leaf hash) back from an AuditEvent made here (None if absent)."""
    for extension in resource.get("extension") or ():
        if not isinstance(extension, dict) or extension.get("url") != LEDGER_ENTRY_URL:
            continue
        parts = {
            item.get("url"): next((v for k, v in item.items() if k.startswith("value")), None)
            for item in extension.get("extension") or ()
            if isinstance(item, dict)
        }
        origin, seq, leaf = parts.get("origin"), parts.get("seq"), parts.get("leafHash")
        if isinstance(origin, str) and isinstance(seq, int) and isinstance(leaf, str):
            return LedgerPointer(origin=origin, seq=seq, leaf_hash=leaf)
    return None


def to_audit_event(entry: Mapping[str, Any], *, origin: str) -> dict[str, Any]:
    """One ledger entry ``{"seq", "leaf_hash", "event"}`` as a FHIR R4 AuditEvent (JSON).

    ``event`` is the sealed event (``StoredEntry.event()``); ``leaf_hash`` its hex leaf hash.
    """
    seq = int(entry["seq"])
    event: Mapping[str, Any] = entry.get("event") or {}
    raw_data = event.get("data")
    data: Mapping[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    kind = str(event.get("type") or "unknown")
    interaction = _interaction(kind, data)
    outcome = _outcome(kind, data)
    role, _, subject = str(event.get("actor") or "unknown:unknown").partition(":")
    patient = event.get("patient") if isinstance(event.get("patient"), str) else None

    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": audit_event_id(origin, seq),
    }
    if interaction is not None:
        variant = ("Patient" if patient else "") + PROFILE[interaction]
        resource["meta"] = {"profile": [f"{BALP_PROFILE_BASE}IHE.BasicAudit.{variant}"]}
    resource["extension"] = [_pointer_extension(origin, seq, entry, event, kind)]
    if interaction is not None:
        resource["type"] = coding(AUDIT_EVENT_TYPE, "rest", "Restful Operation")
        subtypes = [coding(RESTFUL_INTERACTION, interaction.value, interaction.value)]
        resource["action"] = ACTION[interaction]
    else:
        (type_code, type_display), subtype = DICOM_EVENTS.get(kind, APPLICATION_ACTIVITY)
        resource["type"] = coding(DICOM, type_code, type_display)
        subtypes = [coding(DICOM, subtype[0], subtype[1])] if subtype else []
        resource["action"] = "E"
    resource["subtype"] = [*subtypes, coding(EVENT_TYPE_SYSTEM, kind)]
    resource["recorded"] = _instant(event.get("at"))
    resource["outcome"] = outcome.value
    reason = data.get("reason")
    if outcome is not Outcome.SUCCESS and isinstance(reason, str) and reason:
        resource["outcomeDesc"] = reason[:MAX_DETAIL_CHARS]
    resource["agent"] = _agents(role, subject, kind, interaction, origin)
    resource["source"] = {
        "site": origin,
        "observer": {
            "identifier": {"system": ORIGIN_SYSTEM, "value": origin},
            "display": "chartgate",
        },
        "type": [coding(SOURCE_TYPE, "4", "Application Server")],
    }
    entities = _entities(event, data, kind, interaction, patient)
    if entities:
        resource["entity"] = entities
    return resource


def write_fhir(entries: Iterable[Mapping[str, Any]], *, origin: str, out: TextIO) -> int:
    """Write one AuditEvent per entry as NDJSON (FHIR bulk format); return how many.

    The hook ``chartgate audit export --format fhir`` calls (``cli/audit.py``).
    """
    count = 0
    for entry in entries:
        resource = to_audit_event(entry, origin=origin)
        out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


# -- building blocks -----------------------------------------------------------------------


def _interaction(kind: str, data: Mapping[str, Any]) -> Interaction | None:
    if kind in BY_TYPE:
        return BY_TYPE[kind]
    if kind == "context.refused":  # the read or query that was asked for, refused
        return Interaction.READ if data.get("interaction") == "read" else Interaction.SEARCH
    if kind in {"ehr.request", "ehr.response"}:
        return BY_METHOD.get(str(data.get("method") or "").upper(), Interaction.READ)
    if kind.startswith("writeback."):
        return BY_KIND.get(str(data.get("kind") or ""), Interaction.CREATE)
    return None


def _outcome(kind: str, data: Mapping[str, Any]) -> Outcome:
    if kind == "ehr.response":
        status = data.get("status")
        if not isinstance(status, int) or status >= 500:  # noqa: PLR2004 - no answer / 5xx
            return Outcome.SERIOUS
        return Outcome.SUCCESS if status < 400 else Outcome.MINOR  # noqa: PLR2004
    return OUTCOME_BY_TYPE.get(kind, Outcome.SUCCESS)


def _instant(value: object) -> str:
    """A FHIR ``instant`` with milliseconds and ``Z`` (the sealed ``at`` may have micros)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = datetime(1970, 1, 1, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pointer_extension(
    origin: str, seq: int, entry: Mapping[str, Any], event: Mapping[str, Any], kind: str
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"url": "origin", "valueString": origin},
        {"url": "seq", "valueInteger": seq},
        {"url": "leafHash", "valueString": str(entry.get("leaf_hash") or "")},
        {"url": "eventType", "valueString": kind},
    ]
    correlation = event.get("correlation_id")
    if isinstance(correlation, str) and correlation:
        parts.append({"url": "correlationId", "valueString": correlation})
    parts.append({"url": "proof", "valueString": f"/v1/audit/proof/{seq}"})
    return {"url": LEDGER_ENTRY_URL, "extension": parts}


def _who(value: str, display: str | None = None) -> dict[str, Any]:
    who: dict[str, Any] = {"identifier": {"system": ACTOR_SYSTEM, "value": value}}
    if display:
        who["display"] = display
    return who


def _agents(
    role: str, subject: str, kind: str, interaction: Interaction | None, origin: str
) -> list[dict[str, Any]]:
    """Client, server and (for a person) user; the one who asked is the requestor."""
    chartgate = {"identifier": {"system": ORIGIN_SYSTEM, "value": origin}, "display": "chartgate"}
    client_type = concept(DICOM, "110153", "Source Role ID")
    server_type = concept(DICOM, "110152", "Destination Role ID")
    if role == "worker":
        # chartgate's worker is the client and the tenant's EHR the server.
        ehr = kind.startswith(("ehr.", "writeback."))
        return [
            {
                "type": client_type,
                "who": _who(f"worker:{subject}", "chartgate worker"),
                "requestor": True,
            },
            {
                "type": server_type,
                "who": {"display": "tenant EHR"} if ehr else chartgate,
                "requestor": False,
            },
        ]
    if role in {"system", "unknown"} or (
        interaction is None and role not in HUMAN_ROLES | {"scribe"}
    ):
        return [
            {"type": concept(DICOM, "110150", "Application"), "who": chartgate, "requestor": True}
        ]
    agents: list[dict[str, Any]] = []
    human = role in HUMAN_ROLES
    agents.append(
        {
            "type": client_type,
            "who": _who(f"{role}:{subject}", f"{role} application"),
            "requestor": not human,
        }
    )
    agents.append({"type": server_type, "who": chartgate, "requestor": False})
    if human:
        reads = interaction in {Interaction.READ, Interaction.SEARCH, None}
        code, display = ("IRCP", "information recipient") if reads else ("AUT", "author")
        agents.append(
            {
                "type": concept(PARTICIPATION_TYPE, code, display),
                "who": _who(f"{role}:{subject}"),
                "requestor": True,
            }
        )
    return agents


def _entities(
    event: Mapping[str, Any],
    data: Mapping[str, Any],
    kind: str,
    interaction: Interaction | None,
    patient: str | None,
) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    request_id = event.get("request_id")
    if not request_id and kind.startswith("ehr."):
        request_id = event.get("correlation_id")  # the X-Request-Id sent to the EHR
    if isinstance(request_id, str) and request_id:
        entities.append(
            {
                "what": {"identifier": {"value": request_id}},
                "type": coding(BALP_ENTITY_TYPE, "XrequestId", "X-Request-Id"),
            }
        )
    if isinstance(event.get("traceparent"), str):  # BALP's proposed code, as CH EPR uses it
        entities.append(
            {
                "what": {"identifier": {"value": event["traceparent"]}},
                "type": coding(BALP_ENTITY_TYPE, "Traceparent", "W3C traceparent"),
            }
        )
    if interaction is Interaction.SEARCH:
        query = data.get("query") if isinstance(data.get("query"), dict) else {}
        raw = json.dumps(
            {"what": data.get("what"), "query": query}, sort_keys=True, separators=(",", ":")
        )
        entities.append(
            {
                "type": coding(ENTITY_TYPE, "2", "System Object"),
                "role": coding(OBJECT_ROLE, "24", "Query"),
                "query": base64.b64encode(raw.encode()).decode(),
            }
        )
    what = _data_what(event, data, kind)
    if what is not None:
        item: dict[str, Any] = {
            "what": what,
            "type": coding(ENTITY_TYPE, "2", "System Object"),
            "role": coding(OBJECT_ROLE, "4", "Domain Resource"),
        }
        details = _details(data)
        if details:
            item["detail"] = details
        entities.append(item)
    if patient:
        entities.append(
            {
                "what": {
                    "type": "Patient",
                    "identifier": {"system": PSEUDONYM_SYSTEM, "value": patient},
                },
                "type": coding(ENTITY_TYPE, "1", "Person"),
                "role": coding(OBJECT_ROLE, "1", "Patient"),
            }
        )
    return entities


def _data_what(
    event: Mapping[str, Any], data: Mapping[str, Any], kind: str
) -> dict[str, Any] | None:
    """The object acted on: the EHR document (by our business identifier) or the draft."""
    writeback_id = event.get("writeback_id")
    if kind.startswith(("ehr.", "writeback.")) and isinstance(writeback_id, str) and writeback_id:
        resource_type = data.get("resource_type")
        what: dict[str, Any] = {
            "type": resource_type if isinstance(resource_type, str) else "DocumentReference",
            "identifier": {"system": WRITEBACK_SYSTEM, "value": writeback_id},
        }
        return what
    draft_id = event.get("draft_id")
    if isinstance(draft_id, str) and draft_id:
        return {"identifier": {"system": DRAFT_SYSTEM, "value": draft_id}}
    return None


def _details(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    details = []
    for key in DETAIL_KEYS:
        value = data.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = " ".join(value)
        if isinstance(value, bool) or value is None or not isinstance(value, str | int):
            continue
        text = str(value)[:MAX_DETAIL_CHARS]
        if text:
            details.append({"type": key, "valueString": text})
    return details
