# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""The one seam to the HTTP library: the only client factory, send, classify failures.

Why one module: httpx has had no release since 2024-12 and Pydantic's ``httpx2`` may replace it
(``ECOSYSTEM.md``). Everything EHR-facing imports the client type, ``send`` and ``RawResponse``
from here, so a swap touches this file only.

Why one factory (ADR 0021): every outbound client in chartgate (EHR, token endpoint, audit
sink, webhooks, identity providers) is made by ``build_client``, which puts the processor gate
(``gate.py``) in front of its transport: no request leaves unless its destination is a
registered processor with its BAA in force. ``tests/unit/test_one_http_client.py`` fails on
any other HTTP client construction under ``src/``.

Why the classification matters: exactly-once write-back (``ARCHITECTURE.md``) hinges on one
question asked of every failed request, *can it have landed?* ``EhrUnreachable`` promises "no
byte of this request reached the server", so the executor may resend it; ``EhrAmbiguous`` says
"it may have landed", so the executor must read the chart back before doing anything else.
Mistaking a landed create for an unreachable one can put a second note into a patient's chart;
the opposite mistake costs one reconciliation read. Hence the rule: a failure is
``EhrUnreachable`` only when the library guarantees the request was never written to a
connection; everything else, including failures we do not recognise, is ``EhrAmbiguous``.

=============================  ================  ===============================================
exception (httpx 0.28)         classified as     why
=============================  ================  ===============================================
``ConnectError``               EhrUnreachable    DNS, refused, reset or TLS failure while opening
                                                 a connection: no request byte written yet
``ConnectTimeout``             EhrUnreachable    TCP/TLS handshake did not finish in time; the
                                                 request is written only after it does
``PoolTimeout``                EhrUnreachable    no pooled connection became free; the request
                                                 was never handed to a connection
``ProxyError``                 EhrUnreachable    the proxy refused the CONNECT/SOCKS tunnel; the
                                                 request to the EHR is sent only through it
``UnsupportedProtocol``        EhrUnreachable    the URL's scheme cannot be spoken; nothing sent
``ReadTimeout``                EhrAmbiguous      the whole request was written; the server may
                                                 have committed and then been slow to answer
