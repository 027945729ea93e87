"""Webhooks on SQLite and PostgreSQL: signed, in order, at least once, across a restart.

A receiver on loopback fails the first deliveries with 503; chartgate retries with backoff,
then delivers every event in order with the same ids; a fresh chartgate on the same store
(a restart of every process) delivers nothing twice and goes on with new events. Every body
is checked with the verification snippet published in docs/webhooks.md. Synthetic data only.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from builders import submission
from chartgate.adapters.storage import tables as t
from chartgate.bootstrap import build
from chartgate.domain.killswitch import SwitchSpec
from chartgate.threaded_server import ThreadedServer
from stack import Stack, running_stack

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = b"whsec_c3ludGhldGljLXdlYmhvb2stc2VjcmV0LWZvci10ZXN0cw=="
FAIL_FIRST = 2


def published_verifier() -> Callable[..., bool]:
    """The ``verify`` function exactly as docs/webhooks.md publishes it."""
    code = re.search(r"<!-- verifier -->\s*```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 - our own docs
    verify: Callable[..., bool] = namespace["verify"]
    return verify


class Receiver:
    """A scribe vendor's endpoint: fails the first ``fail_first`` requests, records all."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Record the request; answer 503 while failing, then 204."""
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            status = 503 if self.fail_first > 0 else 204
            self.fail_first -= 1
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.received.append((headers, body, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def accepted(self) -> list[dict[str, Any]]:
        """The bodies answered 2xx, in order."""
        return [json.loads(body) for _, body, status in self.received if status < 300]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """The receiver on loopback and its URL."""
    app = Receiver(FAIL_FIRST)
    with ThreadedServer(app) as server:
        yield app, f"{server.base_url}/hooks"


@pytest.fixture
def stack(migrated_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Chartgate on both stores with one webhook secret named ``vendor``."""
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_bytes(SECRET)
    secret_file.chmod(0o600)
    with running_stack(
        migrated_database_url, tmp_path, webhook_secrets={"vendor": f"secret:file:{secret_file}"}
    ) as running:
        yield running


def as_admin(stack: Stack) -> dict[str, str]:
    """Authorization header of the tenant's admin."""
    token = stack.sandbox.idp.mint(
        subject="admin-test", scopes=["openid", "chartgate/admin"], tenant=stack.tenant
    )
    return {"Authorization": f"Bearer {token}"}


def register(stack: Stack, url: str, **body: Any) -> Any:
    """An admin registers an endpoint."""
    return stack.api.post(
        "/v1/admin/webhooks", json={"url": url, "secret": "vendor", **body}, headers=as_admin(stack)
    )


def commit_one(stack: Stack) -> tuple[str, str]:
    """A note approved and written; (draft id, write-back id)."""
    draft = stack.api.post("/v1/drafts", json=submission(), headers=stack.as_scribe()).json()
    approved = stack.api.post(
        f"/v1/drafts/{draft['id']}/approve",
        headers={**stack.as_clinician(), "If-Match": 'W/"1"'},
    ).json()
    stack.work()
    return draft["id"], approved["writeback"]["id"]


def make_due(stack: Stack) -> None:
    """Move every endpoint's next attempt into the past instead of sleeping through backoff."""
    with stack.app.engine.begin() as conn:
        conn.execute(
            update(t.webhook_endpoints).values(
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )


def test_registration_is_admin_only_with_a_named_secret_and_a_safe_url(stack: Stack) -> None:
    """Clinicians get 403; an unknown secret, plain-http, unregistered URL or event is 422."""
    url = "https://scribe.example/hooks"
    answer = stack.api.post(
        "/v1/admin/webhooks", json={"url": url, "secret": "vendor"}, headers=stack.as_clinician()
    )
    assert answer.status_code == 403
    assert register(stack, url, secret="nope").status_code == 422
    assert register(stack, "http://scribe.example/hooks").status_code == 422
    unlisted = register(stack, "https://unlisted.example/hooks")
    assert unlisted.status_code == 422
    assert "not a registered processor" in unlisted.text
    assert register(stack, url, events=["draft.deleted"]).status_code == 422
    created = register(stack, url)
    assert created.status_code == 200, created.text
    assert "whsec" not in created.text  # the secret's name only, never its value
    listed = stack.api.get("/v1/admin/webhooks", headers=as_admin(stack)).json()
    assert [w["id"] for w in listed["webhooks"]] == [created.json()["webhook"]["id"]]


def test_deliveries_retry_sign_survive_a_restart_and_carry_no_phi(
    stack: Stack, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    """A failing receiver gets each event again until it accepts; a restart resends nothing."""
    app, url = receiver
    endpoint = register(stack, url).json()["webhook"]
    draft_id, writeback_id = commit_one(stack)
    pusher = stack.app.webhook_pusher
    for _ in range(FAIL_FIRST):
        assert pusher.push().failed == 1
        assert pusher.push().delivered == 0  # not due yet: backoff
        make_due(stack)
    assert pusher.push().delivered == 2
    accepted = app.accepted()
    assert [(e["type"], e["data"]["draft_id"]) for e in accepted] == [
        ("draft.approved", draft_id),
        ("writeback.committed", draft_id),
    ]
    assert accepted[1]["data"]["writeback_id"] == writeback_id
    assert accepted[1]["data"]["ehr_resource"].startswith("DocumentReference/")
    first_ids = {h["webhook-id"] for h, _, _ in app.received[: FAIL_FIRST + 1]}
    assert len(first_ids) == 1  # retries carry the same event id

    verify = published_verifier()
    assert all(verify(SECRET, h, body) for h, body, _ in app.received)
    assert not verify(b"another-secret", *app.received[-1][:2])
    for _, body, _ in app.received:
        assert b"Patient/" not in body
        assert b"Encounter/" not in body
        assert b"Practitioner/" not in body

    log = stack.api.get(
        f"/v1/admin/webhooks/{endpoint['id']}/deliveries", headers=as_admin(stack)
    ).json()["deliveries"]
    assert sorted(d["status"] for d in log) == [204, 204, 503, 503]

    # A restart of every process: a fresh chartgate on the same store and settings.
    settings = stack.app.settings
    again = build(settings)
    try:
        assert again.webhook_pusher.push().delivered == 0  # nothing twice
        spec = SwitchSpec.parse(
            tenant=stack.tenant, scope="tenant", value=None, mode="stop-drafting", reason="x"
        )
        again.killswitches.engage(spec, actor="operator:test")
        assert again.webhook_pusher.push().delivered == 1
    finally:
        again.close()
    changed = app.accepted()[-1]
    assert changed["type"] == "killswitch.changed"
    assert changed["data"]["engaged"] is True
    assert changed["data"]["mode"] == "stop-drafting"
    assert "reason" not in changed["data"]
    assert len({e["id"] for e in app.accepted()}) == len(app.accepted())
    del tmp_path


def test_a_disabled_endpoint_gets_nothing_more(
    stack: Stack, receiver: tuple[Receiver, str]
) -> None:
    """After disable, new events are not sent to it."""
    app, url = receiver
    app.fail_first = 0
    endpoint = register(stack, url, events=["writeback.committed"]).json()["webhook"]
    commit_one(stack)
    assert stack.app.webhook_pusher.push().delivered == 1  # only the subscribed type
    answer = stack.api.post(f"/v1/admin/webhooks/{endpoint['id']}/disable", headers=as_admin(stack))
    assert answer.status_code == 200
    commit_one(stack)
    assert stack.app.webhook_pusher.push().delivered == 0
    assert len(app.received) == 1
