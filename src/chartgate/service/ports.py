"""Ports: the small Protocols the service layer needs from the outside world.

Adapters implement them; unit tests use the fakes in ``tests/fakes.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EhrAnswer:
    """What a FHIR server answered to one request, reduced to what write-back decides on.

    ``resource_id``/``version_id`` come from the body when there is one, else from the
    ``Location`` and ``ETag`` headers (Epic answers with an empty body unless asked).
    """

    status: int
    resource: JsonObject | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    version_id: str | None = None
    etag: str | None = None
    location: str | None = None
    retry_after: float | None = None
    outcome: JsonObject | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for any 2xx answer."""
        return 200 <= self.status < 300  # noqa: PLR2004 - HTTP class bounds


class EhrGateway(Protocol):
    """One tenant's FHIR R4 server, as the write-back executor sees it.

    Raises ``EhrUnreachable`` when the request cannot have left, ``EhrAmbiguous`` when it
    may have landed without an answer. Every HTTP answer (2xx or not) comes back as an
    ``EhrAnswer``; deciding what it means is the executor's job.
    """

    def create(
        self, resource: JsonObject, *, if_none_exist: str | None, request_id: str
    ) -> EhrAnswer:
        """POST the resource (conditionally when ``if_none_exist`` is given)."""
        ...

    def update(self, resource: JsonObject, *, if_match: str, request_id: str) -> EhrAnswer:
        """PUT the resource with ``If-Match: W/"<if_match>"``."""
        ...

    def read(self, resource_type: str, resource_id: str, *, request_id: str) -> EhrAnswer:
        """GET the current version of one resource."""
        ...

    def search(
        self, resource_type: str, params: Mapping[str, str], *, request_id: str
    ) -> list[JsonObject]:
        """Search and return the matching resources (``searchset`` entries)."""
        ...


class Clock(Protocol):
    """Where the time comes from (the domain never reads a clock)."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


class IdSource(Protocol):
    """Where new ids come from (the domain never calls uuid4)."""

    def new_id(self) -> str:
        """Return a new unguessable id (UUIDv4 text)."""
        ...
