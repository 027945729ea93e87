"""``http.send`` parses an endpoint URL once per process and sends what it sent before (issue 20).

httpx parses a string URL on every request; the two chart reads of every approval paid that
parse each time. An endpoint without a query is now parsed once and reused; the request on
the wire is the same (scheme, host, path, the query built from ``params``), and a URL that
carries its own query (a ``next`` page link) is not kept.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from chartgate.adapters.ehr import http
from chartgate.adapters.ehr.http import ProcessorGate, build_client, send
from chartgate.domain.errors import EhrUnreachable
from chartgate.domain.processors import ProcessorRegistry
from fakes import open_gate


def _client(seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"{}")

    return build_client(gate=open_gate(), transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        (
            "https://ehr.example/fhir/Patient",
            {"_id": "p 1"},
            "https://ehr.example/fhir/Patient?_id=p+1",
        ),
        (
            "https://ehr.example/fhir/Encounter",
            {"patient": "Patient/p-1", "status": ("a", "b")},
            "https://ehr.example/fhir/Encounter?patient=Patient%2Fp-1&status=a&status=b",
        ),
        ("https://ehr.example/fhir/Patient/p-1", None, "https://ehr.example/fhir/Patient/p-1"),
        (
            "https://ehr.example/fhir/Patient?_getpages=x&_offset=10",
            None,
            "https://ehr.example/fhir/Patient?_getpages=x&_offset=10",
        ),
    ],
)
def test_the_request_on_the_wire_is_the_same_twice(
    url: str, params: dict[str, str | tuple[str, ...]] | None, expected: str
) -> None:
    """First and second send of one endpoint: the same URL, as httpx builds it from a string."""
    seen: list[httpx.Request] = []
    with _client(seen) as client:
        for _ in range(2):
            send(client, "GET", url, what="read", headers={"Accept": "x"}, params=params)
        reference = client.build_request("GET", url, params=params).url
    assert [str(r.url) for r in seen] == [expected, expected]
    assert len(seen) == 1 or seen[0].url == seen[1].url
    assert seen[0].url == reference


def test_an_endpoint_is_parsed_once_and_a_paged_link_is_not_kept() -> None:
    """The second send of an endpoint reuses its parse; a URL with a query is never cached."""
    http._parsed_once.cache_clear()
    seen: list[httpx.Request] = []
    with _client(seen) as client:
        for _ in range(3):
            send(client, "GET", "https://ehr.example/fhir/Patient", what="r", headers={})
        send(client, "GET", "https://ehr.example/fhir/Patient?page=2", what="r", headers={})
    info = http._parsed_once.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 2, 1)


def test_a_refused_destination_is_still_refused_on_the_reused_url() -> None:
    """The processor gate sees every request, the parsed-once URL included."""
    seen: list[httpx.Request] = []
    with _client(seen) as client:
        send(client, "GET", "https://ehr.example/fhir/Patient", what="r", headers={})
    assert len(seen) == 1
    nobody = ProcessorGate(ProcessorRegistry([]), today=lambda: date(2026, 1, 1))
    closed = build_client(
        gate=nobody, transport=httpx.MockTransport(lambda _r: httpx.Response(200))
    )
    with closed, pytest.raises(EhrUnreachable):
        send(closed, "GET", "https://ehr.example/fhir/Patient", what="r", headers={})
