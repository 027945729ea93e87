"""Vendor profiles as data the code obeys: sources, conversion, error codes, settings, CLI."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from builders import CLINICIAN, ENCOUNTER, PATIENT, SOAP_NOTE
from chartgate.adapters.ehr.fhir_rest import FhirRestGateway
from chartgate.adapters.ehr.http import build_client
from chartgate.adapters.ehr.vendors import VENDORS, get_vendor
from chartgate.cli.main import app
from chartgate.domain.documents import NoteWrite, attachment_text, build_document_reference
from chartgate.domain.errors import EhrNotAllowed
from chartgate.domain.note_content import NoteEncodingError, decode_note, encode_note
from chartgate.domain.submission import Note, VersionContent
from chartgate.domain.vendor_errors import (
    VendorErrorClass,
    VendorErrorTable,
    classify_vendor_error,
)
from chartgate.domain.vendor_profile import ProvenanceMode, profile_fields
from chartgate.settings import EhrSettings, TenantSettings
from fakes import open_gate

# -- every fact has a source ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_every_fact_of_every_profile_names_its_source(name: str) -> None:
    """No profile states a fact without saying where it comes from (or that it is unverified)."""
    profile = VENDORS[name]
    assert set(profile.sources) == set(profile_fields())
    assert all(source.strip() for source in profile.sources.values())


def test_a_profile_with_an_unsourced_fact_is_refused() -> None:
    """Building a profile whose sources leave a fact out fails at once."""
    epic = get_vendor("epic")
    sources = {k: v for k, v in epic.sources.items() if k != "rate_limit"}
    with pytest.raises(ValueError, match=r"sources missing for \['rate_limit'\]"):
        dataclasses.replace(epic, sources=sources)


def test_a_profile_cannot_send_provenance_it_cannot_write() -> None:
    """A Provenance mode other than none needs Provenance among the writable types."""
    oracle = get_vendor("oracle-health")
    with pytest.raises(ValueError, match="sends Provenance it cannot write"):
        dataclasses.replace(oracle, provenance_mode=ProvenanceMode.SEPARATE)


def test_unverified_vendors_fail_safe() -> None:
    """Vendors without write-back facts get no create guard, final-only notes, no Provenance."""
    for name in ("athenaone", "veradigm", "eclinicalworks", "advancedmd"):
        profile = get_vendor(name)
        assert not profile.idempotent_create.guards_resend
        assert not profile.accepts_preliminary
        assert profile.provenance_mode is ProvenanceMode.NONE
        assert "accepts_preliminary" in profile.unverified()


def test_athenapractice_takes_rtf_and_routes_for_signing() -> None:
    """athenaPractice: RTF notes, new note per write, authenticator routes the signature."""
    profile = get_vendor("athenapractice")
    assert profile.note_media_type("text/markdown") == "text/rtf"
    assert profile.amendment_mode.value == "new-note-only"
    assert profile.authenticator.value == "routes-for-signing"


def test_epic_sends_markdown_notes_as_plain_text() -> None:
    """A Markdown note goes to Epic as text/plain (the only type Epic takes)."""
    assert get_vendor("epic").note_media_type("text/markdown") == "text/plain"
    assert get_vendor("sandbox").note_media_type("text/markdown") == "text/markdown"


# -- lossless note conversion -----------------------------------------------------------------


def test_rtf_escapes_braces_backslashes_and_non_ascii() -> None:
    """RTF output is 7-bit, escapes the RTF specials, and breaks lines with a par word."""
    rtf = encode_note("A {b} \\ c\né\t😀", "text/rtf").decode("ascii")
    assert rtf.startswith("{\\rtf1")
    assert "A \\{b\\} \\\\ c\\par\n\\u233?\\tab \\u-10179?\\u-8704?" in rtf


@given(st.text(max_size=300))
def test_rtf_round_trips_any_text(text: str) -> None:
    """Whatever the clinician approved decodes back out of the RTF exactly."""
    assert decode_note(encode_note(text, "text/rtf"), "text/rtf") == text


def test_foreign_rtf_is_refused() -> None:
    """RTF that chartgate did not write is never read as a note."""
    with pytest.raises(NoteEncodingError):
        decode_note(b"{\\rtf1\\ansi {\\b bold}}", "text/rtf")


def test_rtf_note_decodes_back_to_the_approved_text() -> None:
    """A DocumentReference built for athenaPractice carries RTF, and attachment_text inverts it."""
    note = Note(type="11506-3", title="Progress note", content_type="text/markdown", text=SOAP_NOTE)
    content = VersionContent(note=note)
    document = build_document_reference(
        NoteWrite(
            writeback_id="wb-1",
            patient=PATIENT,
            encounter=ENCOUNTER,
            author=CLINICIAN,
            content=content,
            doc_status="preliminary",
            date=datetime(2026, 11, 24, 10, 30, tzinfo=UTC),
            content_type="text/rtf",
        )
    )
    attachment = document["content"][0]["attachment"]
    assert attachment["contentType"] == "text/rtf"
    assert base64.b64decode(attachment["data"]).startswith(b"{\\rtf1")
    assert attachment_text(document) == content.note.text


# -- vendor error codes -----------------------------------------------------------------------


def _outcome(*codes: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "processing", "details": {"coding": [{"code": c}]}}
            for c in codes
        ],
    }


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("59108", VendorErrorClass.REJECT),
        ("59111", VendorErrorClass.REJECT),
        ("59012", VendorErrorClass.REJECT),
        ("59141", VendorErrorClass.DUPLICATE),
        ("59189", VendorErrorClass.DUPLICATE),
    ],
)
def test_epic_error_codes_are_classified(code: str, expected: VendorErrorClass) -> None:
    """Each Epic code seen in the field maps to what the executor must do."""
    table = get_vendor("epic").errors
    assert classify_vendor_error(table, status=422, body=_outcome(code)) is expected


def test_a_duplicate_code_wins_over_a_reject_code() -> None:
    """When one answer carries several codes, the duplicate (read the chart) wins."""
    table = get_vendor("epic").errors
    found = classify_vendor_error(table, status=422, body=_outcome("59108", "59141"))
    assert found is VendorErrorClass.DUPLICATE


def test_epic_empty_403_is_a_configuration_error() -> None:
    """Epic's 403 with an empty body means the API is not registered for the app."""
    table = get_vendor("epic").errors
    assert classify_vendor_error(table, status=403, body=None) is VendorErrorClass.CONFIGURATION


