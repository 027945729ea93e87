# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Contract: every FHIR server we write to honours what exactly-once write-back relies on.

One suite, run through the shared ``FhirRestGateway`` (``generic-r4`` profile) against the
Medplum test EHR (an implementation we did not write) and against chartgate's own sandbox, so
the twin cannot drift from the real thing (STYLE.md example 5). Rules from
https://hl7.org/fhir/R4/http.html. Synthetic data only.

A server whose harness is not importable yet is skipped at collection, with the reason; the
other server still runs. Every test here is marked ``contract``: under ``CI=true`` a skip is a
failure (``tests/suite_rules.py``).
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from chartgate.adapters.ehr.fhir_rest import FhirRestGateway
from chartgate.adapters.ehr.http import build_client
from chartgate.adapters.ehr.vendors import get_vendor
from fakes import FakeEhr, open_gate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from chartgate.service.ports import JsonObject

WRITEBACK_SYSTEM = "urn:chartgate:writeback"
LOINC_PROGRESS_NOTE = "11506-3"
SYNTHETIC_PATIENT = "Patient/pat-001"
US_CORE_DOC_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
CONFLICT_STATUSES = {409, 412}  # HAPI answers 409 where the spec says 412


def _medplum_unavailable() -> str | None:
    # find_spec, not import: the plugin must be imported by pytest so its asserts are rewritten.
    if importlib.util.find_spec("medplum_ehr") is None:
        return "Medplum harness tests/medplum_ehr.py is not present"
    return None


def _sandbox_server() -> tuple[Any, str | None]:
    try:
        module = importlib.import_module("chartgate.sandbox.server")
    except ImportError as exc:
        return None, f"sandbox server not importable: {exc}"
    server = getattr(module, "SandboxServer", None)
    if server is None:
        return None, "chartgate.sandbox.server has no SandboxServer"
    return server, None


pytestmark = pytest.mark.contract

MEDPLUM_UNAVAILABLE = _medplum_unavailable()
SANDBOX_SERVER, SANDBOX_UNAVAILABLE = _sandbox_server()


def _skip_unless_available(reason: str | None) -> list[pytest.MarkDecorator]:
    return [pytest.mark.skip(reason=reason)] if reason is not None else []


@pytest.fixture(scope="session")
def sandbox_base_url() -> Iterator[str]:
    """FHIR base URL of one chartgate sandbox EHR shared by the session."""
    with SANDBOX_SERVER() as server:
        yield server.fhir_base


@pytest.fixture(
    params=[
        pytest.param(
            "medplum",
            marks=[pytest.mark.medplum, *_skip_unless_available(MEDPLUM_UNAVAILABLE)],
        ),
        pytest.param("sandbox", marks=_skip_unless_available(SANDBOX_UNAVAILABLE)),
        pytest.param("fake"),
    ]
)
def gateway(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The gateway under test: Medplum, the sandbox, or the in-memory fake of the unit tests.

    The first two go through the shared FHIR client with the generic R4 profile; the fake must
    keep the same contract.
    """
    if request.param == "fake":
        yield FakeEhr()
        return
    url: str = request.getfixturevalue(f"{request.param}_base_url")
    with build_client(gate=open_gate(), timeout_seconds=10.0) as client:
        yield FhirRestGateway(url, client=client, vendor=get_vendor("generic-r4"))


@pytest.fixture
def writeback_id() -> str:
    """A fresh write-back identifier value, so tests never see each other's documents."""
    return str(uuid.uuid4())


def progress_note(writeback_id: str, text: str = "Synthetic progress note.") -> JsonObject:
    """A minimal synthetic US Core clinical note carrying chartgate's write-back identifier."""
    return {
        "resourceType": "DocumentReference",
        "identifier": [{"system": WRITEBACK_SYSTEM, "value": writeback_id}],
        "status": "current",
        "docStatus": "preliminary",
        "type": {"coding": [{"system": "http://loinc.org", "code": LOINC_PROGRESS_NOTE}]},
        "category": [{"coding": [{"system": US_CORE_DOC_CATEGORY, "code": "clinical-note"}]}],
        "subject": {"reference": SYNTHETIC_PATIENT},
        "date": "2026-11-24T10:00:00Z",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                }
            }
        ],
    }


def if_none_exist(writeback_id: str) -> str:
    return f"identifier={WRITEBACK_SYSTEM}|{writeback_id}"


def by_identifier(writeback_id: str) -> dict[str, str]:
    return {"identifier": f"{WRITEBACK_SYSTEM}|{writeback_id}"}


