"""Auditor endpoints over the ledger, and the published checkpoint key.

``/v1/audit/*`` needs the auditor role and every call is itself a ledger event
(``audit.read``). Hashes are lowercase hex; checkpoints are the C2SP signed notes exactly as
signed, so ``chartgate.ledger.checkpoint.open_checkpoint`` (or Go's ``note.Open``) verifies
them against the key published at ``/.well-known/chartgate-ledger-keys``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from chartgate.api.deps import AppDep, MetaDep, PrincipalDep
from chartgate.domain.errors import InputError
from chartgate.service.audit import EventQuery, StoredCheckpoint, entry_json

router = APIRouter(tags=["audit"])


MAX_SEQ = 2**53 - 1
"""Ledger positions are JSON integers (RFC 8785 / I-JSON): nothing above 2^53 - 1 exists."""
TEXT = r"^[^\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]*$"
"""A filter's text: no control characters (NUL included) and no bidi overrides."""
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
"""An RFC 3339 date-time, offset required (``2026-12-01T09:30:00Z``)."""
MOMENT = Query(pattern=RFC3339, json_schema_extra={"format": "date-time"})


def _utc(moment: str | None, name: str) -> datetime | None:
    """The RFC 3339 moment in UTC; one that is no date or that UTC cannot hold is a 422."""
    if moment is None:
        return None
    try:
        return datetime.fromisoformat(moment).astimezone(UTC)
    except ValueError:
        raise InputError(f"{name} is not an RFC 3339 date-time", expression=name) from None
    except OverflowError:
        raise InputError(f"{name} is outside the years UTC can express", expression=name) from None


def _checkpoint_json(app: AppDep, checkpoint: StoredCheckpoint) -> dict[str, Any]:
    return {
        "origin": app.ledger.audit.origin(checkpoint.tenant),
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "signed_at": checkpoint.signed_at.isoformat(),
        "note": checkpoint.note,
        "vkey": app.ledger.audit.verifier.vkey,
    }


@router.get("/v1/audit/events")
def audit_events(
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    correlation_id: Annotated[str | None, Query(max_length=64, pattern=TEXT)] = None,
    patient: Annotated[
        str | None,
        Query(max_length=300, pattern=TEXT, description="A patient reference or its HMAC"),
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=200, pattern=TEXT, description="e.g. clinician:<sub>")
    ] = None,
    event_type: Annotated[str | None, Query(alias="type", max_length=60, pattern=TEXT)] = None,
    since: Annotated[str | None, MOMENT] = None,
    until: Annotated[str | None, MOMENT] = None,
    after_seq: Annotated[int, Query(ge=-1, le=MAX_SEQ)] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Auditor: events of your tenant by correlation id, patient, clinician and time window.

    ``patient`` takes a reference (``Patient/123``) or its ``hmac-sha256:`` pseudonym; the
    read is recorded with the pseudonym only. Page on with ``after_seq`` = ``next_after_seq``.
    """
    query = EventQuery(
        correlation_id=correlation_id,
        patient=patient,
        actor=actor,
        type=event_type,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
        after_seq=after_seq,
        limit=limit,
    )
    found = app.ledger.audit.events(principal, query, request_id=meta.request_id)
    return JSONResponse(
        {
            "origin": app.ledger.audit.origin(principal.tenant),
            "events": [entry_json(entry) for entry in found],
            "next_after_seq": found[-1].seq if len(found) == limit else None,
        }
    )


@router.get("/v1/audit/checkpoint")
def audit_checkpoint(app: AppDep, principal: PrincipalDep, meta: MetaDep) -> JSONResponse:
    """Auditor: the newest signed checkpoint of your tenant's log."""
    checkpoint = app.ledger.audit.latest_checkpoint(principal, request_id=meta.request_id)
    return JSONResponse(_checkpoint_json(app, checkpoint))


@router.get("/v1/audit/proof")
def audit_consistency(
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    old_size: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ)],
    new_size: Annotated[int, Query(alias="to", ge=1, le=MAX_SEQ)],
) -> JSONResponse:
    """Auditor: RFC 9162 consistency proof between two signed checkpoints (``?from=&to=``)."""
    answer = app.ledger.audit.consistency(principal, old_size, new_size, request_id=meta.request_id)
    return JSONResponse(
        {
            "from": _checkpoint_json(app, answer.old),
            "to": _checkpoint_json(app, answer.new),
            "proof": [node.hex() for node in answer.proof],
        }
    )


@router.get("/v1/audit/proof/{seq}")
def audit_inclusion(
    seq: Annotated[int, Path(ge=0, le=MAX_SEQ)],
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    size: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
) -> JSONResponse:
    """Auditor: inclusion proof of entry ``seq`` in the newest checkpoint (or ``?size=``)."""
    answer = app.ledger.audit.inclusion(principal, seq, size=size, request_id=meta.request_id)
    entry = answer.entry
    return JSONResponse(
        {
            "seq": entry.seq,
            "leaf_hash": (entry.leaf_hash or b"").hex(),
            "canonical": base64.b64encode(entry.canonical or b"").decode(),
            "tree_size": answer.checkpoint.size,
            "proof": [node.hex() for node in answer.proof],
            "checkpoint": _checkpoint_json(app, answer.checkpoint),
        }
    )


@router.get("/.well-known/chartgate-ledger-keys")
def ledger_keys(app: AppDep) -> JSONResponse:
    """The checkpoint verifier key(s) to pin, and how each tenant's origin is spelled."""
    return JSONResponse(app.ledger.audit.published_keys())