def test_unknown_codes_and_successes_are_not_classified() -> None:
    """No match (or a 2xx) gives None: the generic outcome table decides."""
    table = get_vendor("epic").errors
    assert classify_vendor_error(table, status=422, body=_outcome("12345")) is None
    assert classify_vendor_error(table, status=201, body=_outcome("59141")) is None
    assert classify_vendor_error(VendorErrorTable(), status=403, body=None) is None


# -- the gateway obeys the profile ------------------------------------------------------------


def _gateway(vendor: str, seen: list[httpx.Request]) -> FhirRestGateway:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})

    client = build_client(gate=open_gate(), transport=httpx.MockTransport(handler))
    return FhirRestGateway("https://ehr.example/R4", client=client, vendor=get_vendor(vendor))


def _note(content_type: str = "text/plain; charset=utf-8", attachments: int = 1) -> dict[str, Any]:
    data = base64.b64encode(b"note").decode()
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": {"contentType": content_type, "data": data}}] * attachments,
    }


def test_gateway_refuses_a_type_the_profile_cannot_write() -> None:
    """Writing a Provenance to Oracle Health (no Provenance write) sends nothing."""
    seen: list[httpx.Request] = []
    with pytest.raises(EhrNotAllowed, match="cannot write Provenance"):
        _gateway("oracle-health", seen).create(
            {"resourceType": "Provenance"}, if_none_exist=None, request_id="r-1"
        )
    assert seen == []


def test_gateway_refuses_a_second_attachment_epic_would_drop() -> None:
    """Epic keeps only the first attachment, so a note with two is refused before sending."""
    seen: list[httpx.Request] = []
    with pytest.raises(EhrNotAllowed, match="2 attachments"):
        _gateway("epic", seen).create(_note(attachments=2), if_none_exist=None, request_id="r")
    assert seen == []


def test_gateway_refuses_a_content_type_the_ehr_does_not_take() -> None:
    """A Markdown attachment is never sent to Epic."""
    seen: list[httpx.Request] = []
    with pytest.raises(EhrNotAllowed, match="text/markdown"):
        _gateway("epic", seen).create(_note("text/markdown"), if_none_exist=None, request_id="r")
    assert seen == []


def test_unanswerable_identifier_search_never_reads_as_absent() -> None:
    """A search by identifier on athenaPractice raises instead of returning 'no match'."""
    seen: list[httpx.Request] = []
    gateway = _gateway("athenapractice", seen)
    with pytest.raises(EhrNotAllowed, match="cannot search by identifier"):
        gateway.search("DocumentReference", {"identifier": "urn:x|1"}, request_id="r")
    assert seen == []


def test_upsert_is_refused_where_the_ehr_demands_if_match() -> None:
    """A profile requiring If-Match never gets an unconditional PUT."""
    seen: list[httpx.Request] = []
    with pytest.raises(EhrNotAllowed, match="requires If-Match"):
        _gateway("oracle-health", seen).upsert(
            {"resourceType": "DocumentReference", "id": "d1"}, request_id="r"
        )
    assert seen == []


