"""The ports of validation: the FHIR schema and the FHIR invariants (adapters implement them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chartgate.domain.findings import Finding


class ResourceSchema(Protocol):
    """FHIR schema validation of one resource's JSON (``adapters/fhir_models.py``)."""

    @property
    def version(self) -> str:
        """Which models judge (a new version invalidates every stamp, ADR 0032)."""
        ...

    def check(self, resource: Mapping[str, Any], *, location: str) -> list[Finding]:
        """Every schema problem of ``resource``, located under ``location``."""
        ...


class ResourceInvariants(Protocol):
    """The FHIR invariants (FHIRPath constraints) of one resource (``adapters/fhir_invariants``)."""

    @property
    def version(self) -> str:
        """The engine and rules: part of every schema stamp (ADR 0032)."""
        ...

    def check(
        self, resource: Mapping[str, Any], *, location: str, keys: frozenset[str] | None = None
    ) -> list[Finding]:
        """Every violated error invariant of ``resource``, located under ``location``.

        ``keys``: only the invariants with these keys (None: every one).
        """
        ...
