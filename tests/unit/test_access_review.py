"""The periodic access review (service/access_review.py) from ledger entries, and its sign-off.

``chartgate access review`` runs in a process of its own in the integration tests, so the rules
are checked here: what each actor used against what its role admits, dormant grants and scribe
clients, the administrative actions, the period's bounds, and a sign-off fixed by a digest.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from chartgate.ledger.seal import seal
from chartgate.service.access_review import GrantFacts, SignOffs, digest, review, role_admits
from chartgate.service.audit import StoredEntry
from fakes import FakeClock, FakeIds

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


def _entry(seq: int, kind: str, actor: str, at: datetime, **data: Any) -> StoredEntry:
    sealed = seal(
        {"type": kind, "tenant": "clinic-a", "actor": actor, "data": data},
        tenant="clinic-a",
        seq=seq,
    )
    return StoredEntry(
        tenant="clinic-a",
        seq=seq,
        canonical=sealed.canonical,
        leaf_hash=sealed.leaf_hash,
        type=kind,
        correlation_id=f"corr-{seq}",
        actor=actor,
        at=at,
    )


IN_PERIOD = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
GRANT = GrantFacts(fhir_user="Practitioner/dr-used", encounters=2, patients=1, expires_at=END)
IDLE_GRANT = GrantFacts(fhir_user="Practitioner/dr-idle", encounters=1, patients=1, expires_at=None)


def _review() -> dict[str, Any]:
    entries = [
        _entry(0, "draft.received", "scribe:scribe-app", IN_PERIOD),
        _entry(
            1,
            "draft.viewed",
            "clinician:dr-a",
            IN_PERIOD,
            binding="grant",
            fhir_user=GRANT.fhir_user,
        ),
        _entry(2, "draft.approved", "clinician:dr-a", IN_PERIOD),
        _entry(3, "killswitch.engaged", "operator:ops", IN_PERIOD),
        _entry(4, "draft.viewed", "clinician:dr-late", END),  # the end is excluded
        _entry(5, "draft.viewed", "clinician:dr-early", datetime(2026, 9, 30, tzinfo=UTC)),
        _entry(6, "ehr.request", "worker:w1", IN_PERIOD),  # an event that shows no access kind
    ]
    return review(
        "clinic-a",
        entries,
        start=START,
        end=END,
        grants=[GRANT, IDLE_GRANT],
        scribe_clients=["scribe-app", "scribe-unused"],
    )


def test_each_actor_is_listed_with_what_it_used_and_what_its_role_admits_but_it_did_not() -> None:
    """A clinician who read and approved: those are used, the rest of its role's kinds unused."""
    principals = {p["actor"]: p for p in _review()["principals"]}
    assert sorted(principals) == [
        "clinician:dr-a",
        "operator:ops",
        "scribe:scribe-app",
        "worker:w1",
    ]
    doctor = principals["clinician:dr-a"]
    assert (doctor["role"], doctor["events"], doctor["used"]) == (
        "clinician",
        2,
        ["approve", "read"],
    )
    assert doctor["admitted"] == sorted(role_admits("clinician"))
    assert set(doctor["unused"]) == role_admits("clinician") - {"approve", "read"}
    assert principals["worker:w1"]["used"] == []


def test_entries_outside_the_period_are_not_reviewed() -> None:
    """``start <= at < end``: the day before and the end instant itself are left out."""
    actors = {p["actor"] for p in _review()["principals"]}
    assert "clinician:dr-late" not in actors
    assert "clinician:dr-early" not in actors


def test_unused_grants_and_scribe_clients_are_dormant() -> None:
    """A grant nobody read through, and a scribe client never seen, are removal candidates."""
    data = _review()
    assert [(g["fhir_user"], g["dormant"]) for g in data["grants"]] == [
        ("Practitioner/dr-used", False),
        ("Practitioner/dr-idle", True),
    ]
    assert data["grants"][0]["expires_at"] == END.isoformat()
    assert data["grants"][1]["expires_at"] is None
    assert data["scribe_clients"] == [
        {"client_id": "scribe-app", "dormant": False},
        {"client_id": "scribe-unused", "dormant": True},
    ]


def test_administrative_actions_are_listed_with_seq_time_and_actor() -> None:
    """Kill switches (and key, policy, retention, webhook events) appear for the reviewer."""
    assert _review()["admin_actions"] == [
        {
            "seq": 3,
            "at": IN_PERIOD.isoformat(),
            "type": "killswitch.engaged",
            "actor": "operator:ops",
        }
    ]


class _Ledger:
    """A ledger unit that keeps what is appended (a sign-off is one append)."""

    def __init__(self) -> None:
        self.appended: list[Any] = []
        self.ledger = self

    def append(self, record: Any) -> int:
        self.appended.append(record)
        return 40 + len(self.appended)

    @contextmanager
    def __call__(self, *, read_only: bool = False):
        del read_only
        yield self


def test_a_sign_off_certifies_the_exact_review_by_its_digest() -> None:
    """The ledger event names the reviewer, the period and the SHA-256 of the review's JSON."""
    data = _review()
    ledger = _Ledger()
    seq = SignOffs(ledger=ledger, clock=FakeClock(END), ids=FakeIds("review")).sign(
        data, reviewer="privacy-officer"
    )
    assert seq == 41
    [record] = ledger.appended
    assert (record.type.value, record.tenant, record.actor) == (
        "compliance.access_review_signed",
        "clinic-a",
        "reviewer:privacy-officer",
    )
    assert record.data == {
        "period": f"{START.isoformat()}/{END.isoformat()}",
        "content_hash": digest(data),
        "principals": 4,
        "dormant_grants": 1,
    }
    changed = {**data, "grants": data["grants"][:1]}
    assert digest(changed) != digest(data)
    assert digest(dict(reversed(list(data.items())))) == digest(data)  # key order is not content
