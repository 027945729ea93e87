"""The processor (BAA) registry: every party that may receive PHI from chartgate, and why.

HIPAA lets a covered entity disclose PHI to a business associate only under a business
associate agreement (45 CFR 164.502(e), 164.504(e)). A destination chartgate sends to is
therefore a *processor*: a legal entity with a BAA (signed, maybe expiring), the PHI
categories it may receive and the purpose. A processor that receives no PHI (an identity
provider's key set) is still registered, so nothing leaves unlisted, but needs no BAA.

Pure rules only: which registered processor a URL belongs to, and whether its BAA is in
force on a given day. The one HTTP client factory (``adapters/ehr/http.py``) asks these
questions before every request; ``bootstrap`` asks them of every configured URL at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from urllib.parse import SplitResult, urlsplit


class BaaStatus(StrEnum):
    """Whether a processor may receive PHI today."""

    ACTIVE = "active"  # signed, not expired
    EXPIRED = "expired"  # signed, expiry date passed: every call is refused and audited
    MISSING = "missing"  # receives PHI but no BAA is on file: refused
    NOT_REQUIRED = "not-required"  # receives no PHI category at all

    @property
    def permits_traffic(self) -> bool:
        """True when chartgate may send to this processor."""
        return self in {BaaStatus.ACTIVE, BaaStatus.NOT_REQUIRED}


@dataclass(frozen=True, slots=True)
class Processor:
    """One registered destination party.

    ``endpoints`` are URL prefixes (``https://fhir.clinic-a.example/r4``); a URL belongs to the
    processor when scheme and host match, the port matches when the prefix names one, and the
    path starts with the prefix's path at a segment boundary.
    """

    id: str
    legal_entity: str
    role: str
    purpose: str
    endpoints: tuple[str, ...] = ()
    phi_categories: tuple[str, ...] = ()
    baa_signed: date | None = None
    baa_expires: date | None = None

    def baa_status(self, today: date) -> BaaStatus:
        """The BAA's state on ``today`` (the expiry day itself is the last valid day)."""
        if not self.phi_categories:
            return BaaStatus.NOT_REQUIRED
        if self.baa_signed is None:
            return BaaStatus.MISSING
        if self.baa_expires is not None and today > self.baa_expires:
            return BaaStatus.EXPIRED
        return BaaStatus.ACTIVE

    def serves(self, url: str) -> bool:
        """True when ``url`` is under one of this processor's endpoint prefixes."""
        return any(_under(url, prefix) for prefix in self.endpoints)


@dataclass(frozen=True, slots=True)
class Destination:
    """A URL chartgate is configured to send to, and what it is for (no secrets, no PHI)."""

    what: str  # "tenant clinic-a EHR", "audit sink of clinic-a", ...
    url: str


class ProcessorRegistry:
    """The registered processors, looked up by destination URL."""

    def __init__(self, processors: tuple[Processor, ...] | list[Processor]) -> None:
        self._processors = tuple(processors)
        ids = [p.id for p in self._processors]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            msg = f"processor ids must be unique: {', '.join(duplicates)}"
            raise ValueError(msg)

    @property
    def processors(self) -> tuple[Processor, ...]:
        """Every registered processor, in configuration order."""
        return self._processors

    def for_url(self, url: str) -> Processor | None:
        """The processor whose endpoint prefix is the longest match for ``url`` (None: none)."""
        best: tuple[int, Processor] | None = None
        for processor in self._processors:
            for prefix in processor.endpoints:
                if _under(url, prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), processor)
        return best[1] if best else None

    def unregistered(self, destinations: list[Destination]) -> list[Destination]:
        """The configured destinations no processor covers (startup refuses them)."""
        return [d for d in destinations if self.for_url(d.url) is None]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: what a refusal may name (never a path or query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _under(url: str, prefix: str) -> bool:
    target, base = urlsplit(url), urlsplit(prefix)
    if target.scheme.lower() != base.scheme.lower():
        return False
    if (target.hostname or "").lower() != (base.hostname or "").lower():
        return False
    if base.port is not None and _port(target) != base.port:
        return False
    path = base.path.rstrip("/")
    return not path or target.path == path or target.path.startswith(path + "/")


def _port(parts: SplitResult) -> int | None:
    return parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
