"""Tenant isolation in depth: another tenant's ids answer exactly like missing ones.

The tenant comes only from the verified token; every repository query names it; ids are
UUIDv4; a clinician of tenant A reading, diffing, editing, approving, discarding or
finalizing a tenant-B draft (by its real id or by guessing) gets the same 404 body as for
an id that never existed, and nothing changes anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event

from builders import submission
from chartgate.adapters.storage import tables
from security.conftest import TENANT_A, TENANT_B, TwoTenants, random_id, refused

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

Request = Callable[[TwoTenants, str, dict[str, str]], httpx.Response]

EDIT = {"note": submission()["note"], "resources": []}

VERBS: dict[str, Request] = {
    "read": lambda s, i, h: s.api.get(f"/v1/drafts/{i}", headers=h),
    "diff": lambda s, i, h: s.api.get(f"/v1/drafts/{i}/diff", headers=h),
    "edit": lambda s, i, h: s.api.put(
        f"/v1/drafts/{i}", json=EDIT, headers={**h, "If-Match": 'W/"1"'}
    ),
    "approve": lambda s, i, h: s.api.post(
        f"/v1/drafts/{i}/approve", headers={**h, "If-Match": 'W/"1"'}
    ),
    "discard": lambda s, i, h: s.api.post(f"/v1/drafts/{i}/discard", headers=h),
    "finalize": lambda s, i, h: s.api.post(f"/v1/drafts/{i}/finalize", headers=h),
    "rebase": lambda s, i, h: s.api.post(
        f"/v1/drafts/{i}/rebase", json={"baseline": {"DocumentReference/doc-9": "3"}}, headers=h
    ),
    "amend": lambda s, i, h: s.api.post(
        f"/v1/writebacks/{i}/amend", json=EDIT, headers={**h, "If-Match": 'W/"1"'}
    ),
    "retract": lambda s, i, h: s.api.post(
        f"/v1/writebacks/{i}/retract", json={"reason": "clinical-error"}, headers=h
    ),
}
ON_WRITEBACKS = {"amend", "retract"}


def other_tenant_target(stack: TwoTenants, verb: str, attacker: str) -> str:
    """The victim's object the verb needs.

    Its write-back for amend/retract, its committed draft for finalize, else its draft in review.
    """
    d = stack.drafts
    if verb in ON_WRITEBACKS:
        return d.b_writeback if attacker == TENANT_A else d.a_writeback
    if verb == "finalize":
        return d.b_committed if attacker == TENANT_A else d.a_committed
    return d.b if attacker == TENANT_A else d.a


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("attacker", [TENANT_A, TENANT_B])
@pytest.mark.parametrize("verb", sorted(VERBS))
def test_another_tenants_draft_answers_404_like_a_missing_one(
    two_tenants: TwoTenants, verb: str, attacker: str
) -> None:
    """A's clinician on B's draft (and B's on A's) gets the body a random id gets."""
    headers = two_tenants.bearer(two_tenants.clinician_token(attacker))
    victim = other_tenant_target(two_tenants, verb, attacker)
    cross = refused(VERBS[verb](two_tenants, victim, headers), 404)
    missing = refused(VERBS[verb](two_tenants, random_id(), headers), 404)
    assert cross == missing


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("verb", sorted(VERBS))
def test_guessed_ids_answer_404(two_tenants: TwoTenants, verb: str) -> None:
    """Guessing ids (fresh UUIDs, small numbers, path tricks) finds nothing."""
    headers = two_tenants.bearer(two_tenants.clinician_token(TENANT_A))
    for guess in (random_id(), "1", "00000000-0000-0000-0000-000000000000", "%2e%2e"):
        refused(VERBS[verb](two_tenants, guess, headers), 404)


@pytest.mark.usefixtures("unchanged")
def test_another_tenants_writeback_answers_404(two_tenants: TwoTenants) -> None:
    """Write-back status of tenant B is invisible to tenant A (same body as a missing id)."""
    headers = two_tenants.bearer(two_tenants.clinician_token(TENANT_A))
    cross = refused(
        two_tenants.api.get(f"/v1/writebacks/{two_tenants.drafts.b_writeback}", headers=headers),
        404,
    )
    missing = refused(two_tenants.api.get(f"/v1/writebacks/{random_id()}", headers=headers), 404)
    assert cross == missing


@pytest.mark.usefixtures("unchanged")
def test_the_tenant_cannot_be_chosen_in_the_body(two_tenants: TwoTenants) -> None:
    """A submission naming a tenant is refused (unknown field), nothing is stored."""
    answer = two_tenants.api.post(
        "/v1/drafts",
        json=submission(tenant=TENANT_B),
        headers=two_tenants.bearer(two_tenants.scribe_token(TENANT_A)),
    )
    refused(answer, 422)


@pytest.mark.usefixtures("unchanged")
def test_another_tenants_idempotency_key_replays_nothing(two_tenants: TwoTenants) -> None:
    """B's clinician reusing the key of A's approval gets a plain 404, not A's answer."""
    headers = two_tenants.bearer(two_tenants.clinician_token(TENANT_B))
    answer = two_tenants.api.post(
        f"/v1/drafts/{two_tenants.drafts.a}/approve",
        headers={**headers, "If-Match": 'W/"1"', "Idempotency-Key": "approve-a-1"},
    )
    refused(answer, 404)
    assert "Idempotent-Replayed" not in answer.headers


