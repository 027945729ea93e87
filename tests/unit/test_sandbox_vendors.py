"""How the sandbox's epic profile differs from generic-r4."""

from __future__ import annotations

import httpx
import pytest

from chartgate.sandbox.fhir import create_fhir_app
from chartgate.sandbox.vendors import vendor_profile

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
