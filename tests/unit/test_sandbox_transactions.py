"""The sandbox's emulation of R4 transaction Bundles and the X-Provenance header, in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chartgate.sandbox.fhir import create_fhir_app

pytestmark = pytest.mark.anyio

MARK = "urn:chartgate:writeback"
BASE = "/fhir/R4"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _client(tmp_path: Path, vendor: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_fhir_app(str(tmp_path / "ehr.sqlite3"), vendor=vendor)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(tmp_path, "generic-r4"):
        yield c


def condition(mark: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/pat-001"},
        "identifier": [{"system": MARK, "value": mark}],
    }


def provenance(target: str | None, mark: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Provenance",
        "recorded": "2026-12-02T08:00:00Z",
        "agent": [{"who": {"reference": "Practitioner/prac-001"}}],
        "meta": {"tag": [{"system": MARK, "code": mark}]},
    }
    if target is not None:
        out["target"] = [{"reference": target}]
    return out


def pair(mark: str) -> list[dict[str, Any]]:
    return [
        {
            "fullUrl": f"urn:uuid:{mark}",
            "resource": condition(mark),
            "request": {
                "method": "POST",
                "url": "Condition",
                "ifNoneExist": f"identifier={MARK}|{mark}",
            },
        },
        {
            "resource": provenance(f"urn:uuid:{mark}", mark),
            "request": {
                "method": "POST",
                "url": "Provenance",
                "ifNoneExist": f"_tag={MARK}|{mark}",
            },
        },
    ]


async def _all(client: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    bundle = (await client.get(f"{BASE}/{kind}")).json()
    return [e["resource"] for e in bundle.get("entry", [])]


async def test_a_transaction_lands_whole_with_references_rewritten(
    client: httpx.AsyncClient,
) -> None:
    """A transaction lands whole with references rewritten."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": pair("a")}
    answer = await client.post(BASE, json=bundle)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "transaction-response"
    locations = [e["response"]["location"] for e in body["entry"]]
    (stored,) = await _all(client, "Condition")
    assert locations[0] == f"Condition/{stored['id']}/_history/1"
    (prov,) = await _all(client, "Provenance")
    assert prov["target"] == [{"reference": f"Condition/{stored['id']}"}]
    again = await client.post(BASE, json=bundle)  # a resend: ifNoneExist finds both
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK", "200 OK"]
    assert len(await _all(client, "Condition")) == 1


async def test_a_refused_entry_rolls_the_whole_transaction_back(
    client: httpx.AsyncClient,
) -> None:
    """A refused entry rolls the whole transaction back."""
    entries = [
        *pair("b"),
        {
            "resource": {**condition("c"), "id": "missing"},
            "request": {"method": "PUT", "url": "Condition/missing", "ifMatch": 'W/"9"'},
        },
    ]
    answer = await client.post(
        BASE, json={"resourceType": "Bundle", "type": "transaction", "entry": entries}
    )
    assert answer.status_code == 404, answer.text
    assert await _all(client, "Condition") == []
    assert await _all(client, "Provenance") == []


async def test_x_provenance_is_stored_for_the_version_the_write_made(
    client: httpx.AsyncClient,
) -> None:
    """X-Provenance is stored for the version the write made."""
    header = json.dumps(provenance(None, "d"))
    made = await client.post(
        f"{BASE}/Condition",
        json=condition("d"),
        headers={"X-Provenance": header, "If-None-Exist": f"identifier={MARK}|d"},
    )
    assert made.status_code == 201
    (prov,) = await _all(client, "Provenance")
    assert prov["target"] == [{"reference": f"Condition/{made.json()['id']}/_history/1"}]
    matched = await client.post(
        f"{BASE}/Condition",
        json=condition("d"),
        headers={"X-Provenance": header, "If-None-Exist": f"identifier={MARK}|d"},
    )
    assert matched.status_code == 200
    assert len(await _all(client, "Provenance")) == 1  # a matched create makes none (Firely)


async def test_an_emulation_without_transactions_refuses_them(tmp_path: Path) -> None:
    """An emulation without transactions refuses them."""
    async for client in _client(tmp_path, "epic"):
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": pair("e")}
        answer = await client.post(BASE, json=bundle)
        assert answer.status_code == 405