def test_the_tenant_comes_from_the_token_not_the_url_or_headers(two_tenants: TwoTenants) -> None:
    """A scribe of A naming tenant B in the query and a header still submits into A."""
    answer = two_tenants.api.post(
        "/v1/drafts",
        params={"tenant": TENANT_B},
        json=submission(),
        headers={**two_tenants.bearer(two_tenants.scribe_token(TENANT_A)), "X-Tenant": TENANT_B},
    )
    assert answer.status_code == 201, answer.text
    draft_id = answer.json()["id"]
    with two_tenants.app.engine.connect() as conn:
        rows = (
            conn.execute(tables.drafts.select().where(tables.drafts.c.id == draft_id))
            .mappings()
            .all()
        )
    assert [row["tenant"] for row in rows] == [TENANT_A]


def test_ids_are_uuid4(two_tenants: TwoTenants) -> None:
    """Draft, write-back and correlation ids are random UUIDv4 (unguessable)."""
    with two_tenants.app.engine.connect() as conn:
        drafts = conn.execute(tables.drafts.select()).mappings().all()
        writebacks = conn.execute(tables.writebacks.select()).mappings().all()
        approvals = conn.execute(tables.approvals.select()).mappings().all()
    ids = [d["id"] for d in drafts] + [d["correlation_id"] for d in drafts]
    ids += [w["id"] for w in writebacks] + [a["id"] for a in approvals]
    assert ids
    assert all(UUID4.fullmatch(i) for i in ids), ids


TENANT_TABLES = {
    t.name
    for t in (
        tables.drafts,
        tables.draft_versions,
        tables.approvals,
        tables.writebacks,
        tables.audit_events,
        tables.idempotency_keys,
        tables.ledger_heads,
        tables.tenant_keys,
    )
}


@contextmanager
def captured_sql(stack: TwoTenants) -> Iterator[list[str]]:
    statements: list[str] = []

    def capture(_conn, _cursor, statement, _params, _context, _many) -> None:
        statements.append(statement)

    event.listen(stack.app.engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(stack.app.engine, "before_cursor_execute", capture)


def test_every_query_on_tenant_data_names_the_tenant(two_tenants: TwoTenants) -> None:
    """Every SELECT, UPDATE and DELETE on a tenant table in a whole story filters by tenant.

    The story: submit, view, edit, approve, worker, status. The one exception is the worker's
    scan for due write-backs, which returns (tenant, id) pairs that are then claimed by tenant.
    """
    with captured_sql(two_tenants) as statements:
        draft = two_tenants.submit(TENANT_A)
        clinician = two_tenants.bearer(two_tenants.clinician_token(TENANT_A))
        two_tenants.api.get(f"/v1/drafts/{draft['id']}", headers=clinician)
        edited = two_tenants.api.put(
            f"/v1/drafts/{draft['id']}", json=EDIT, headers={**clinician, "If-Match": 'W/"1"'}
        )
        assert edited.status_code == 200, edited.text
        approved = two_tenants.approve(draft["id"], two_tenants.clinician_token(TENANT_A), 2)
        assert approved.status_code == 202, approved.text
        two_tenants.work()
        two_tenants.api.get(
            f"/v1/writebacks/{approved.json()['writeback']['id']}", headers=clinician
        )
    checked = 0
    for statement in statements:
        sql = " ".join(statement.split()).lower()
        verb = sql.split(" ", 1)[0]
        if verb not in {"select", "update", "delete"}:
            continue
        touched = {name for name in TENANT_TABLES if re.search(rf"\b{name}\b", sql)}
        if not touched:
            continue
        checked += 1
        if "next_attempt_at <=" in sql and "lease_until <" in sql:
            continue  # the worker's due scan, across tenants by design
        where = sql.split(" where ", 1)
        assert len(where) == 2, statement
        assert "tenant" in where[1], statement
    assert checked > 10
