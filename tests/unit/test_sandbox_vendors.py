"""How the sandbox's vendor profiles differ from generic-r4, and agree with the product's."""

from __future__ import annotations

import dataclasses
import time

import httpx
import pytest

from chartgate.adapters.ehr.rate import parse_ratelimit
from chartgate.adapters.ehr.vendors import VENDORS as PRODUCT_VENDORS
from chartgate.adapters.ehr.vendors import get_vendor
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.sandbox.fhir import create_fhir_app
from chartgate.sandbox.vendors import VENDORS, vendor_profile

pytestmark = pytest.mark.anyio

WRITEBACK_SYSTEM = "urn:chartgate:writeback"
DOCS = "/fhir/R4/DocumentReference"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def asgi_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def note(content: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "identifier": [{"system": WRITEBACK_SYSTEM, "value": "wb-1"}],
        "subject": {"reference": "Patient/pat-001"},
        "context": {"encounter": [{"reference": "Encounter/enc-001"}]},
        "content": content
        or [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": "aGk="}}],
    }


@pytest.fixture
async def epic(tmp_path):
    app = create_fhir_app(str(tmp_path / "epic.sqlite3"), vendor="epic")
    async with asgi_client(app) as client:
        yield client


async def test_epic_ignores_if_none_exist_and_creates_a_duplicate(epic):
    """Epic has no conditional create: the same conditional POST twice makes two documents."""
    condition = {"If-None-Exist": f"identifier={WRITEBACK_SYSTEM}|wb-1"}
    first = await epic.post(DOCS, json=note(), headers=condition)
    second = await epic.post(DOCS, json=note(), headers=condition)
    assert (first.status_code, second.status_code) == (201, 201)
    found = (await epic.get(DOCS, params={"identifier": "wb-1"})).json()
    assert found["total"] == 2


async def test_epic_answers_an_empty_body_with_a_relative_location_by_default(epic):
    """Without Prefer, epic answers a create with no body and a relative Location."""
    answer = await epic.post(DOCS, json=note())
    assert answer.status_code == 201
    assert answer.content == b""
    assert answer.headers["location"].startswith("DocumentReference/")
    assert answer.headers["location"].endswith("/_history/1")
    assert answer.headers["etag"] == 'W/"1"'


async def test_epic_returns_the_resource_when_asked_for_a_representation(epic):
    """Prefer: return=representation gives the full resource on epic too."""
    answer = await epic.post(DOCS, json=note(), headers={"Prefer": "return=representation"})
    assert answer.json()["resourceType"] == "DocumentReference"


async def test_epic_refuses_attachments_that_are_not_text_plain(epic):
    """Epic takes only text/plain notes: a markdown attachment answers 422."""
    markdown = [{"attachment": {"contentType": "text/markdown", "data": "aGk="}}]
    answer = await epic.post(DOCS, json=note(markdown))
    assert answer.status_code == 422
    issue = answer.json()["issue"][0]
    assert issue["expression"] == ["DocumentReference.content[0].attachment.contentType"]


async def test_epic_refuses_non_text_attachments_on_update_too(epic):
    """The text/plain rule also guards updates, so a note cannot be switched to PDF."""
    created = (
        await epic.post(DOCS, json=note(), headers={"Prefer": "return=representation"})
    ).json()
    pdf = {**created, "content": [{"attachment": {"contentType": "application/pdf"}}]}
    answer = await epic.put(f"{DOCS}/{created['id']}", json=pdf, headers={"If-Match": 'W/"1"'})
    assert answer.status_code == 422


async def test_epic_keeps_only_the_first_attachment(epic):
    """Epic stores only the first content element of a DocumentReference."""
    two = [
        {"attachment": {"contentType": "text/plain", "data": "b25l"}},
        {"attachment": {"contentType": "text/plain", "data": "dHdv"}},
    ]
    answer = await epic.post(DOCS, json=note(two), headers={"Prefer": "return=representation"})
    assert [c["attachment"]["data"] for c in answer.json()["content"]] == ["b25l"]


async def test_epic_does_not_create_by_update(epic):
    """A PUT to an unknown id answers 404 on epic."""
    answer = await epic.put(
        "/fhir/R4/Practitioner/prac-009", json={"resourceType": "Practitioner", "id": "prac-009"}
    )
    assert answer.status_code == 404


async def test_epic_metadata_says_no_conditional_create(epic):
    """The CapabilityStatement of the epic profile denies conditional create."""
    statement = (await epic.get("/fhir/R4/metadata")).json()
    assert statement["rest"][0]["resource"][0]["conditionalCreate"] is False


async def test_generic_r4_accepts_markdown_attachments(tmp_path):
    """The generic profile accepts any attachment type."""
    markdown = [{"attachment": {"contentType": "text/markdown", "data": "aGk="}}]
    async with asgi_client(create_fhir_app(str(tmp_path / "g.sqlite3"))) as client:
        answer = await client.post(DOCS, json=note(markdown))
    assert answer.status_code == 201


def test_an_unknown_vendor_name_is_refused():
    """Asking for a vendor profile that does not exist raises ValueError."""
    with pytest.raises(ValueError, match="unknown sandbox vendor"):
        vendor_profile("cerner-from-the-future")


async def _client_for(tmp_path, vendor):
    return asgi_client(create_fhir_app(str(tmp_path / f"{vendor}.sqlite3"), vendor=vendor))


async def test_epic_refuses_a_note_without_encounter_with_its_code(tmp_path):
    """Epic answers 422 "Valid encounter required" with vendor code 59108 in details."""
    bare = {k: v for k, v in note().items() if k != "context"}
    async with await _client_for(tmp_path, "epic") as epic:
        answer = await epic.post(DOCS, json=bare)
    assert answer.status_code == 422
    assert answer.json()["issue"][0]["details"]["coding"][0]["code"] == "59108"


async def test_oracle_health_refuses_preliminary_notes(tmp_path):
    """Oracle Health creates notes final only: a preliminary one answers 422."""
    async with await _client_for(tmp_path, "oracle-health") as oracle:
        draft = await oracle.post(DOCS, json={**note(), "docStatus": "preliminary"})
        final = await oracle.post(DOCS, json={**note(), "docStatus": "final"})
    assert (draft.status_code, final.status_code) == (422, 201)


async def test_the_cerner_alias_imitates_oracle_health(tmp_path):
    """The sandbox also answers to the old name."""
    assert vendor_profile("cerner") is vendor_profile("oracle-health")


async def test_provenance_is_refused_where_the_ehr_takes_none(tmp_path):
    """Profiles without Provenance write answer 405 to a Provenance create."""
    async with await _client_for(tmp_path, "athenapractice") as athena:
        answer = await athena.post("/fhir/R4/Provenance", json={"resourceType": "Provenance"})
    assert answer.status_code == 405


async def test_athenapractice_takes_rtf_routed_to_an_authenticator(tmp_path):
    """RTF only, an authenticator is required, and identifier search is refused (not empty)."""
    rtf = [{"attachment": {"contentType": "text/rtf", "data": "e1xydGYxfQ=="}}]
    signer = {"authenticator": {"reference": "Practitioner/prac-001"}}
    async with await _client_for(tmp_path, "athenapractice") as athena:
        plain = await athena.post(DOCS, json={**note(), **signer})
        unsigned = await athena.post(DOCS, json=note(rtf))
        routed = await athena.post(DOCS, json={**note(rtf), **signer})
        search = await athena.get(DOCS, params={"identifier": "wb-1"})
    assert (plain.status_code, unsigned.status_code, routed.status_code) == (422, 422, 201)
    assert search.status_code == 400


async def test_over_the_rate_limit_answers_429_with_retry_after_and_ratelimit(tmp_path):
    """A profile with a limit answers 429, Retry-After and (Medplum-like) a RateLimit header."""
    limited = dataclasses.replace(
        vendor_profile("medplum"), rate_limit_per_second=1.0, rate_limit_burst=1
    )
    app = create_fhir_app(str(tmp_path / "m.sqlite3"), vendor=limited)
    async with asgi_client(app) as client:
        first = await client.get("/fhir/R4/Patient/pat-001")
        second = await client.get("/fhir/R4/Patient/pat-001")
        traffic = (await client.get("/__sandbox/traffic")).json()
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.headers["retry-after"] == "1"
    assert parse_ratelimit(second.headers["ratelimit"]) == (0, 1)
    assert second.json()["issue"][0]["code"] == "throttled"
    assert (traffic["accepted"], traffic["refused"]) == (1, 1)


def test_traffic_counts_the_busiest_second(tmp_path):
    """max_in_any_second is the most accepted requests inside any one-second window."""
    app = create_fhir_app(str(tmp_path / "t.sqlite3"))
    limiter = app.state.limiter
    for _ in range(3):
        limiter()
    time.sleep(1.05)
    limiter()
    assert limiter.traffic()["max_in_any_second"] == 3


@pytest.mark.parametrize("name", sorted(PRODUCT_VENDORS))
def test_the_sandbox_imitates_what_each_product_profile_says(name):
    """For every product profile, the sandbox of that name agrees on the behaviours it emulates."""
    product, sandbox = get_vendor(name), vendor_profile(name)
    assert sandbox.conditional_create == product.supports_conditional_create or (
        name == "sandbox"  # our own EHR: client-id guard, conditional create also honoured
    )
    assert sandbox.final_only == (not product.accepts_preliminary)
    assert sandbox.identifier_search == product.identifier_search
    takes_provenance = sandbox.writable_types is None or "Provenance" in sandbox.writable_types
    assert takes_provenance == (product.provenance_mode is not ProvenanceMode.NONE)
    if sandbox.accepted_attachment_types is not None:
        for content_type in product.content_types:
            assert content_type.split(";")[0] in sandbox.accepted_attachment_types
    assert sandbox.first_attachment_only == (product.max_attachments == 1)


def test_every_sandbox_profile_is_a_product_profile():
    """The sandbox imitates no EHR the product does not know."""
    assert set(VENDORS) <= set(PRODUCT_VENDORS)
