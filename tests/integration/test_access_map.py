"""The route/role table claims no more than the code enforces.

``domain/access_map.py`` says which roles each route admits; the compliance report and the
data-flow map repeat it. Here every API and ops route is called on a running stack with a
bearer token of each role the table does NOT admit (and with none), against a real draft, and
must be refused; the public routes must answer without a token. The reviewer page (web
surface) admits only clinicians at sign-in (``web/routes.py``), which its own e2e tests cover.
"""

from __future__ import annotations

from typing import Any

from builders import submission
from chartgate.domain.access_map import ROLES, ROUTES, Access
from stack import Stack


def _headers(stack: Stack, role: str) -> dict[str, str]:
    if role == "scribe":
        return stack.as_scribe()
    if role == "clinician":
        return stack.as_clinician()
    if role == "admin":
        return stack.as_admin()
    token = stack.sandbox.idp.mint(
        subject="auditor-test", scopes=["openid", "chartgate/audit.read"], tenant=stack.tenant
    )
    return {"Authorization": f"Bearer {token}"}


def _call(stack: Stack, method: str, path: str, headers: dict[str, str]) -> int:
    extra: dict[str, Any] = {"json": {}} if method in {"POST", "PUT"} else {}
    answer = stack.api.request(method, path, headers={**headers, "If-Match": 'W/"1"'}, **extra)
    return answer.status_code


def test_no_role_outside_the_table_gets_through(sandbox_stack: Stack) -> None:
    """Each API/ops route refuses every role it does not list, and callers with no token."""
    stack = sandbox_stack
    created = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe())
    assert created.status_code == 201, created.text
    ids = {
        "{draft_id}": created.json()["id"],
        "{writeback_id}": "wb-unknown",
        "{switch_id}": "ks-unknown",
        "{endpoint_id}": "wh-unknown",
        "{seq}": "0",
    }
    let_through = []
    for route in ROUTES:
        if route.surface == "web" or route.access is Access.PUBLIC:
            continue
        path = route.path
        for placeholder, value in ids.items():
            path = path.replace(placeholder, value)
        for role in [r for r in ROLES if r not in route.roles]:
            status = _call(stack, route.method, path, _headers(stack, role))
            if status < 400:
                let_through.append((route.method, route.path, role, status))
        assert _call(stack, route.method, path, {}) == 401, (route.method, route.path)
    assert let_through == []


def test_public_routes_answer_without_a_token(sandbox_stack: Stack) -> None:
    """Health, readiness, the ledger keys and the OpenAPI document need no principal."""
    for route in ROUTES:
        if route.access is Access.PUBLIC and route.surface != "web":
            assert stack_get(sandbox_stack, route.path) == 200, route.path


def stack_get(stack: Stack, path: str) -> int:
    """Status of an unauthenticated GET."""
    return stack.api.get(path).status_code
