# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The shared FHIR R4 REST client: the ``EhrGateway`` every vendor adapter is built on.

Why our own client (``ECOSYSTEM.md``): write-back needs exact control of ``If-Match``,
``If-None-Exist``, ``Prefer``, ``ETag``/``Location`` parsing and retries, which general FHIR
clients hide. The rules followed here are FHIR R4 http.html
(https://hl7.org/fhir/R4/http.html): create, conditional create, version-aware update, read,
search, ``Prefer: return=representation``, ETag as the weak version id.

What this client decides and what it leaves to the executor: every HTTP answer, 2xx or not,
comes back as an ``EhrAnswer``. Only safe reads (read, search) are retried here, on 429/503,
honouring ``Retry-After`` within a small bound. A mutation is never retried, with one exception:
a 401 answer means the request was refused before it acted (RFC 9110 §15.5.2), so after the
token source is invalidated the request is sent once more with a fresh token.

What the vendor profile decides here (``domain/vendor_profile.py``): before anything is sent,
a write of a type the EHR cannot take, a note with more attachments or bytes than it keeps,
an ``upsert`` where the EHR demands ``If-Match``, and a search by ``identifier`` or ``_tag``
the EHR cannot answer are refused with ``EhrNotAllowed`` (nothing was sent; an unanswerable
search must never read as "not found"). Every request first takes a token from the tenant's
rate governor (``rate.py``), and every answer is shown to it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable
from urllib.parse import urljoin, urlsplit

from chartgate.adapters.ehr import fhir_wire as wire
from chartgate.adapters.ehr.fhir_wire import (
    ResourceLocation,
    if_match_value,
    parse_etag,
    parse_location,
)
from chartgate.adapters.ehr.http import HttpClient, RawResponse, parse_retry_after, send
from chartgate.adapters.system import SystemClock
from chartgate.domain.errors import EhrError, EhrNotAllowed
from chartgate.domain.fhir_codes import FHIR_JSON
from chartgate.service.ports import Clock, EhrAnswer, JsonObject, SearchParams

if TYPE_CHECKING:
    from chartgate.adapters.ehr.rate import RateGovernor
    from chartgate.domain.vendor_profile import VendorProfile

__all__ = [
    "FHIR_JSON",
    "FhirRestGateway",
    "ResourceLocation",
    "TokenProvider",
    "TokenSource",
    "if_match_value",
    "parse_etag",
    "parse_location",
    "parse_retry_after",
]


_HTTP_UNAUTHORIZED = 401
_RETRYABLE_READ_STATUSES = frozenset({429, 503})
_OK_LOW, _OK_HIGH = 200, 300


@runtime_checkable
class TokenSource(Protocol):
    """A bearer-token supplier that can be told its token was refused.

    ``token()`` returns the current access token (``None`` for an EHR without auth, such as the
    local sandbox) and may cache it; ``invalidate()`` drops the cache after a 401 so the next
    ``token()`` fetches a new one.
    """

    def token(self) -> str | None:
        """Return the access token to send, fetching one if none is cached."""
        ...

    def invalidate(self) -> None:
        """Forget the cached token: the EHR refused it."""
        ...


TokenProvider: TypeAlias = TokenSource | Callable[[], str | None]
"""A ``TokenSource`` (refresh-once on 401) or a plain callable (no refresh possible)."""


class FhirRestGateway:
    """``EhrGateway`` over FHIR R4 REST for one tenant's EHR.

    Sends ``Accept``/``Content-Type: application/fhir+json``, ``Prefer: return=representation``
    (Epic answers with an empty body otherwise) and ``X-Request-Id`` on every request, plus
    ``If-None-Exist`` on creates only where ``vendor.supports_conditional_create``. When a
    conditional create is asked for on a vendor without it, the header is left out (sending it
    to Epic would not guard anything): the executor must rely on its database claim and
    identifier search there, which ``vendor`` tells it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: HttpClient,
        vendor: VendorProfile,
        token_provider: TokenProvider | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_read_retries: int = 2,
        max_retry_wait_seconds: float = 5.0,
        max_search_pages: int = 20,
        governor: RateGovernor | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
            raise ValueError("base_url must be an http(s) URL without a query")
        self._base = base_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._client = client
        self.vendor = vendor
        self._token_provider = token_provider
        self._clock: Clock = clock or SystemClock()
        self._sleep = sleep
        self._max_read_retries = max_read_retries
        self._max_retry_wait = max_retry_wait_seconds
        self._max_search_pages = max_search_pages
        self._governor = governor
        self._write_headers: dict[str, str] = {}  # X-Provenance (``with_provenance``)

    # -- EhrGateway ---------------------------------------------------------------------------

    def with_provenance(self, provenance: JsonObject) -> FhirRestGateway:
        """This gateway whose writes carry ``provenance`` in ``X-Provenance`` (R4 http.html)."""
        view = copy.copy(self)
        view._write_headers = {"X-Provenance": wire.provenance_header(provenance)}  # noqa: SLF001
        return view

    def transaction(self, bundle: JsonObject, *, request_id: str) -> EhrAnswer:
        """POST a transaction Bundle to the base: all of it lands, or none (R4 http.html)."""
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            wire.check_write(self.vendor, wire.resource_type_of(resource), resource)
        raw = self._exchange(
            "POST",
            self._base,
            what="transaction",
            request_id=request_id,
            headers={"Content-Type": FHIR_JSON},
            content=wire.encode(bundle),
            safe=False,
        )
        return wire.relative_locations(self._answer(raw, resource_type="Bundle", resource_id=None))

    def create(
        self, resource: JsonObject, *, if_none_exist: str | None, request_id: str
    ) -> EhrAnswer:
        """POST the resource, conditionally when asked and the vendor supports it.

        https://hl7.org/fhir/R4/http.html#ccreate: 0 matches → 201, 1 → 200 (nothing created),
        several → 412.
        """
        resource_type = wire.resource_type_of(resource)
        wire.check_write(self.vendor, resource_type, resource)
        headers = {"Content-Type": FHIR_JSON, **self._write_headers}
        if if_none_exist is not None and self.vendor.supports_conditional_create:
            headers["If-None-Exist"] = wire.header_safe(if_none_exist, "if_none_exist")
        raw = self._exchange(
            "POST",
            f"{self._base}/{resource_type}",
            what=f"create {resource_type}",
            request_id=request_id,
            headers=headers,
            content=wire.encode(resource),
            safe=False,
        )
        return self._answer(raw, resource_type=resource_type, resource_id=None)

    def update(self, resource: JsonObject, *, if_match: str, request_id: str) -> EhrAnswer:
        """PUT the resource with ``If-Match: W/"<if_match>"``.

        A stale version gives 412, or 409 on HAPI (https://hl7.org/fhir/R4/http.html#concurrency);
        the answer comes back as is for the executor to call a conflict.
        """
        resource_type = wire.resource_type_of(resource)
        resource_id = wire.checked_id(resource.get("id"))
        wire.check_write(self.vendor, resource_type, resource)
        raw = self._exchange(
            "PUT",
            f"{self._base}/{resource_type}/{resource_id}",
            what=f"update {resource_type}",
            request_id=request_id,
            headers={
                "Content-Type": FHIR_JSON,
                "If-Match": if_match_value(if_match),
                **self._write_headers,
            },
            content=wire.encode(resource),
            safe=False,
        )
        return self._answer(raw, resource_type=resource_type, resource_id=resource_id)

    def create_with_id(self, resource: JsonObject, *, request_id: str) -> EhrAnswer:
        """PUT the resource at its client-assigned id with ``If-None-Match: *``.

        Race-free create (FHIR-FACTS, "race-free create"): when any version exists the server
        answers 412 (or 304) and changes nothing, so a resend can never make a second copy.
        Only for vendors whose profile says they accept client-assigned ids.
        """
        wire.check_write(self.vendor, wire.resource_type_of(resource), resource)
        return self._put_at_own_id(
            resource,
            verb="create",
            headers={"If-None-Match": "*", **self._write_headers},
            request_id=request_id,
        )

    def upsert(self, resource: JsonObject, *, request_id: str) -> EhrAnswer:
        """PUT the resource at its own id without ``If-Match`` ("update as create").

        Only for resources whose id we own and whose content is fixed by that id (audit
        export: AuditEvent ids derive from the ledger position), where a second PUT must
        replace, never duplicate (https://hl7.org/fhir/R4/http.html#upsert). Never for
        chart content: those updates always carry ``If-Match``.
        """
        if self.vendor.requires_if_match:
            raise EhrNotAllowed(
                f"upsert {wire.resource_type_of(resource)}: the {self.vendor.name} profile requires"
                " If-Match; nothing was sent"
            )
        return self._put_at_own_id(
            resource, verb="upsert", headers={"Prefer": "return=minimal"}, request_id=request_id
        )

    def _put_at_own_id(
        self, resource: JsonObject, *, verb: str, headers: dict[str, str], request_id: str
    ) -> EhrAnswer:
        resource_type = wire.resource_type_of(resource)
        resource_id = wire.checked_id(resource.get("id"))
        raw = self._exchange(
            "PUT",
            f"{self._base}/{resource_type}/{resource_id}",
            what=f"{verb} {resource_type}",
            request_id=request_id,
            headers={"Content-Type": FHIR_JSON, **headers},
            content=wire.encode(resource),
            safe=False,
        )
        return self._answer(raw, resource_type=resource_type, resource_id=resource_id)

    def read(self, resource_type: str, resource_id: str, *, request_id: str) -> EhrAnswer:
        """GET the current version of one resource (https://hl7.org/fhir/R4/http.html#read)."""
        resource_type = wire.checked_type(resource_type)
        resource_id = wire.checked_id(resource_id)
        raw = self._exchange(
            "GET",
            f"{self._base}/{resource_type}/{resource_id}",
            what=f"read {resource_type}",
            request_id=request_id,
            headers={},
            safe=True,
        )
        return self._answer(raw, resource_type=resource_type, resource_id=resource_id)

    def vread(
        self, resource_type: str, resource_id: str, version_id: str, *, request_id: str
    ) -> EhrAnswer:
        """GET one version (https://hl7.org/fhir/R4/http.html#vread); EHRs may answer 404/405."""
        resource_type = wire.checked_type(resource_type)
        resource_id = wire.checked_id(resource_id)
        version_id = wire.checked_id(version_id)
        raw = self._exchange(
            "GET",
            f"{self._base}/{resource_type}/{resource_id}/_history/{version_id}",
            what=f"vread {resource_type}",
            request_id=request_id,
            headers={},
            safe=True,
        )
        return self._answer(raw, resource_type=resource_type, resource_id=resource_id)

    def search(
        self, resource_type: str, params: SearchParams, *, request_id: str
    ) -> list[JsonObject]:
        """Search and return the matching resources, following ``next`` links.

        Raises ``EhrError`` rather than return a partial or empty list when the EHR answers
        non-2xx, does not answer with a Bundle, links a page on another origin (our token would
        go with it) or has more than ``max_search_pages`` pages: reconciliation reads "no
        match" as "never landed", so an incomplete answer must never look like one.
        """
        resource_type = wire.checked_type(resource_type)
        what = f"search {resource_type}"
        self._check_search(what, params)
        url = f"{self._base}/{resource_type}"
        query: SearchParams | None = params
        matches: list[JsonObject] = []
        for _ in range(self._max_search_pages):
            raw = self._exchange(
                "GET", url, what=what, request_id=request_id, headers={}, params=query, safe=True
            )
            bundle = wire.json_object(raw.content)
            if not _OK_LOW <= raw.status < _OK_HIGH:
                raise EhrError(
                    f"{what}: the EHR answered HTTP {raw.status}{wire.issue_codes(bundle)}",
                    retry_after=parse_retry_after(
                        raw.headers.get("retry-after"), now=self._clock.now()
                    ),
                )
            if bundle is None or bundle.get("resourceType") != "Bundle":
                raise EhrError(f"{what}: the EHR did not answer with a Bundle")
            matches.extend(wire.search_matches(bundle, resource_type))
            next_url = wire.next_link(bundle)
            if next_url is None:
                return matches
            url, query = self._same_origin(next_url, what=what), None
        raise EhrError(f"{what}: more than {self._max_search_pages} result pages")

    # -- internals ----------------------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        what: str,
        request_id: str,
        headers: Mapping[str, str],
        safe: bool,
        content: bytes | None = None,
        params: SearchParams | None = None,
    ) -> RawResponse:
        """Send with auth, refresh-once on 401 and (reads only) bounded 429/503 retries."""
        base_headers = {
            "Accept": FHIR_JSON,
            "Prefer": "return=representation",
            "X-Request-Id": wire.header_safe(request_id, "request_id"),
            **headers,
        }
        refreshed = False
        retries = 0
        while True:
            if self._governor is not None:
                self._governor.acquire(what)
            raw = send(
                self._client,
                method,
                url,
                what=what,
                headers={**base_headers, **self._auth_header()},
                content=content,
                params=params,
            )
            if self._governor is not None:
                self._governor.observe(raw.status, raw.headers)
            if raw.status == _HTTP_UNAUTHORIZED and not refreshed and self._can_refresh(raw):
                refreshed = True
                self._refresh()
                continue
            if safe and raw.status in _RETRYABLE_READ_STATUSES and retries < self._max_read_retries:
                wait = self._retry_wait(raw, retries)
                if wait is not None:
                    retries += 1
                    self._sleep(wait)
                    continue
            return raw

    def _answer(
        self, raw: RawResponse, *, resource_type: str, resource_id: str | None
    ) -> EhrAnswer:
        """Reduce one HTTP answer to an ``EhrAnswer`` (``fhir_wire.answer_of``)."""
        return wire.answer_of(
            raw, resource_type=resource_type, resource_id=resource_id, now=self._clock.now()
        )

    def _check_search(self, what: str, params: SearchParams) -> None:
        """Refuse a search the EHR cannot answer: an empty result would read as "absent"."""
        unsupported = [
            name
            for name, supported in (
                ("identifier", self.vendor.identifier_search),
                ("_tag", self.vendor.tag_search),
            )
            if name in params and not supported
        ]
        if unsupported:
            raise EhrNotAllowed(
                f"{what}: the {self.vendor.name} profile cannot search by"
                f" {', '.join(unsupported)}; nothing was sent"
            )

    def _auth_header(self) -> dict[str, str]:
        provider = self._token_provider
        if provider is None:
            return {}
        token = provider.token() if isinstance(provider, TokenSource) else provider()
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def _can_refresh(self, raw: RawResponse) -> bool:
        # A step-up challenge (RFC 9470) needs a human to re-authenticate: a fresh token at the
        # same assurance level would be refused again.
        challenge = raw.headers.get("www-authenticate", "")
        return (
            isinstance(self._token_provider, TokenSource)
            and "insufficient_user_authentication" not in challenge
        )

    def _refresh(self) -> None:
        if isinstance(self._token_provider, TokenSource):
            self._token_provider.invalidate()

    def _retry_wait(self, raw: RawResponse, retries: int) -> float | None:
        """Seconds to wait before retrying a read, or ``None`` to give the answer back now."""
        asked = parse_retry_after(raw.headers.get("retry-after"), now=self._clock.now())
        wait = asked if asked is not None else 0.5 * 2**retries
        return wait if wait <= self._max_retry_wait else None

    def _same_origin(self, link: str, *, what: str) -> str:
        absolute = urljoin(f"{self._base}/", link)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.netloc.lower()) != self._origin:
            raise EhrError(f"{what}: a next link points outside the EHR's origin")
        return absolute
