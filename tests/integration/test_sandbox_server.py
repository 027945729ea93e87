"""The sandbox served by uvicorn on 127.0.0.1: real sockets, real dropped connections."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from chartgate.sandbox.faults import FaultKind, FaultPlan
from chartgate.sandbox.server import SandboxServer

WRITEBACK_SYSTEM = "urn:chartgate:writeback"


def note(writeback_id: str) -> dict[str, object]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "identifier": [{"system": WRITEBACK_SYSTEM, "value": writeback_id}],
        "subject": {"reference": "Patient/pat-001"},
        "context": {"encounter": [{"reference": "Encounter/enc-001"}]},
        "content": [{"attachment": {"contentType": "text/plain", "data": "aGk="}}],
    }


def found(fhir: httpx.Client, writeback_id: str) -> list[str]:
    bundle = fhir.get(
        "/DocumentReference", params={"identifier": f"{WRITEBACK_SYSTEM}|{writeback_id}"}
    ).json()
    return [entry["resource"]["id"] for entry in bundle["entry"]]


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer() as server:
        yield server


@pytest.fixture
def fhir(sandbox):
    sandbox.faults.clear()
    with httpx.Client(base_url=sandbox.fhir_base, timeout=5.0) as client:
        yield client
    sandbox.faults.clear()


def test_start_and_stop_leave_no_thread_socket_or_file_behind():
    """After stop() no thread the server started is alive, its port is closed and its db gone."""
    before = set(threading.enumerate())
    server = SandboxServer().start()
    db_path = Path(server.db_path)
    assert httpx.get(f"{server.fhir_base}/Patient/pat-001").status_code == 200
    assert db_path.exists()
    server.stop()
    assert set(threading.enumerate()) - before == set()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((server.host, server.port)),
    ):
        pass
    assert not db_path.exists()


def test_two_servers_run_side_by_side_on_different_ports(tmp_path):
    """Port 0 gives each sandbox its own free port, and a given db_path is kept after stop."""
    db = tmp_path / "kept.sqlite3"
    with SandboxServer(db) as first, SandboxServer() as second:
        assert first.port != second.port
        assert first.issuer == f"{first.base_url}/idp"
    assert db.exists()


def test_a_server_runs_only_once():
    """Starting a stopped server again is refused."""
    server = SandboxServer()
    with server:
        pass
    with pytest.raises(RuntimeError, match="runs once"):
        server.start()


def test_commit_then_drop_closes_the_connection_after_the_write_landed(sandbox, fhir):
    """The client sees a dropped connection with no answer, yet the document is in the chart."""
    sandbox.faults.configure(commit_then_drop=1)
    with pytest.raises(httpx.RemoteProtocolError):
        fhir.post("/DocumentReference", json=note("wb-drop"))
    assert len(found(fhir, "wb-drop")) == 1
    assert sandbox.faults.injected(FaultKind.COMMIT_THEN_DROP) == 1


def test_conditional_retry_after_a_drop_returns_the_first_document(sandbox, fhir):
    """On generic-r4, re-sending a dropped conditional create finds the committed document."""
    sandbox.faults.configure(commit_then_drop=1)
    condition = {"If-None-Exist": f"identifier={WRITEBACK_SYSTEM}|wb-retry"}
    with pytest.raises(httpx.RemoteProtocolError):
        fhir.post("/DocumentReference", json=note("wb-retry"), headers=condition)
    retry = fhir.post("/DocumentReference", json=note("wb-retry"), headers=condition)
    assert retry.status_code == 200
    assert found(fhir, "wb-retry") == [retry.json()["id"]]


def test_timeout_fault_makes_the_client_time_out_after_the_write_landed(sandbox):
    """The answer is held past the client's timeout; the write is already committed."""
    sandbox.faults.load_json({"timeout": {"count": 1, "seconds": 3}})
    with httpx.Client(base_url=sandbox.fhir_base, timeout=0.5) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post("/DocumentReference", json=note("wb-slow"))
        assert len(found(impatient, "wb-slow")) == 1