def test_create_returns_201_with_id_and_version(gateway, writeback_id):
    """A create answers 201 and names the new resource's id and version."""
    answer = gateway.create(progress_note(writeback_id), if_none_exist=None, request_id="c-1")

    assert answer.status == 201
    assert answer.resource_type == "DocumentReference"
    assert answer.resource_id
    assert answer.version_id


def test_conditional_create_twice_keeps_one_document(gateway, writeback_id):
    """Sending the same conditional create twice leaves exactly one document (200 the 2nd time)."""
    note = progress_note(writeback_id)
    first = gateway.create(note, if_none_exist=if_none_exist(writeback_id), request_id="cc-1")
    second = gateway.create(note, if_none_exist=if_none_exist(writeback_id), request_id="cc-2")

    assert first.status == 201
    assert second.status == 200
    assert second.resource_id == first.resource_id
    found = gateway.search("DocumentReference", by_identifier(writeback_id), request_id="cc-3")
    assert [doc["id"] for doc in found] == [first.resource_id]


def test_update_with_stale_if_match_is_refused(gateway, writeback_id):
    """An update naming a version that is no longer current is refused with 409 or 412."""
    created = gateway.create(progress_note(writeback_id), if_none_exist=None, request_id="u-1")
    assert created.version_id is not None
    current = {**progress_note(writeback_id, "First edit."), "id": created.resource_id}
    updated = gateway.update(current, if_match=created.version_id, request_id="u-2")
    assert updated.ok
    assert updated.version_id != created.version_id

    stale = {**progress_note(writeback_id, "Lost edit."), "id": created.resource_id}
    refused = gateway.update(stale, if_match=created.version_id, request_id="u-3")

    assert refused.status in CONFLICT_STATUSES
    reread = gateway.read("DocumentReference", str(created.resource_id), request_id="u-4")
    assert reread.version_id == updated.version_id


def test_search_by_identifier_finds_exactly_the_created_document(gateway, writeback_id):
    """A search by the write-back identifier finds the created document and nothing else."""
    gateway.create(progress_note(str(uuid.uuid4())), if_none_exist=None, request_id="s-0")
    created = gateway.create(progress_note(writeback_id), if_none_exist=None, request_id="s-1")

    found = gateway.search("DocumentReference", by_identifier(writeback_id), request_id="s-2")

    assert [doc["id"] for doc in found] == [created.resource_id]
    assert found[0]["identifier"] == [{"system": WRITEBACK_SYSTEM, "value": writeback_id}]


def test_read_returns_the_current_version(gateway, writeback_id):
    """A read after an update returns the updated content and its version."""
    created = gateway.create(progress_note(writeback_id), if_none_exist=None, request_id="r-1")
    assert created.version_id is not None
    edited = {**progress_note(writeback_id, "Edited."), "id": created.resource_id}
    updated = gateway.update(edited, if_match=created.version_id, request_id="r-2")

    answer = gateway.read("DocumentReference", str(created.resource_id), request_id="r-3")

    assert answer.status == 200
    assert answer.version_id == updated.version_id
    assert answer.resource is not None
    attachment = answer.resource["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]) == b"Edited."


def test_read_of_unknown_id_is_404(gateway):
    """Reading an id that was never created answers 404, not an error or an empty 200."""
    answer = gateway.read("DocumentReference", f"missing-{uuid.uuid4().hex}", request_id="n-1")

    assert answer.status == 404


def test_a_mark_in_meta_tag_survives_create_and_update_and_is_searchable(gateway, writeback_id):
    """What recognising our own write rests on: meta.tag and identifier are kept as sent."""
    tag = {"system": WRITEBACK_SYSTEM, "code": writeback_id}
    note = {**progress_note(writeback_id), "meta": {"tag": [tag]}}
    created = gateway.create(note, if_none_exist=None, request_id="m-1")
    assert created.version_id is not None
    later = f"{writeback_id}-final"
    update_tag = {"system": WRITEBACK_SYSTEM, "code": later}
    edited = {
        **progress_note(writeback_id),
        "id": created.resource_id,
        "meta": {"tag": [update_tag]},
    }
    updated = gateway.update(edited, if_match=created.version_id, request_id="m-2")
    assert updated.ok

    current = gateway.read("DocumentReference", str(created.resource_id), request_id="m-3")
    tags = current.resource["meta"].get("tag", [])
    assert {"system": WRITEBACK_SYSTEM, "code": later} in [
        {"system": t.get("system"), "code": t.get("code")} for t in tags
    ]
    assert current.resource["identifier"] == [{"system": WRITEBACK_SYSTEM, "value": writeback_id}]
    found = gateway.search(
        "DocumentReference", {"_tag": f"{WRITEBACK_SYSTEM}|{later}"}, request_id="m-4"
    )
    assert [doc["id"] for doc in found] == [created.resource_id]
