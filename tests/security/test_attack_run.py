"""The findings of the outside attack run (issue 12), one test (or more) per finding.

Each test failed on the code before the fix; together with the suites beside it they keep
the numbered findings closed: 1 idempotency replay, 2 form bodies, 3 traceless
authentication failures, 4 server errors from parameters, 5 future ``auth_time``,
6 reference matching and grants, 7 write-back reads and the 403/404 oracle, 8 the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import select

from builders import submission
from chartgate.adapters.storage import tables
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.idp import MFA_ACR
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import CareTeamGrant, EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from chartgate.web.session import SESSION_COOKIE
from security.conftest import TENANT_A, TwoTenants, random_id, refused, unchanged_world
from stack import running_stack

FHIR_JSON = "application/fhir+json"


def ledger_types(app: Application, tenant: str) -> list[str]:
    """Every event type in the tenant's ledger, oldest first."""
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(tables.audit_events.c.type)
            .where(tables.audit_events.c.tenant == tenant)
            .order_by(tables.audit_events.c.seq)
        )
        return [str(row) for row in rows.scalars()]


# -- 1. Idempotency-Key replay -------------------------------------------------------------


def _approved_with_key(stack: TwoTenants, key: str) -> tuple[str, httpx.Response]:
    draft = stack.submit(TENANT_A)["id"]
    first = stack.approve(draft, stack.clinician_token(), 1, **{"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    return draft, first


def test_a_replay_after_losing_the_encounter_gets_no_stored_answer(
    two_tenants: TwoTenants,
) -> None:
    """The same clinician, now launched on another encounter, is refused, not replayed."""
    draft, _ = _approved_with_key(two_tenants, "lost-encounter")
    moved = two_tenants.clinician_token(encounter="enc-002")
    with unchanged_world(two_tenants):
        answer = two_tenants.approve(draft, moved, 1, **{"Idempotency-Key": "lost-encounter"})
        refused(answer, 404)
    assert "idempotent-replayed" not in answer.headers


def test_an_auditor_with_the_same_subject_gets_no_stored_answer(two_tenants: TwoTenants) -> None:
    """An auditor token carrying the clinician's ``sub`` cannot read the stored approval."""
    draft, _ = _approved_with_key(two_tenants, "auditor-replay")
    auditor = two_tenants.a.idp.mint(
        subject=f"dr-{TENANT_A}", scopes=["openid", "chartgate/audit.read"], tenant=TENANT_A
    )
    with unchanged_world(two_tenants):
        answer = two_tenants.approve(draft, auditor, 1, **{"Idempotency-Key": "auditor-replay"})
        refused(answer, 403)


def test_a_replay_is_recorded_in_the_ledger_like_the_original(two_tenants: TwoTenants) -> None:
    """Replaying a stored answer leaves a ``request.replayed`` event of the draft."""
    draft, first = _approved_with_key(two_tenants, "recorded-replay")
    before = ledger_types(two_tenants.app, TENANT_A).count("request.replayed")
    again = two_tenants.approve(
        draft, two_tenants.clinician_token(), 1, **{"Idempotency-Key": "recorded-replay"}
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ledger_types(two_tenants.app, TENANT_A).count("request.replayed") == before + 1


@pytest.fixture(scope="module")
def shared_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One tenant trusting TWO issuers (X and Y); a care-team grant pinned to issuer X."""
    workdir: Path = tmp_path_factory.mktemp("two-issuers")
    with (
        SandboxServer(workdir / "x.sqlite3") as x,
        SandboxServer(workdir / "y.sqlite3") as y,
    ):
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'cg.sqlite3'}",
            key_file=str(workdir / "kek.key"),
            step_up_acr=MFA_ACR,
            tenants=[
                TenantSettings(
                    id="clinic-m",
                    issuers=[x.issuer, y.issuer],
                    ehr=EhrSettings(base_url=x.fhir_base, vendor="sandbox", timeout_seconds=3),
                    care_team_grants=[
                        CareTeamGrant(
                            fhir_user="Practitioner/prac-grant",
                            encounters=["Encounter/enc-777"],
                            issuer=x.issuer,
                        )
                    ],
                )
            ],
        )
        app = build(settings, migrate=True)
        try:
            with (
                ThreadedServer(create_app(app)) as server,
                httpx.Client(base_url=server.base_url, timeout=30) as api,
            ):
                yield {"app": app, "api": api, "x": x, "y": y}
        finally:
            app.close()


def _clinician(idp: SandboxServer, **overrides: Any) -> dict[str, str]:
    claims: dict[str, Any] = {
        "subject": "dr-1",
        "scopes": ["openid", "fhirUser", "chartgate/drafts.approve"],
        "tenant": "clinic-m",
        "fhir_user": "Practitioner/prac-001",
        "patient": "pat-001",
        "encounter": "enc-001",
        "auth_time": int(time.time()),
    }
    claims.update(overrides)
    return {"Authorization": f"Bearer {idp.idp.mint(**claims)}"}


def _shared_draft(shared: dict[str, Any], encounter: str = "Encounter/enc-001") -> str:
    scribe = shared["x"].idp.mint(
        subject="scribe-m", scopes=["chartgate/drafts.submit"], tenant="clinic-m", amr=(), acr=None
    )
    answer = shared["api"].post(
        "/v1/drafts",
        json=submission(encounter=encounter),
        headers={"Authorization": f"Bearer {scribe}"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_the_same_subject_from_another_issuer_gets_no_stored_answer(
    shared_tenant: dict[str, Any],
) -> None:
    """Keys belong to issuer + subject + client: issuer Y's ``dr-1`` does not replay X's."""
    api = shared_tenant["api"]
    draft = _shared_draft(shared_tenant)
    key = {"Idempotency-Key": "shared-sub", "If-Match": 'W/"1"'}
    first = api.post(
        f"/v1/drafts/{draft}/approve", headers={**_clinician(shared_tenant["x"]), **key}
    )
    assert first.status_code == 202, first.text
    other = api.post(
        f"/v1/drafts/{draft}/approve", headers={**_clinician(shared_tenant["y"]), **key}
    )
    assert "idempotent-replayed" not in other.headers
    refused(other, 409)  # ran afresh: the draft is already approved


# -- 6. references and grants ----------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "launch",
    [
        "https://evil.example/fhir/Encounter/enc-001",
        "enc-002/../Encounter/enc-001",
        "Encounter/enc-002/../enc-001",
        "Patient/enc-001",
    ],
    ids=["other-server", "dot-dot", "dot-dot-tail", "wrong-type"],
)
def test_a_launch_encounter_is_compared_as_a_whole_reference(
    two_tenants: TwoTenants, launch: str
) -> None:
    """Only ``enc-001``, ``Encounter/enc-001`` or the tenant's own base URL name the encounter."""
    token = two_tenants.clinician_token(encounter=launch)
    refused(
        two_tenants.api.get(
            f"/v1/drafts/{two_tenants.drafts.a}", headers=two_tenants.bearer(token)
        ),
        404,
    )


def test_a_launch_encounter_on_the_tenants_own_ehr_base_still_matches(
    two_tenants: TwoTenants,
) -> None:
    """Control: the absolute URL of the encounter on the tenant's own FHIR base is accepted."""
    token = two_tenants.clinician_token(encounter=f"{two_tenants.a.fhir_base}/Encounter/enc-001")
    answer = two_tenants.api.get(
        f"/v1/drafts/{two_tenants.drafts.a}", headers=two_tenants.bearer(token)
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.usefixtures("unchanged")
def test_a_fhir_user_on_another_server_gets_no_care_team_grant(two_tenants: TwoTenants) -> None:
    """``https://evil.example/fhir/Practitioner/prac-grant`` is not the granted practitioner."""
    token = two_tenants.clinician_token(
        encounter=None,
        patient=None,
        fhir_user="https://evil.example/fhir/Practitioner/prac-grant",
    )
    refused(
        two_tenants.api.get(
            f"/v1/drafts/{two_tenants.drafts.a_granted}", headers=two_tenants.bearer(token)
        ),
        404,
    )


def test_a_grant_is_pinned_to_its_issuer(shared_tenant: dict[str, Any]) -> None:
    """Issuer Y's token for the granted practitioner gets nothing; issuer X's gets the draft."""
    draft = _shared_draft(shared_tenant, encounter="Encounter/enc-777")
    grantee = {"encounter": None, "patient": None, "fhir_user": "Practitioner/prac-grant"}
    api = shared_tenant["api"]
    refused(api.get(f"/v1/drafts/{draft}", headers=_clinician(shared_tenant["y"], **grantee)), 404)
    answer = api.get(f"/v1/drafts/{draft}", headers=_clinician(shared_tenant["x"], **grantee))
    assert answer.status_code == 200, answer.text


# -- 7. write-back reads ----------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
def test_a_scribe_cannot_read_a_writeback(two_tenants: TwoTenants) -> None:
    """Write-back status is a clinician's read (it names the chart's document)."""
    path = f"/v1/writebacks/{two_tenants.drafts.a_writeback}"
    refused(two_tenants.api.get(path, headers=two_tenants.bearer(two_tenants.scribe_token())), 403)


@pytest.mark.usefixtures("unchanged")
def test_a_writeback_outside_the_binding_answers_as_an_unknown_one(
    two_tenants: TwoTenants,
) -> None:
    """A clinician launched on another encounter gets the 404 a random id gets."""
    headers = two_tenants.bearer(two_tenants.clinician_token(encounter="enc-002"))
    outside = refused(
        two_tenants.api.get(f"/v1/writebacks/{two_tenants.drafts.a_writeback}", headers=headers),
        404,
    )
    unknown = refused(two_tenants.api.get(f"/v1/writebacks/{random_id()}", headers=headers), 404)
    assert outside == unknown


def test_a_writeback_read_is_audited(two_tenants: TwoTenants) -> None:
    """Reading a write-back's status leaves a ``writeback.viewed`` event."""
    before = ledger_types(two_tenants.app, TENANT_A).count("writeback.viewed")
    answer = two_tenants.api.get(
        f"/v1/writebacks/{two_tenants.drafts.a_writeback}",
        headers=two_tenants.bearer(two_tenants.clinician_token()),
    )
    assert answer.status_code == 200, answer.text
    assert ledger_types(two_tenants.app, TENANT_A).count("writeback.viewed") == before + 1


# -- 5. step-up -------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("ahead", [3600, 10 * 365 * 86400])
def test_an_auth_time_in_the_future_is_no_step_up(two_tenants: TwoTenants, ahead: int) -> None:
    """Finalize with ``auth_time`` an hour or ten years ahead is refused (401)."""
    token = two_tenants.clinician_token(auth_time=int(time.time()) + ahead)
    answer = two_tenants.api.post(
        f"/v1/drafts/{two_tenants.drafts.a_committed}/finalize", headers=two_tenants.bearer(token)
    )
    refused(answer, 401)


# -- 3. authentication failures ---------------------------------------------------------------


def test_a_refused_token_is_recorded_without_the_token(two_tenants: TwoTenants) -> None:
    """A forged token leaves a ``security.authn_failed`` event: reason, issuer, client, id."""
    forged = two_tenants.clinician_token(extra_claims={"client_id": "ehr-app"})
    header, payload, _ = forged.split(".")
    token = f"{header}.{payload}.{'A' * 342}"
    with structlog.testing.capture_logs() as logs:
        answer = two_tenants.api.get(
            f"/v1/drafts/{two_tenants.drafts.a}",
            headers={**two_tenants.bearer(token), "X-Request-Id": "attack-run-3"},
        )
    refused(answer, 401)
    events = [e for e in logs if e.get("event") == "security.authn_failed"]
    assert len(events) == 1, logs
    event = events[0]
    assert event["reason"] == "bad-signature"  # a bounded code: the metric counts by it
    assert event["issuer"] == two_tenants.a.issuer
    assert event["client"] == "ehr-app"
    assert event["request_id"] == "attack-run-3"
    assert token not in repr(logs)
    assert payload not in repr(logs)


# -- 4. parameters that caused 500s -----------------------------------------------------------


AUDIT_PARAMS = [
    ("/v1/audit/events", {"after_seq": str(2**53)}),
    ("/v1/audit/events", {"after_seq": str(2**63)}),
    ("/v1/audit/events", {"after_seq": str(2**64)}),
    ("/v1/audit/proof", {"from": "1", "to": str(2**63)}),
    (f"/v1/audit/proof/{2**63}", {}),
    (f"/v1/audit/proof/{2**53}", {}),
    ("/v1/audit/events", {"since": "9999-12-31T23:59:59-23:59"}),
]


@pytest.mark.parametrize(("path", "params"), AUDIT_PARAMS)
def test_huge_auditor_parameters_are_a_4xx(
    two_tenants: TwoTenants, path: str, params: dict[str, str]
) -> None:
    """Positions beyond 2^53 and dates UTC cannot hold are refused, never a 500."""
    headers = two_tenants.bearer(two_tenants.role_token("auditor"))
    answer = two_tenants.api.get(path, params=params, headers=headers)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith(FHIR_JSON)


def _auditor(stack: Any) -> dict[str, str]:
    token = stack.sandbox.idp.mint(
        subject="auditor-1", scopes=["openid", "chartgate/audit.read"], tenant=stack.tenant
    )
    return {"Authorization": f"Bearer {token}"}


def test_nul_characters_and_big_positions_are_a_4xx_on_both_stores(
    migrated_database_url: str, tmp_path: Path
) -> None:
    """A NUL in an id or filter, or a position above 2^31, is refused on SQLite and PostgreSQL."""
    with running_stack(migrated_database_url, tmp_path) as stack:
        clinician, auditor = stack.as_clinician(), _auditor(stack)
        calls = [
            ("/v1/drafts/abc%00def", clinician, {}),
            ("/v1/writebacks/abc%00", clinician, {}),
            ("/v1/audit/events", auditor, {"correlation_id": "a\x00b"}),
            ("/v1/audit/events", auditor, {"actor": "clinician:\x00"}),
            ("/v1/audit/events", auditor, {"patient": "Patient/\x00"}),
            ("/v1/audit/events", auditor, {"type": "draft.\x00"}),
        ]
        for path, headers, params in calls:
            answer = stack.api.get(path, params=params, headers=headers)
            assert 400 <= answer.status_code < 500, (path, answer.status_code)
        big = stack.api.get(
            "/v1/audit/events", params={"after_seq": str(2**31 + 1)}, headers=auditor
        )
        assert big.status_code == 200, big.text
        assert big.json()["events"] == []


# -- 8. the rest ------------------------------------------------------------------------------


def test_phi_json_answers_are_nosniff_and_no_store(two_tenants: TwoTenants) -> None:
    """A draft's JSON carries ``X-Content-Type-Options: nosniff`` and ``no-store``."""
    answer = two_tenants.api.get(
        f"/v1/drafts/{two_tenants.drafts.a}",
        headers=two_tenants.bearer(two_tenants.clinician_token()),
    )
    assert answer.status_code == 200
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_no_interactive_docs_that_load_scripts_from_a_cdn(two_tenants: TwoTenants) -> None:
    """``/docs`` and ``/redoc`` are gone; the contract stays at ``/openapi.json``."""
    assert two_tenants.api.get("/docs").status_code == 404
    assert two_tenants.api.get("/redoc").status_code == 404
    assert two_tenants.api.get("/openapi.json").status_code == 200


def test_metrics_need_an_admin_token(two_tenants: TwoTenants) -> None:
    """``/metrics`` is 401 without a token, 403 for a clinician, 200 for the tenant's admin."""
    refused(two_tenants.api.get("/metrics"), 401)
    clinician = two_tenants.bearer(two_tenants.clinician_token())
    refused(two_tenants.api.get("/metrics", headers=clinician), 403)
    admin = two_tenants.bearer(two_tenants.role_token("admin"))
    answer = two_tenants.api.get("/metrics", headers=admin)
    assert answer.status_code == 200
    assert "chartgate" in answer.text


def test_sign_in_never_takes_its_redirect_uri_from_the_host_header(
    two_tenants: TwoTenants,
) -> None:
    """Without ``reviewer_base_url`` a non-loopback ``Host`` gets no sign-in redirect at all."""
    answer = two_tenants.api.get(
        "/review/login",
        params={"issuer": two_tenants.a.issuer},
        headers={"Host": "evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 503, answer.text
    assert "evil.example" not in answer.headers.get("location", "")


def test_a_405_names_the_allowed_methods(two_tenants: TwoTenants) -> None:
    """``DELETE`` on a draft is a 405 with ``Allow`` (RFC 9110 15.5.6)."""
    answer = two_tenants.api.delete(f"/v1/drafts/{two_tenants.drafts.a}")
    refused(answer, 405)
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "PUT"}


@pytest.mark.usefixtures("unchanged")
def test_a_key_bound_token_is_not_accepted_as_a_bearer_token(two_tenants: TwoTenants) -> None:
    """A token with ``cnf`` (DPoP / mTLS bound) is refused: the binding is not verified."""
    token = two_tenants.clinician_token(
        extra_claims={"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}
    )
    refused(
        two_tenants.api.get(
            f"/v1/drafts/{two_tenants.drafts.a}", headers=two_tenants.bearer(token)
        ),
        401,
    )


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "gpt\u202eevil"),
        ("model", "model\x00name"),
        ("model_version", "1\x00"),
        ("prompt_template", "soap-v2\u2066"),
        ("title", "Progress\u202enote"),
    ],
)
def test_control_and_bidi_characters_are_refused_in_names(
    two_tenants: TwoTenants, field: str, value: str
) -> None:
    """NUL, other controls and bidi overrides in model names, templates or titles are a 422."""
    body = submission()
    if field == "model":
        body["origin"]["model"]["name"] = value
    elif field == "model_version":
        body["origin"]["model"]["version"] = value
    elif field == "prompt_template":
        body["origin"]["prompt_template"] = value
    else:
        body["note"]["title"] = value
    answer = two_tenants.api.post(
        "/v1/drafts", json=body, headers=two_tenants.bearer(two_tenants.scribe_token())
    )
    refused(answer, 422)


@pytest.mark.usefixtures("unchanged")
def test_text_plain_is_not_accepted_as_json(two_tenants: TwoTenants) -> None:
    """A JSON body sent as ``text/plain`` (a CSRF-able simple request) is a 415."""
    import json  # noqa: PLC0415

    answer = two_tenants.api.post(
        "/v1/drafts",
        content=json.dumps(submission()),
        headers={**two_tenants.bearer(two_tenants.scribe_token()), "Content-Type": "text/plain"},
    )
    refused(answer, 415)


def test_a_created_draft_answers_with_its_location(two_tenants: TwoTenants) -> None:
    """``201 Created`` names the new draft in ``Location``."""
    answer = two_tenants.api.post(
        "/v1/drafts", json=submission(), headers=two_tenants.bearer(two_tenants.scribe_token())
    )
    assert answer.status_code == 201
    assert answer.headers["location"] == f"/v1/drafts/{answer.json()['id']}"


# -- 2 and 8: what the server reads before it answers (driven over ASGI, chunk by chunk) ------


class _Body:
    """An ASGI ``receive`` that hands out a body in chunks and counts what was taken."""

    def __init__(self, chunks: int, size: int) -> None:
        self.left, self.size, self.taken = chunks, size, 0

    async def __call__(self) -> dict[str, Any]:
        if self.left == 0:
            await asyncio.sleep(3600)  # the client is still "sending"; never reached when refused
        self.left -= 1
        self.taken += 1
        return {
            "type": "http.request",
            "body": b"a=" + b"x" * self.size,
            "more_body": self.left > 0,
        }


def _asgi(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: _Body,
) -> int:
    """Run one request through the app; return the status."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(asyncio.wait_for(app(scope, body, send), timeout=30))
    return int(next(m for m in sent if m["type"] == "http.response.start")["status"])


FORM = [(b"content-type", b"application/x-www-form-urlencoded")]


def test_a_form_post_without_a_session_is_answered_before_its_body_is_read(
    two_tenants: TwoTenants,
) -> None:
    """No session: the chunked form body is not read (at most one chunk), the answer is 401."""
    app = create_app(two_tenants.app)
    body = _Body(chunks=200, size=64 * 1024)
    status = _asgi(app, "POST", f"/review/{two_tenants.drafts.a}/save", FORM, body)
    assert status == 401
    assert body.taken <= 1


def test_a_chunked_form_body_over_the_limit_is_cut_off_while_it_streams(
    two_tenants: TwoTenants,
) -> None:
    """Signed in: a chunked body past ``max_body_bytes`` is refused (413) mid-stream."""
    app = create_app(two_tenants.app)
    reviewer = app.state.reviewer
    token = two_tenants.clinician_token(sid="sid-attack-2")
    session = reviewer.sessions.create(
        tenant=TENANT_A,
        subject=f"dr-{TENANT_A}",
        sid="sid-attack-2",
        issuer=two_tenants.a.issuer,
        access_token=token,
    )
    limit = two_tenants.app.settings.max_body_bytes
    body = _Body(chunks=200, size=64 * 1024)
    cookie = [(b"cookie", f"{SESSION_COOKIE}={session.id}".encode())]
    status = _asgi(app, "POST", f"/review/{two_tenants.drafts.a}/save", FORM + cookie, body)
    assert status == 413
    assert body.taken * 64 * 1024 <= limit + 64 * 1024


@pytest.mark.parametrize("size", [40 * 1024, 100 * 1024])
def test_an_oversized_header_line_is_a_431(two_tenants: TwoTenants, size: int) -> None:
    """A header line of 40 KB or 100 KB is refused before routing (431)."""
    app = create_app(two_tenants.app)
    status = _asgi(app, "GET", "/healthz", [(b"x-padding", b"p" * size)], _Body(0, 0))
    assert status == 431