# -- settings and the CLI ---------------------------------------------------------------------


def test_unknown_vendor_fails_settings_with_the_known_names() -> None:
    """A misspelt vendor is refused when settings load, naming the valid profiles."""
    with pytest.raises(ValidationError, match="unknown EHR vendor profile 'epik'"):
        EhrSettings(base_url="https://ehr.example/R4", vendor="epik")


def test_unknown_ehr_setting_is_refused() -> None:
    """A misspelt key under [tenants.ehr] is an error, not silently ignored."""
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        EhrSettings.model_validate({"base_url": "https://ehr.example/R4", "vendr": "epic"})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TenantSettings.model_validate(
            {"id": "a", "issuers": ["https://idp"], "ehr": {"base_url": "https://e"}, "x": 1}
        )


def _config(tmp_path: Path, vendor: str, extra: str = "") -> dict[str, str]:
    path = tmp_path / "chartgate.toml"
    path.write_text(
        '[[tenants]]\nid = "clinic-a"\nissuers = ["https://idp.example"]\n'
        f'[tenants.ehr]\nbase_url = "https://ehr.example/R4"\nvendor = "{vendor}"\n{extra}',
        encoding="utf-8",
    )
    processors = [
        {
            "id": "ehr",
            "legal_entity": "EHR Inc.",
            "role": "ehr",
            "purpose": "write-back",
            "endpoints": ["https://ehr.example/R4"],
            "phi_categories": ["clinical-notes"],
            "baa_signed": "2026-01-01",
        },
        {
            "id": "idp",
            "legal_entity": "IdP Inc.",
            "role": "identity",
            "purpose": "sign-in",
            "endpoints": ["https://idp.example"],
        },
    ]
    return {
        "CHARTGATE_CONFIG": str(path),
        "COLUMNS": "200",
        "CHARTGATE_PROCESSORS": json.dumps(processors),
    }


def test_config_check_accepts_the_cerner_alias_and_says_what_it_means(tmp_path: Path) -> None:
    """'cerner' loads, and config check says it is an alias of oracle-health."""
    result = CliRunner().invoke(app, ["config", "check"], env=_config(tmp_path, "cerner"))
    assert result.exit_code == 0, result.output
    assert "'cerner' is an alias of 'oracle-health'" in " ".join(result.output.split())


def test_config_check_refuses_an_unregistered_destination(tmp_path: Path) -> None:
    """A tenant's EHR under no processor fails config check with one line."""
    env = {**_config(tmp_path, "epic"), "CHARTGATE_PROCESSORS": "[]"}
    result = CliRunner().invoke(app, ["config", "check"], env=env)
    assert result.exit_code == 2
    assert "ehr.base_url (https://ehr.example) is not under any registered processor" in (
        " ".join(result.output.split())
    )


@pytest.mark.parametrize(
    ("vendor", "extra", "message"),
    [
        ("cernr", "", "unknown EHR vendor profile 'cernr'"),
        ("athena", "", "use 'athenaone'"),
        ("epic", 'vendr = "x"\n', "tenants.0.ehr.vendr: Extra inputs are not permitted"),
    ],
)
def test_config_check_fails_with_one_line(
    tmp_path: Path, vendor: str, extra: str, message: str
) -> None:
    """Bad vendor names and unknown keys exit 2 with one line naming the problem."""
    result = CliRunner().invoke(app, ["config", "check"], env=_config(tmp_path, vendor, extra))
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_vendors_json_lists_every_profile_with_facts_and_sources() -> None:
    """`chartgate vendors --json` is the matrix for scripts: facts, sources, unverified."""
    result = CliRunner().invoke(app, ["vendors", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == set(VENDORS)
    assert rows["oracle-health"]["aliases"] == ["cerner"]
    assert rows["epic"]["facts"]["errors"]["59141"] == "duplicate"
    assert rows["athenapractice"]["facts"]["content_types"] == ["text/rtf"]
    assert "rate_limit" in rows["athenaone"]["unverified"]


def test_vendors_table_names_every_profile() -> None:
    """The table has one row per profile; NAME shows each fact with its source."""
    result = CliRunner().invoke(app, ["vendors"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    listed = CliRunner().invoke(app, ["vendors", "--json"])
    # The table's width depends on the console the process made first; the JSON does not.
    for name in VENDORS:
        assert name in listed.output
    one = CliRunner().invoke(app, ["vendors", "cerner"], env={"COLUMNS": "220"})
    assert one.exit_code == 0, one.output
    sources = CliRunner().invoke(app, ["vendors", "cerner", "--json"])
    assert "FHIR-FACTS: create with docStatus final only" in sources.output
