"""The processor (BAA) registry: URL matching, BAA status by date, the gate and startup check."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from chartgate.adapters.ehr.gate import ProcessorGate, ProcessorRefused, Refusal
from chartgate.adapters.ehr.http import build_client, send
from chartgate.adapters.processors import require_registered
from chartgate.domain.errors import EhrUnreachable, ProcessorNotRegistered
from chartgate.domain.processors import BaaStatus, Processor, ProcessorRegistry
from chartgate.settings import EhrSettings, ProcessorSettings, Settings, TenantSettings

EHR = Processor(
    id="clinic-ehr",
    legal_entity="Clinic EHR Inc.",
    role="ehr",
    purpose="write-back",
    endpoints=("https://ehr.example.org/r4",),
    phi_categories=("clinical-notes",),
    baa_signed=date(2026, 1, 1),
    baa_expires=date(2026, 12, 31),
)


def test_url_under_an_endpoint_prefix_belongs_to_its_processor() -> None:
    """A URL below the prefix path matches; a sibling path or another host does not."""
    registry = ProcessorRegistry([EHR])
    assert registry.for_url("https://ehr.example.org/r4/DocumentReference") is EHR
    assert registry.for_url("https://ehr.example.org:443/r4") is EHR
    assert registry.for_url("https://ehr.example.org/r4x/Patient") is None
    assert registry.for_url("https://evil.example.org/r4") is None
    assert registry.for_url("http://ehr.example.org/r4") is None


def test_baa_status_follows_the_calendar() -> None:
    """Active through the expiry day, expired after; no PHI means no BAA is needed."""
    assert EHR.baa_status(date(2026, 12, 31)) is BaaStatus.ACTIVE
    assert EHR.baa_status(date(2027, 1, 1)) is BaaStatus.EXPIRED
    unsigned = Processor(id="x", legal_entity="X", role="llm", purpose="p", phi_categories=("a",))
    assert unsigned.baa_status(date(2026, 6, 1)) is BaaStatus.MISSING
    idp = Processor(id="idp", legal_entity="IdP", role="identity", purpose="keys")
    assert idp.baa_status(date(2030, 1, 1)) is BaaStatus.NOT_REQUIRED


def test_duplicate_processor_ids_are_refused() -> None:
    """Two entries with one id would make the report ambiguous."""
    with pytest.raises(ValueError, match="unique"):
        ProcessorRegistry([EHR, EHR])


def test_expired_baa_refuses_each_call_before_sending_and_reports_it() -> None:
    """After expiry nothing reaches the network; the refusal is reported once per call."""
    sent: list[httpx.Request] = []
    refusals: list[Refusal] = []
    today = [date(2026, 12, 31)]
    gate = ProcessorGate(
        ProcessorRegistry([EHR]), today=lambda: today[0], on_refused=refusals.append
    ).bound(tenants=("clinic-a",), purpose="ehr")

    def network(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    with build_client(gate=gate, transport=httpx.MockTransport(network)) as client:
        url = "https://ehr.example.org/r4/Patient/1"
        assert send(client, "GET", url, what="read Patient", headers={}).status == 200
        today[0] = date(2027, 1, 1)
        with pytest.raises(EhrUnreachable, match="expired"):
            send(client, "GET", url, what="read Patient", headers={})
        with pytest.raises(ProcessorRefused):
            client.get(url)
    assert len(sent) == 1
    assert [(r.status, r.processor, r.tenants) for r in refusals] == [
        ("expired", "clinic-ehr", ("clinic-a",)),
        ("expired", "clinic-ehr", ("clinic-a",)),
    ]
    assert refusals[0].origin == "https://ehr.example.org"


def test_unregistered_destination_is_refused_by_the_gate() -> None:
    """A URL under no processor never leaves, whatever the client was built for."""
    refusals: list[Refusal] = []
    gate = ProcessorGate(
        ProcessorRegistry([EHR]), today=lambda: date(2026, 6, 1), on_refused=refusals.append
    )
    transport = httpx.MockTransport(lambda _request: httpx.Response(200))
    with build_client(gate=gate, transport=transport) as client, pytest.raises(ProcessorRefused):
        client.post("https://elsewhere.example.net/hook", content=b"{}")
    assert refusals[0].status == "unregistered"
    assert refusals[0].processor is None


def _settings(**extra: object) -> Settings:
    extra.setdefault("processors", [])
    return Settings(
        dev_mode=False,
        tenants=[
            TenantSettings(
                id="clinic-a",
                issuers=["https://idp.example.org"],
                ehr=EhrSettings(base_url="https://ehr.example.org/r4"),
            )
        ],
        **extra,
    )


def test_startup_refuses_a_configured_destination_that_is_not_registered() -> None:
    """The EHR base URL of a tenant must be under a registered processor."""
    with pytest.raises(ProcessorNotRegistered, match=r"tenant clinic-a: ehr\.base_url"):
        require_registered(_settings())


def test_startup_accepts_when_every_destination_is_registered() -> None:
    """EHR, issuer and sink each under a processor: no refusal."""
    processors = [
        ProcessorSettings(
            id="ehr",
            legal_entity="Clinic EHR Inc.",
            role="ehr",
            purpose="write-back",
            endpoints=["https://ehr.example.org/r4"],
            phi_categories=["clinical-notes"],
            baa_signed=date(2026, 1, 1),
        ),
        ProcessorSettings(
            id="idp",
            legal_entity="IdP Inc.",
            role="identity",
            purpose="sign-in",
            endpoints=["https://idp.example.org"],
        ),
        ProcessorSettings(
            id="sink",
            legal_entity="Audit Repo LLC",
            role="audit-sink",
            purpose="audit copies",
            endpoints=["https://audit.example.org/fhir"],
            phi_categories=["audit-metadata"],
            baa_signed=date(2026, 1, 1),
        ),
    ]
    require_registered(
        _settings(processors=processors, audit_sink_url="https://audit.example.org/fhir")
    )
    with pytest.raises(ProcessorNotRegistered, match="audit_sink_url"):
        require_registered(
            _settings(processors=processors, audit_sink_url="https://other.example.org/fhir")
        )


def test_webhook_urls_are_https_outside_dev_mode() -> None:
    """A loopback http receiver is accepted only in dev mode; https always."""
    from chartgate.domain.errors import InputError  # noqa: PLC0415
    from chartgate.service.webhooks import _check_url  # noqa: PLC0415

    assert _check_url("http://127.0.0.1:9000/hook", dev_mode=True)
    assert _check_url("https://hooks.example.org/x", dev_mode=False)
    with pytest.raises(InputError, match="https"):
        _check_url("http://127.0.0.1:9000/hook", dev_mode=False)


def test_processors_command_lists_statuses_and_exits_1_on_a_lapsed_baa() -> None:
    """``chartgate processors --json --on`` shows each BAA on that day; a lapse needs attention."""
    import json  # noqa: PLC0415

    from typer.testing import CliRunner  # noqa: PLC0415

    from chartgate.cli.main import app  # noqa: PLC0415

    processors = [
        {
            "id": "llm",
            "legal_entity": "LLM Inc.",
            "role": "llm",
            "purpose": "drafting",
            "endpoints": ["https://llm.example.com/v1"],
            "phi_categories": ["transcripts"],
            "baa_signed": "2026-01-01",
            "baa_expires": "2026-12-31",
        }
    ]
    env = {"CHARTGATE_PROCESSORS": json.dumps(processors), "CHARTGATE_CONFIG": ""}
    before = CliRunner().invoke(app, ["processors", "--json", "--on", "2026-12-31"], env=env)
    assert before.exit_code == 0, before.output
    assert json.loads(before.output)["processors"][0]["baa_status"] == "active"
    after = CliRunner().invoke(app, ["processors", "--json", "--on", "2027-01-01"], env=env)
    assert after.exit_code == 1
    report = json.loads(after.output)
    assert report["processors"][0]["baa_status"] == "expired"
    assert report["attention"] == ["processor llm"]
    bad = CliRunner().invoke(app, ["processors", "--on", "tomorrow"], env=env)
    assert bad.exit_code == 2
