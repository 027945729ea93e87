"""The periodic access review: who used what, against what they were granted.

HIPAA asks that information system activity and access be reviewed regularly
(45 CFR 164.308(a)(1)(ii)(D), (a)(4)); the seed asks for a quarterly certification. This
module turns one tenant's ledger entries of a period into the list a reviewer signs:

* principals and clients seen (``role:subject`` actors), each with the kinds of access they
  used and the kinds their role admits but they did not use (candidates for narrowing);
* care-team grants and scribe clients from the configuration, and which were never used in
  the period (dormant: candidates for removal);
* administrative actions (kill switches, webhooks, key and policy events, retention,
  earlier sign-offs).

The sign-off is a ``compliance.access_review_signed`` ledger event naming the reviewer, the
period and the SHA-256 of the review it certifies, so the certified content is fixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chartgate.domain.access_map import ROUTES, Access
from chartgate.domain.events import AuditRecord, EventType
from chartgate.service.audit import LedgerUnitFactory, StoredEntry
from chartgate.service.ports import Clock, IdSource

# Ledger event type -> the kind of access it shows was used.
_USED: dict[str, Access] = {
    "draft.received": Access.SUBMIT,
    "draft.viewed": Access.READ,
    "draft.validated": Access.READ,
    "worklist.read": Access.READ,
    "writeback.viewed": Access.READ,
    "draft.version_saved": Access.WRITE,
    "draft.rebased": Access.WRITE,
    "writeback.resolved": Access.WRITE,
    "draft.approved": Access.APPROVE,
    "draft.finalize_approved": Access.APPROVE,
    "draft.amend_approved": Access.APPROVE,
    "draft.discarded": Access.DELETE,
    "draft.retract_approved": Access.DELETE,
    "audit.read": Access.INVESTIGATE,
    "impact.read": Access.INVESTIGATE,
    "killswitch.engaged": Access.ADMINISTER,
    "killswitch.released": Access.ADMINISTER,
    "webhook.registered": Access.ADMINISTER,
    "webhook.disabled": Access.ADMINISTER,
}
ADMIN_EVENTS = frozenset(
    {
        "killswitch.engaged",
        "killswitch.released",
        "webhook.registered",
        "webhook.disabled",
        "key.created",
        "key.destroyed",
        "policy.loaded",
        "retention.deleted",
        "retention.archived",
        "processor.disclosure_refused",
        "compliance.access_review_signed",
    }
)


@dataclass(frozen=True, slots=True)
class GrantFacts:
    """A configured care-team grant, as the review shows it (no patient references)."""

    fhir_user: str
    encounters: int
    patients: int
    expires_at: datetime | None


def role_admits(role: str) -> set[str]:
    """The access kinds the route/role table admits for ``role``."""
    return {r.access.value for r in ROUTES if role in r.roles}


def review(
    tenant: str,
    entries: Iterable[StoredEntry],
    *,
    start: datetime,
    end: datetime,
    grants: list[GrantFacts],
    scribe_clients: list[str],
) -> dict[str, Any]:
    """The review of ``tenant`` for ``start <= at < end`` as JSON-ready data."""
    used: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    admin: list[dict[str, Any]] = []
    grant_users: set[str] = set()
    for entry in entries:
        if not start <= entry.at < end:
            continue
        actor = entry.actor
        counts[actor] = counts.get(actor, 0) + 1
        kind = _USED.get(entry.type)
        used.setdefault(actor, set())
        if kind is not None:
            used[actor].add(kind.value)
        data = entry.event().get("data") or {}
        if isinstance(data, dict) and data.get("binding") == "grant":
            grant_users.add(str(data.get("fhir_user")))
        if entry.type in ADMIN_EVENTS:
            admin.append(
                {"seq": entry.seq, "at": entry.at.isoformat(), "type": entry.type, "actor": actor}
            )
    principals = []
    for actor in sorted(used):
        role = actor.split(":", 1)[0]
        admitted = role_admits(role)
        principals.append(
            {
                "actor": actor,
                "role": role,
                "events": counts[actor],
                "used": sorted(used[actor]),
                "admitted": sorted(admitted),
                "unused": sorted(admitted - used[actor]),
            }
        )
    seen_subjects = {a.split(":", 1)[1] for a in used if ":" in a}
    return {
        "tenant": tenant,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "principals": principals,
        "grants": [
            {
                "fhir_user": g.fhir_user,
                "encounters": g.encounters,
                "patients": g.patients,
                "expires_at": g.expires_at.isoformat() if g.expires_at else None,
                "dormant": g.fhir_user not in grant_users,
            }
            for g in grants
        ],
        "scribe_clients": [
            {"client_id": c, "dormant": c not in seen_subjects} for c in scribe_clients
        ],
        "admin_actions": admin,
    }


def digest(review_data: dict[str, Any]) -> str:
    """SHA-256 of the review's canonical JSON: what a sign-off certifies."""
    canonical = json.dumps(review_data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


class SignOffs:
    """Records reviewer sign-offs in the ledger."""

    def __init__(self, *, ledger: LedgerUnitFactory, clock: Clock, ids: IdSource) -> None:
        self._ledger = ledger
        self._clock = clock
        self._ids = ids

    def sign(self, review_data: dict[str, Any], *, reviewer: str) -> int:
        """Append ``compliance.access_review_signed`` to the tenant's ledger; its seq."""
        with self._ledger() as unit:
            return unit.ledger.append(
                AuditRecord(
                    type=EventType.ACCESS_REVIEW_SIGNED,
                    tenant=review_data["tenant"],
                    at=self._clock.now(),
                    correlation_id=self._ids.new_id(),
                    actor=f"reviewer:{reviewer}",
                    data={
                        "period": f"{review_data['from']}/{review_data['to']}",
                        "content_hash": digest(review_data),
                        "principals": len(review_data["principals"]),
                        "dormant_grants": sum(g["dormant"] for g in review_data["grants"]),
                    },
                )
            )