def test_stop_does_not_wait_for_a_held_answer(tmp_path):
    """stop() cancels a request held by a long timeout fault instead of waiting it out."""
    server = SandboxServer(tmp_path / "held.sqlite3", faults=FaultPlan()).start()
    server.faults.load_json({"timeout": {"count": 1, "seconds": 60}})
    with httpx.Client(base_url=server.fhir_base, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/Patient/pat-001")
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 5


def test_status_storm_set_over_http_answers_503_then_recovers(sandbox, fhir):
    """A storm posted to /__sandbox/faults answers 503 with Retry-After, then passes."""
    answer = httpx.post(
        f"{sandbox.base_url}/__sandbox/faults",
        json={"status_storm": {"count": 2, "status": 503, "retry_after": 1}},
    )
    assert answer.status_code == 200
    statuses = [fhir.get("/Patient/pat-001") for _ in range(3)]
    assert [s.status_code for s in statuses] == [503, 503, 200]
    assert statuses[0].headers["retry-after"] == "1"


def test_token_expiry_answers_401_over_http(sandbox, fhir):
    """token_expiry answers 401 with a Bearer challenge, then the next request passes."""
    httpx.post(f"{sandbox.base_url}/__sandbox/faults", json={"token_expiry": 1})
    assert fhir.get("/Patient/pat-001").status_code == 401
    assert fhir.get("/Patient/pat-001").status_code == 200


def test_concurrent_conditional_creates_make_exactly_one_document(fhir):
    """Eight simultaneous conditional creates with one identifier store one document."""
    condition = {"If-None-Exist": f"identifier={WRITEBACK_SYSTEM}|wb-race"}
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(
            pool.map(
                lambda _: (
                    fhir.post(
                        "/DocumentReference", json=note("wb-race"), headers=condition
                    ).status_code
                ),
                range(8),
            )
        )
    assert statuses == [200] * 7 + [201]
    assert len(found(fhir, "wb-race")) == 1


def test_idp_tokens_verify_with_the_jwks_found_by_discovery(sandbox):
    """A token from POST /idp/token and one minted in-process verify via discovery's jwks_uri."""
    discovery = httpx.get(f"{sandbox.issuer}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == sandbox.issuer
    keys = KeySet.import_key_set(httpx.get(discovery["jwks_uri"]).json())
    posted = httpx.post(discovery["token_endpoint"], data={"principal": "clinician"}).json()
    minted = sandbox.idp.mint(subject="scribe-demo-client", scopes=["x"], alg="ES256")
    for token in (posted["access_token"], minted):
        claims = jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims
        assert claims["iss"] == sandbox.issuer
        assert claims["aud"] == "chartgate"


def test_idp_is_never_faulted(sandbox):
    """Faults apply to the FHIR API only; the IdP keeps answering during a storm."""
    sandbox.faults.configure(token_expiry=5)
    try:
        assert httpx.get(f"{sandbox.issuer}/jwks").status_code == 200
    finally:
        sandbox.faults.clear()


def test_epic_profile_over_http_answers_with_relative_location_and_no_body():
    """An epic sandbox answers a create with an empty body and a relative Location."""
    with SandboxServer(vendor="epic") as epic:
        answer = httpx.post(f"{epic.fhir_base}/DocumentReference", json=note("wb-epic"))
    assert answer.status_code == 201
    assert answer.content == b""
    assert answer.headers["location"].startswith("DocumentReference/")


def test_sandbox_finds_provenance_by_tag_and_target() -> None:
    """Reconciliation searches work on the sandbox: Provenance by ``_tag`` and by ``target``."""
    with SandboxServer() as server, httpx.Client(base_url=server.fhir_base) as client:
        provenance = {
            "resourceType": "Provenance",
            "meta": {"tag": [{"system": "urn:chartgate:writeback", "code": "wb-1"}]},
            "target": [{"reference": "DocumentReference/doc-1/_history/1"}],
            "recorded": "2026-11-24T10:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/prac-001"}}],
        }
        created = client.post(
            "/Provenance", json=provenance, headers={"Content-Type": "application/fhir+json"}
        )
        assert created.status_code == 201
        by_tag = client.get("/Provenance", params={"_tag": "urn:chartgate:writeback|wb-1"}).json()
        other = client.get("/Provenance", params={"_tag": "urn:chartgate:writeback|wb-2"}).json()
        by_target = client.get(
            "/Provenance", params={"target": "DocumentReference/doc-1/_history/1"}
        ).json()
    assert len(by_tag["entry"]) == 1
    assert not other.get("entry")
    assert len(by_target["entry"]) == 1
