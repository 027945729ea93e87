# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The shared FHIR REST client, against ``httpx.MockTransport`` handlers (no sockets)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from chartgate.adapters.ehr.fhir_rest import (
    FHIR_JSON,
    FhirRestGateway,
    ResourceLocation,
    if_match_value,
    parse_etag,
    parse_location,
    parse_retry_after,
)
from chartgate.adapters.ehr.http import build_client
from chartgate.adapters.ehr.vendors import VENDORS, VendorProfile, get_vendor
from chartgate.domain.errors import EhrAmbiguous, EhrError, EhrUnreachable
from fakes import open_gate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

BASE = "https://ehr.example/R4"
NOW = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
IDENTIFIER = "identifier=urn:chartgate:writeback|0b7c5a52-7d0e-4e0f-9d7e-2f3f3f0e6a11"


class FixedClock:
    def now(self) -> datetime:
        return NOW


class RecordingTokens:
    """A TokenSource whose tokens are tok-1, tok-2, … after each invalidation."""

    def __init__(self) -> None:
        self.generation = 1
        self.invalidations = 0

    def token(self) -> str | None:
        return f"tok-{self.generation}"

    def invalidate(self) -> None:
        self.invalidations += 1
        self.generation += 1


class Recorder:
    """A MockTransport handler that records requests and replays scripted answers."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        # A fresh copy each time: one scripted answer may serve several requests.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def fhir(status: int, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    names = {key.replace("_", "-"): value for key, value in headers.items()}
    if body is not None:
        names.setdefault("content-type", FHIR_JSON)
    return httpx.Response(status, content=content, headers=names)


def document(doc_id: str | None = None, version: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "DocumentReference", "status": "current"}
    if doc_id is not None:
        resource["id"] = doc_id
    if version is not None:
        resource["meta"] = {"versionId": version}
    return resource


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_gateway(sleeps: list[float]) -> Iterator[Callable[..., FhirRestGateway]]:
    clients: list[httpx.Client] = []

    def make(
        handler: Recorder, *, vendor: str | VendorProfile = "generic-r4", **kwargs: Any
    ) -> FhirRestGateway:
        client = build_client(gate=open_gate(), transport=httpx.MockTransport(handler))
        clients.append(client)
        profile = vendor if isinstance(vendor, VendorProfile) else get_vendor(vendor)
        return FhirRestGateway(
            BASE,
            client=client,
            vendor=profile,
            clock=FixedClock(),
            sleep=sleeps.append,
            **kwargs,
        )

    yield make
    for client in clients:
        client.close()


# -- headers --------------------------------------------------------------------------------


def test_create_sends_fhir_media_types_prefer_and_request_id(make_gateway):
    """A create POSTs FHIR JSON to [base]/Type with Accept, Prefer and X-Request-Id set."""
    handler = Recorder(fhir(201, document("d1", "1")))
    make_gateway(handler).create(document(), if_none_exist=None, request_id="req-1")

    (request,) = handler.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/DocumentReference"
    assert request.headers["accept"] == FHIR_JSON
    assert request.headers["content-type"] == FHIR_JSON
    assert request.headers["prefer"] == "return=representation"
    assert request.headers["x-request-id"] == "req-1"
    assert json.loads(request.content) == document()


def test_read_sends_no_content_type(make_gateway):
    """A read is a bodiless GET, so it carries Accept but no Content-Type."""
    handler = Recorder(fhir(200, document("d1", "4")))
    make_gateway(handler).read("DocumentReference", "d1", request_id="req-2")

    (request,) = handler.requests
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/DocumentReference/d1"
    assert request.headers["accept"] == FHIR_JSON
    assert "content-type" not in request.headers
    assert request.headers["x-request-id"] == "req-2"


def test_generic_vendor_create_sends_if_none_exist(make_gateway):
    """A conditional create sends If-None-Exist where the vendor supports it."""
    handler = Recorder(fhir(201, document("d1", "1")))
    make_gateway(handler).create(document(), if_none_exist=IDENTIFIER, request_id="r")

    assert handler.requests[0].headers["if-none-exist"] == IDENTIFIER


def test_epic_create_omits_if_none_exist(make_gateway):
    """Epic has no conditional create, so If-None-Exist is left out even when asked for."""
    handler = Recorder(fhir(201, None, location="DocumentReference/d1/_history/1"))
    make_gateway(handler, vendor="epic").create(
        document(), if_none_exist=IDENTIFIER, request_id="r"
    )

    assert "if-none-exist" not in handler.requests[0].headers


def test_update_puts_with_weak_if_match(make_gateway):
    """An update PUTs to [base]/Type/id with If-Match: W/"<version>"."""
    handler = Recorder(fhir(200, document("d1", "4")))
    make_gateway(handler).update(document("d1"), if_match="3", request_id="r")

    (request,) = handler.requests
    assert request.method == "PUT"
    assert str(request.url) == f"{BASE}/DocumentReference/d1"
    assert request.headers["if-match"] == 'W/"3"'
    assert request.headers["content-type"] == FHIR_JSON


def test_if_match_accepts_a_formatted_etag_and_refuses_garbage():
    """If-Match is built from a bare or W/-quoted version id, and a non-id is refused."""
    assert if_match_value("3") == 'W/"3"'
    assert if_match_value('W/"3"') == 'W/"3"'
    with pytest.raises(ValueError, match="version id"):
        if_match_value('3", W/"4')


def test_update_without_id_is_refused_before_sending(make_gateway):
    """An update of a resource without a valid id raises before any request is made."""
    handler = Recorder(fhir(200, document("d1", "1")))
    with pytest.raises(ValueError, match="resource id"):
        make_gateway(handler).update(document("../Patient/1"), if_match="1", request_id="r")
    assert handler.requests == []


def test_request_id_with_line_break_is_refused_before_sending(make_gateway):
    """A request id that could split a header is refused before anything leaves."""
    handler = Recorder(fhir(200, document("d1", "1")))
    with pytest.raises(ValueError, match="request_id"):
        make_gateway(handler).read("DocumentReference", "d1", request_id="a\r\nX-Evil: 1")
    assert handler.requests == []


def test_bearer_token_is_sent_when_a_token_provider_is_given(make_gateway):
    """A plain callable token provider puts its token in the Authorization header."""
    handler = Recorder(fhir(200, document("d1", "1")))
    make_gateway(handler, token_provider=lambda: "abc").read(
        "DocumentReference", "d1", request_id="r"
    )
    assert handler.requests[0].headers["authorization"] == "Bearer abc"


# -- parsing answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "version"),
    [
        ('W/"3"', "3"),
        ('"3"', "3"),
        ('w/"a-1.b"', "a-1.b"),
        ("W/3", "3"),
        ("", None),
        ('W/"bad value"', None),
        (None, None),
    ],
)
def test_etag_gives_the_version_id(header, version):
    """A weak (or strong) ETag gives the version id; anything else gives None."""
    assert parse_etag(header) == version


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "https://ehr.example/R4/DocumentReference/d1/_history/2",
            ResourceLocation("DocumentReference", "d1", "2"),
        ),
        ("DocumentReference/d1/_history/2", ResourceLocation("DocumentReference", "d1", "2")),
        ("/R4/DocumentReference/d1", ResourceLocation("DocumentReference", "d1", None)),
        (
            "https://ehr.example/R4/DocumentReference/d1/_history/2?x=1",
            ResourceLocation("DocumentReference", "d1", "2"),
        ),
        ("https://ehr.example/", None),
        ("DocumentReference", None),
        ("documentReference/d1", None),
        (None, None),
    ],
)
def test_location_gives_type_id_and_version(header, expected):
    """Absolute and relative Locations, with or without _history, give type, id and version."""
    assert parse_location(header) == expected


def test_body_meta_version_wins_over_headers(make_gateway):
    """When a body is returned, id and version come from it (meta.versionId)."""
    handler = Recorder(
        fhir(201, document("d1", "7"), etag='W/"6"', location="DocumentReference/d0/_history/5")
    )
    answer = make_gateway(handler).create(document(), if_none_exist=None, request_id="r")

    assert (answer.status, answer.resource_id, answer.version_id) == (201, "d1", "7")
    assert answer.resource == document("d1", "7")
    assert answer.etag == 'W/"6"'
    assert answer.location == "DocumentReference/d0/_history/5"


def test_empty_body_create_takes_id_and_version_from_headers(make_gateway):
    """An Epic-style empty 201 still yields type, id and version from Location and ETag."""
    handler = Recorder(fhir(201, None, location="DocumentReference/e9/_history/1", etag='W/"1"'))
    answer = make_gateway(handler, vendor="epic").create(
        document(), if_none_exist=None, request_id="r"
    )

    assert answer.ok
    assert answer.resource is None
    assert (answer.resource_type, answer.resource_id, answer.version_id) == (
        "DocumentReference",
        "e9",
        "1",
    )


def test_empty_body_create_without_etag_takes_version_from_absolute_location(make_gateway):
    """Without an ETag, the version comes from an absolute Location's _history segment."""
    handler = Recorder(fhir(201, None, location=f"{BASE}/DocumentReference/e9/_history/4"))
    answer = make_gateway(handler).create(document(), if_none_exist=None, request_id="r")

    assert (answer.resource_id, answer.version_id) == ("e9", "4")