``ReadError``                  EhrAmbiguous      connection broke while waiting for the answer
``RemoteProtocolError``        EhrAmbiguous      the server closed or garbled the answer (also a
                                                 stale keep-alive connection: "disconnected
                                                 without sending a response")
``WriteTimeout``               EhrAmbiguous      part of the request may be on the wire; whether
                                                 a partial request is ever acted on depends on
                                                 every proxy and gateway in between
``WriteError``                 EhrAmbiguous      as WriteTimeout (httpcore's HTTP/1.1 path even
                                                 swallows it and goes on to read an answer)
``LocalProtocolError``         EhrAmbiguous      usually raised before sending (bad header), but
                                                 h11 also raises it mid-body; we validate our
                                                 own headers so the common case never gets here
``CloseError``                 EhrAmbiguous      the request was already sent when closing failed
``DecodingError``              EhrAmbiguous      the server answered (so the request landed) but
                                                 the body could not be decoded: answer lost
any other ``RequestError``     EhrAmbiguous      unknown ⇒ assume it may have landed (fail safe;
                                                 also covers what a successor library adds)
=============================  ================  ===============================================

Redirects are never followed: a 3xx comes back as an answer, because silently re-sending a POST
to another URL is a write nobody decided to make.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

import httpx

from chartgate.adapters.ehr.gate import GatedTransport, ProcessorGate, ProcessorRefused
from chartgate.domain.errors import EhrAmbiguous, EhrError, EhrUnreachable

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

__all__ = [
    "HttpClient",
    "HttpTransport",
    "ProcessorGate",
    "ProcessorRefused",
    "RawResponse",
    "build_client",
    "classify_transport_error",
    "send",
]

HttpClient: TypeAlias = httpx.Client
"""The synchronous client type EHR adapters receive (one per tenant connection)."""

HttpTransport: TypeAlias = httpx.BaseTransport
"""What ``build_client`` can be given instead of the network (``httpx.MockTransport`` in tests)."""

USER_AGENT = "chartgate/0.1 (+FHIR R4 write-back)"

# Ordered, first match wins. Only failures the library guarantees happen before any request
# byte is written to a connection are "unreachable" (see the module docstring for each reason).
_NEVER_SENT: tuple[type[httpx.RequestError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One HTTP answer, reduced to plain data so nothing above this module sees httpx types.

    Header names are lower-case; a repeated header is joined with ", " (RFC 9110 §5.3).
    """

    status: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def build_client(
    *,
    gate: ProcessorGate,
    timeout_seconds: float = 10.0,
    connect_timeout_seconds: float = 5.0,
    pool_timeout_seconds: float = 5.0,
    max_connections: int = 10,
    transport: HttpTransport | None = None,
    verify: bool | ssl.SSLContext = True,
    base_url: str = "",
) -> HttpClient:
    """Build an outbound HTTP client; every request first passes ``gate``.

    ``gate`` refuses destinations that are not registered processors with a BAA in force
    (``ProcessorRefused``, raised before any byte is sent). ``verify`` takes the tenant's
    context from ``tls.tls_context`` (private CA, mTLS client certificate).

    Connect and pool waits are short because failing there is harmless (nothing was sent) and
    the executor can simply try later; the read timeout is the EHR's processing budget
    (``EhrSettings.timeout_seconds``). ``verify`` is ``True`` or an ``ssl.SSLContext`` (a
    private CA: ``ssl.create_default_context(cafile=…)``), never ``False`` in production.
    Redirects are off (see the module docstring).
    """
    timeout = httpx.Timeout(
        timeout_seconds,
        connect=connect_timeout_seconds,
        pool=pool_timeout_seconds,
    )
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
    )
    if transport is None:
        # TCP_NODELAY: without it every POST/PUT body waits for the server's delayed ACK
        # (Nagle), 20-40 ms per write-back request on loopback.
        transport = httpx.HTTPTransport(
            verify=verify,
            limits=limits,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        limits=limits,
        transport=GatedTransport(transport, gate),
        verify=verify,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


def classify_transport_error(error: httpx.RequestError, *, what: str) -> EhrError:
    """Return the chartgate error for a failed request: unreachable or ambiguous.

    ``what`` names the interaction without PHI (``"create DocumentReference"``); the
    message carries only it and the exception class, never URLs, ids or bodies.
    """
    kind = type(error).__name__
    if isinstance(error, ProcessorRefused):
        refusal = error.refusal
        return EhrUnreachable(
            f"{what}: refused by the processor registry ({refusal.status}: "
            f"{refusal.processor or refusal.origin}); nothing was sent"
        )
    if isinstance(error, _NEVER_SENT):
        return EhrUnreachable(f"{what}: the EHR could not be reached ({kind}); nothing was sent")
    return EhrAmbiguous(f"{what}: no answer from the EHR ({kind}); the request may have landed")


def send(
    client: HttpClient,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str],
    content: bytes | None = None,
    params: Mapping[str, str | tuple[str, ...]] | None = None,
) -> RawResponse:
    """Send one request and return its answer, whatever the status code.

    Raises ``EhrUnreachable`` or ``EhrAmbiguous`` (``raise … from`` the library's error) when
    no answer could be read; see the module docstring for which is which. Never retries.
    """
    try:
        response = client.request(
            method,
            _parsed(url),
            headers=dict(headers),
            content=content,
            params=dict(params) if params is not None else None,
            follow_redirects=False,
        )
    except httpx.RequestError as e:
        raise classify_transport_error(e, what=what) from e
    return RawResponse(
        status=response.status_code,
        content=response.content,
        headers=dict(response.headers.items()),
    )


@lru_cache(maxsize=256)
def _parsed_once(url: str) -> httpx.URL:
    return httpx.URL(url)


def _parsed(url: str) -> httpx.URL | str:
    """``url`` parsed once per process when it has no query (an endpoint, a resource path).

    httpx parses a string URL on every request, and again to add the query parameters: the
    first parse was ~5 % of an approval's CPU (two chart reads, issue 20). A URL with a query
    (a ``next`` page link) is handed on as it came: it is not kept in memory.
    """
    return url if "?" in url else _parsed_once(url)


_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Return how many seconds a ``Retry-After`` header asks to wait.

    RFC 9110 §10.2.3 (https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3) allows
    delta-seconds or an HTTP-date; a date in the past means "now" (0.0). Anything else,
    negative numbers included, gives ``None``: the caller falls back to its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; email.utils leaves "-0000" naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
