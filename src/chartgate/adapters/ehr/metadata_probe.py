"""Does each tenant's EHR answer ``GET [base]/metadata``? The optional part of ``/readyz``.

A FHIR server must serve its CapabilityStatement without authorisation (SMART App Launch
reads it before it has a token), so the probe sends no token and reads no patient data.
Answers are kept for ``ttl_seconds`` so a readiness probe every few seconds from several
load balancers does not become load on the EHR. The verdict is a word (``ok``,
``unreachable``, ``error``, ``refused``: the processor registry refuses the EHR, e.g. its BAA
expired): never a URL, a status text or an exception message. The probe's client comes from
the one factory, bound to no tenant, so a refused probe is logged but not written to any
tenant's ledger every few seconds (the real calls are).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import httpx

from chartgate.adapters.ehr.gate import ProcessorGate, ProcessorRefused
from chartgate.adapters.ehr.http import HttpClient, build_client
from chartgate.settings import TenantSettings

_HTTP_OK = 200


class EhrMetadataProbe:
    """``check()``: ``{tenant: verdict}`` for every configured tenant."""

    def __init__(
        self,
        tenants: Mapping[str, TenantSettings],
        *,
        gate: ProcessorGate,
        client: HttpClient | None = None,
        ttl_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tenants = dict(tenants)
        self._client = client or build_client(
            gate=gate.bound(tenants=(), purpose="ehr"),
            timeout_seconds=3.0,
            connect_timeout_seconds=2.0,
        )
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def check(self) -> dict[str, str]:
        """Each tenant's verdict, fresh or at most ``ttl_seconds`` old."""
        return {tenant: self._verdict(tenant) for tenant in sorted(self._tenants)}

    def _verdict(self, tenant: str) -> str:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(tenant)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        verdict = self._probe(self._tenants[tenant].ehr.base_url)
        with self._lock:
            self._cache[tenant] = (now, verdict)
        return verdict

    def _probe(self, base_url: str) -> str:
        try:
            answer = self._client.get(
                base_url.rstrip("/") + "/metadata", headers={"Accept": "application/fhir+json"}
            )
        except ProcessorRefused:
            return "refused"
        except httpx.HTTPError:
            return "unreachable"
        if answer.status_code != _HTTP_OK:
            return "error"
        try:
            body = answer.json()
        except ValueError:
            return "error"
        is_capability = isinstance(body, dict) and body.get("resourceType") == "CapabilityStatement"
        return "ok" if is_capability else "error"

    def close(self) -> None:
        """Release the probe's HTTP client."""
        self._client.close()