def test_empty_body_update_keeps_the_requested_id(make_gateway):
    """An empty 200 to an update (ETag only) still names the updated resource."""
    handler = Recorder(fhir(200, None, etag='W/"5"'))
    answer = make_gateway(handler).update(document("d1"), if_match="4", request_id="r")

    assert (answer.resource_type, answer.resource_id, answer.version_id) == (
        "DocumentReference",
        "d1",
        "5",
    )


def test_operation_outcome_is_captured_on_4xx(make_gateway):
    """A 4xx OperationOutcome body lands in answer.outcome, not in answer.resource."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": "59108"}],
    }
    handler = Recorder(fhir(422, outcome))
    answer = make_gateway(handler).create(document(), if_none_exist=None, request_id="r")

    assert answer.status == 422
    assert not answer.ok
    assert answer.outcome == outcome
    assert answer.resource is None
    assert answer.resource_id is None


def test_stale_if_match_answer_comes_back_unchanged(make_gateway):
    """A 412 to a stale If-Match is returned as an answer for the executor to judge."""
    handler = Recorder(fhir(412, {"resourceType": "OperationOutcome", "issue": []}))
    answer = make_gateway(handler).update(document("d1"), if_match="1", request_id="r")

    assert answer.status == 412
    assert answer.outcome is not None
    assert len(handler.requests) == 1


def test_non_json_error_body_is_tolerated(make_gateway):
    """An HTML error page from a proxy gives an answer with no resource and no outcome."""
    html = httpx.Response(
        502, content=b"<html>Bad gateway</html>", headers={"content-type": "text/html"}
    )
    answer = make_gateway(Recorder(html)).create(document(), if_none_exist=None, request_id="r")

    assert (answer.status, answer.resource, answer.outcome) == (502, None, None)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Tue, 24 Nov 2026 10:00:30 GMT", 30.0),
        ("Tue, 24 Nov 2026 09:00:00 GMT", 0.0),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds(header, seconds):
    """Retry-After delta-seconds or HTTP-date becomes seconds; a past date is 0, junk is None."""
    assert parse_retry_after(header, now=NOW) == seconds


def test_retry_after_reaches_the_answer(make_gateway):
    """A 429 to a create carries its Retry-After (HTTP-date) in seconds on the answer."""
    handler = Recorder(fhir(429, None, retry_after="Tue, 24 Nov 2026 10:00:10 GMT"))
    answer = make_gateway(handler).create(document(), if_none_exist=None, request_id="r")

    assert (answer.status, answer.retry_after) == (429, 10.0)


# -- transport failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("refused"), EhrUnreachable),
        (httpx.ConnectTimeout("slow handshake"), EhrUnreachable),
        (httpx.PoolTimeout("pool full"), EhrUnreachable),
        (httpx.ProxyError("tunnel refused"), EhrUnreachable),
        (httpx.UnsupportedProtocol("ftp"), EhrUnreachable),
        (httpx.ReadTimeout("slow answer"), EhrAmbiguous),
        (httpx.ReadError("reset"), EhrAmbiguous),
        (httpx.RemoteProtocolError("disconnected"), EhrAmbiguous),
        (httpx.WriteTimeout("slow upload"), EhrAmbiguous),
        (httpx.WriteError("broken pipe"), EhrAmbiguous),
        (httpx.LocalProtocolError("too much data"), EhrAmbiguous),
        (httpx.CloseError("close failed"), EhrAmbiguous),
        (httpx.DecodingError("bad gzip"), EhrAmbiguous),
        (httpx.TooManyRedirects("loop"), EhrAmbiguous),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_transport_failure_is_unreachable_only_when_nothing_was_sent(
    make_gateway, failure, expected
):
    """Failures before the request was written are unreachable; all others are ambiguous."""
    gateway = make_gateway(Recorder(failure))
    with pytest.raises(EhrError) as raised:
        gateway.create(document(), if_none_exist=None, request_id="r")

    assert type(raised.value) is expected
    assert raised.value.__cause__ is failure
    assert BASE not in raised.value.message


def test_mutations_are_never_retried_on_503(make_gateway, sleeps):
    """A 503 to a create comes straight back: the executor, not the client, decides."""
    handler = Recorder(fhir(503, None, retry_after="0"))
    answer = make_gateway(handler).create(document(), if_none_exist=None, request_id="r")

    assert answer.status == 503
    assert len(handler.requests) == 1
    assert sleeps == []


def test_reads_retry_on_503_honouring_retry_after(make_gateway, sleeps):
    """A read retried after 503 and 429 waits what Retry-After asked, then succeeds."""
    handler = Recorder(
        fhir(503, None, retry_after="2"),
        fhir(429, None, retry_after="Tue, 24 Nov 2026 10:00:01 GMT"),
        fhir(200, document("d1", "3")),
    )
    answer = make_gateway(handler).read("DocumentReference", "d1", request_id="r")

    assert (answer.status, answer.version_id) == (200, "3")
    assert sleeps == [2.0, 1.0]


def test_read_retries_are_bounded(make_gateway, sleeps):
    """After max_read_retries the last 503 is returned instead of waiting forever."""
    handler = Recorder(fhir(503, None))
    answer = make_gateway(handler, max_read_retries=2).read(
        "DocumentReference", "d1", request_id="r"
    )

    assert answer.status == 503
    assert len(handler.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_read_gives_up_at_once_when_retry_after_is_too_long(make_gateway, sleeps):
    """A Retry-After beyond the wait bound is handed back rather than slept through."""
    handler = Recorder(fhir(429, None, retry_after="3600"))
    answer = make_gateway(handler).read("DocumentReference", "d1", request_id="r")

    assert (answer.status, answer.retry_after) == (429, 3600.0)
    assert sleeps == []


# -- 401 refresh ----------------------------------------------------------------------------


def test_401_invalidates_the_token_and_retries_once(make_gateway):
    """A 401 makes the TokenSource drop its token, and the request is resent once, newly signed."""
    tokens = RecordingTokens()
    handler = Recorder(fhir(401, None), fhir(201, document("d1", "1")))
    answer = make_gateway(handler, token_provider=tokens).create(
        document(), if_none_exist=None, request_id="r"
    )

    assert answer.status == 201
    assert tokens.invalidations == 1
    assert [r.headers["authorization"] for r in handler.requests] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_second_401_is_returned_without_another_refresh(make_gateway):
    """When the fresh token is refused too, the 401 comes back after exactly two requests."""
    tokens = RecordingTokens()
    handler = Recorder(fhir(401, None))
    answer = make_gateway(handler, token_provider=tokens).read(
        "DocumentReference", "d1", request_id="r"
    )

    assert answer.status == 401
    assert tokens.invalidations == 1
    assert len(handler.requests) == 2


def test_401_with_a_plain_callable_is_returned_as_is(make_gateway):
    """A token provider without invalidate() cannot refresh, so the 401 is not retried."""
    handler = Recorder(fhir(401, None))
    answer = make_gateway(handler, token_provider=lambda: "abc").read(
        "DocumentReference", "d1", request_id="r"
    )

    assert answer.status == 401
    assert len(handler.requests) == 1


def test_step_up_challenge_is_not_answered_with_a_refresh(make_gateway):
    """A 401 asking for stronger user authentication (RFC 9470) is returned, not retried."""
    tokens = RecordingTokens()
    challenge = 'Bearer error="insufficient_user_authentication", acr_values="mfa"'
    handler = Recorder(fhir(401, None, www_authenticate=challenge))
    answer = make_gateway(handler, token_provider=tokens).read(
        "DocumentReference", "d1", request_id="r"
    )

    assert answer.status == 401
    assert tokens.invalidations == 0
    assert len(handler.requests) == 1


# -- search ---------------------------------------------------------------------------------


def searchset(*resources: dict[str, Any], next_url: str | None = None, **extra: Any) -> dict:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
        "link": [{"relation": "self", "url": f"{BASE}/DocumentReference"}],
    }
    if next_url is not None:
        bundle["link"].append({"relation": "next", "url": next_url})
    bundle["entry"].extend(extra.get("more_entries", []))
    return bundle


def test_search_sends_params_and_follows_next_links(make_gateway):
    """Search passes its parameters, then follows next links, collecting every page's matches."""
    handler = Recorder(
        fhir(200, searchset(document("a"), next_url=f"{BASE}?_getpages=x&_offset=1")),
        fhir(200, searchset(document("b"), next_url="DocumentReference?_offset=2")),
        fhir(200, searchset(document("c"))),
    )
    found = make_gateway(handler).search(
        "DocumentReference", {"identifier": "urn:chartgate:writeback|u1"}, request_id="r"
    )

    assert [r["id"] for r in found] == ["a", "b", "c"]
    first, second, third = handler.requests
    assert first.url.params["identifier"] == "urn:chartgate:writeback|u1"
    assert str(second.url) == f"{BASE}?_getpages=x&_offset=1"
    assert str(third.url) == f"{BASE}/DocumentReference?_offset=2"
    assert all(r.headers["x-request-id"] == "r" for r in handler.requests)


def test_search_page_bound_raises_rather_than_truncate(make_gateway):
    """A search with more pages than the bound raises instead of returning a partial list."""
    handler = Recorder(
        fhir(200, searchset(document("a"), next_url=f"{BASE}/DocumentReference?p=n"))
    )
    with pytest.raises(EhrError, match="more than 3 result pages"):
        make_gateway(handler, max_search_pages=3).search("DocumentReference", {}, request_id="r")
    assert len(handler.requests) == 3


def test_search_refuses_a_next_link_to_another_origin(make_gateway):
    """A next link on another host is refused, so the bearer token never leaves the EHR."""
    handler = Recorder(fhir(200, searchset(document("a"), next_url="https://evil.example/R4?p=2")))
    with pytest.raises(EhrError, match="outside the EHR's origin"):
        make_gateway(handler).search("DocumentReference", {}, request_id="r")
    assert len(handler.requests) == 1


def test_search_error_answer_raises_with_issue_codes_only(make_gateway):
    """A non-2xx search raises naming status and issue codes, never the diagnostics text."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "Jane Doe"}],
    }
    handler = Recorder(fhir(400, outcome))
    with pytest.raises(EhrError, match=r"HTTP 400 \(issue codes: invalid\)") as raised:
        make_gateway(handler).search("DocumentReference", {}, request_id="r")
    assert "Jane" not in raised.value.message


def test_search_skips_included_and_outcome_entries(make_gateway):
    """Only match entries (or mode-less entries of the searched type) are results."""
    bundle = searchset(
        document("a"),
        more_entries=[
            {"resource": {"resourceType": "Patient", "id": "p"}, "search": {"mode": "include"}},
            {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
            {"resource": document("b")},
            {"resource": {"resourceType": "OperationOutcome"}},
        ],
    )
    found = make_gateway(Recorder(fhir(200, bundle))).search(
        "DocumentReference", {}, request_id="r"
    )
    assert [r["id"] for r in found] == ["a", "b"]


def test_search_retries_a_503_page(make_gateway, sleeps):
    """Search pages are safe reads, so a 503 page is retried within the bound."""
    handler = Recorder(fhir(503, None, retry_after="1"), fhir(200, searchset(document("a"))))
    found = make_gateway(handler).search("DocumentReference", {}, request_id="r")

    assert [r["id"] for r in found] == ["a"]
    assert sleeps == [1.0]


# -- construction and vendor profiles -------------------------------------------------------


def test_base_url_must_be_http():
    """A gateway refuses a base URL that is not http(s)."""
    with build_client(gate=open_gate()) as client, pytest.raises(ValueError, match="base_url"):
        FhirRestGateway("ftp://ehr.example/R4", client=client, vendor=get_vendor("generic-r4"))


def test_build_client_sets_timeouts_and_no_redirects():
    """The built client has short connect/pool timeouts, the read budget, and no redirects."""
    with build_client(
        gate=open_gate(), timeout_seconds=12.0, connect_timeout_seconds=3.0
    ) as client:
        assert client.timeout.connect == 3.0
        assert client.timeout.read == 12.0
        assert client.timeout.write == 12.0
        assert client.timeout.pool == 5.0
        assert client.follow_redirects is False


def test_redirects_come_back_as_answers(make_gateway):
    """A 307 to a create is returned, never silently re-POSTed elsewhere."""
    handler = Recorder(fhir(307, None, location="https://other.example/R4/DocumentReference"))
    answer = make_gateway(handler).create(document(), if_none_exist=None, request_id="r")

    assert answer.status == 307
    assert answer.resource_id is None
    assert len(handler.requests) == 1


def test_unknown_vendor_names_the_known_ones():
    """get_vendor refuses an unknown name and lists the valid ones."""
    with pytest.raises(ValueError, match="unknown EHR vendor profile 'epik'; known: advancedmd"):
        get_vendor("epik")


def test_registry_covers_the_documented_vendors():
    """Every vendor named in issue 13 has a profile filed under its own name."""
    expected = {
        "generic-r4",
        "sandbox",
        "medplum",
        "epic",
        "oracle-health",
        "athenaone",
        "athenapractice",
        "veradigm",
        "eclinicalworks",
        "advancedmd",
    }
    assert set(VENDORS) == expected
    assert all(name == profile.name for name, profile in VENDORS.items())


def test_cerner_is_an_alias_of_oracle_health():
    """The old name 'cerner' still works and means the Oracle Health Millennium profile."""
    assert get_vendor("cerner") is get_vendor("oracle-health")


def test_the_split_athena_profile_says_which_to_use():
    """'athena' is refused with one line naming athenaone and athenapractice."""
    with pytest.raises(ValueError, match=r"use 'athenaone' .* or 'athenapractice'"):
        get_vendor("athena")


def test_epic_and_oracle_profiles_encode_their_quirks():
    """Epic: no conditional create, text/plain only, one attachment; Oracle: final notes only."""
    epic, oracle = get_vendor("epic"), get_vendor("oracle-health")
    assert not epic.supports_conditional_create
    assert epic.content_types == ("text/plain",)
    assert epic.max_attachments == 1
    assert not oracle.accepts_preliminary


def test_content_type_match_ignores_case_and_blanks():
    """Attachment MIME types compare case-insensitively and ignore blanks around ';'."""
    generic = get_vendor("generic-r4")
    assert generic.accepts_content_type("text/plain;charset=UTF-8")
    assert not generic.accepts_content_type("text/html")


def test_the_ehr_client_turns_nagle_off() -> None:
    """Write requests are not held back waiting for a delayed ACK (TCP_NODELAY is set)."""
    import socket  # noqa: PLC0415

    from chartgate.adapters.ehr.http import build_client  # noqa: PLC0415

    with build_client(gate=open_gate()) as client:
        options = client._transport._inner._pool._socket_options  # type: ignore[attr-defined]
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in options
