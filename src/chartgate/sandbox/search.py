"""Search for the sandbox EHR: parsing FHIR search parameters and matching resources.

A tiny subset of https://hl7.org/fhir/R4/search.html: token search on ``identifier`` and
``_tag``, reference search on ``patient``/``subject``/``encounter``/``target``, ``_id`` and
``_count``, and ``_elements`` (the answer keeps only the named top-level elements, tagged
``SUBSETTED``). Unknown parameters are refused, never ignored. ``FhirError`` lives here because
every sandbox module answers with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

JsonObject = dict[str, Any]

SEARCH_PARAMETERS = frozenset(
    {"_id", "_tag", "identifier", "patient", "subject", "encounter", "target"}
)
"""Search parameters the sandbox understands; any other one is refused with 400."""

_IGNORED_PARAMETERS = frozenset({"_format", "_pretty"})

# Where each reference search parameter looks, and the type a bare id stands for.
_REFERENCE_PATHS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "patient": (("subject", "patient"), "Patient"),
    "subject": (("subject",), None),
    "encounter": (("encounter", "context.encounter"), "Encounter"),
    "target": (("target",), None),
}


class FhirError(Exception):
    """A FHIR-level failure, answered as an ``OperationOutcome`` with this HTTP status.

    ``code`` is an ``OperationOutcome.issue.code`` from
    https://hl7.org/fhir/R4/valueset-issue-type.html.
    """

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        expression: str | None = None,
        vendor_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.vendor_code = vendor_code  # in issue.details.coding.code, as Epic sends it
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: criteria are ANDed, the values of one criterion ORed."""

    criteria: tuple[tuple[str, tuple[str, ...]], ...] = ()
    count: int | None = None
    elements: tuple[str, ...] | None = None


def parse_search(pairs: Iterable[tuple[str, str]]) -> SearchQuery:
    """Parse search parameters (a query string's pairs) into a ``SearchQuery``.

    Unknown parameters are refused rather than ignored: a reconciliation search with a typo
    must not silently match every resource of the type.

    Raises:
        FhirError: 400 for an unknown parameter, a modifier or a bad ``_count``.
    """
    criteria: list[tuple[str, tuple[str, ...]]] = []
    count: int | None = None
    elements: tuple[str, ...] | None = None
    for name, value in pairs:
        if name in _IGNORED_PARAMETERS:
            continue
        if name == "_elements":
            elements = tuple(e.strip() for e in value.split(",") if e.strip())
            continue
        if name == "_count":
            if not value.isdigit():
                raise FhirError(400, "invalid", "_count must be a non-negative integer")
            count = int(value)
            continue
        if name not in SEARCH_PARAMETERS:
            raise FhirError(
                400, "not-supported", f"Search parameter {name!r} is not supported", expression=name
            )
        criteria.append((name, tuple(v for v in value.split(",") if v)))
    return SearchQuery(criteria=tuple(criteria), count=count, elements=elements)


_SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}


def subset(resource: JsonObject, elements: tuple[str, ...]) -> JsonObject:
    """``resource`` with only the named top-level elements (https://hl7.org/fhir/R4/search.html#elements).

    ``resourceType``, ``id`` and ``meta`` always stay; ``meta.tag`` gains ``SUBSETTED``.
    """
    kept = {k: v for k, v in resource.items() if k in {"resourceType", "id", *elements}}
    meta = dict(resource.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), _SUBSETTED]
    kept["meta"] = meta
    return kept


def parse_query_string(query: str) -> SearchQuery:
    """Parse an ``If-None-Exist`` value (``identifier=system|value``) as a search."""
    return parse_search(parse_qsl(query.lstrip("?"), keep_blank_values=True))


def matches(resource: JsonObject, query: SearchQuery) -> bool:
    """True when ``resource`` meets every criterion of ``query`` (one value of each)."""
    return all(
        any(_criterion_matches(resource, name, value) for value in values)
        for name, values in query.criteria
    )


def _criterion_matches(resource: JsonObject, name: str, value: str) -> bool:
    if name == "_id":
        return bool(resource.get("id") == value)
    if name == "identifier":
        return any(_identifier_matches(i, value) for i in _walk(resource, ("identifier",)))
    if name == "_tag":
        # A Coding matches like an Identifier: [system]|[code] (search.html#token).
        return any(
            _identifier_matches({"system": c.get("system"), "value": c.get("code")}, value)
            for c in _walk(resource, ("meta", "tag"))
            if isinstance(c, dict)
        )
    paths, bare_type = _REFERENCE_PATHS[name]
    targets = {
        _normalise_reference(node["reference"])
        for path in paths
        for node in _walk(resource, tuple(path.split(".")))
        if isinstance(node, dict) and isinstance(node.get("reference"), str)
    }
    if "/" in value:
        return _normalise_reference(value) in targets
    if bare_type is not None:
        return f"{bare_type}/{value}" in targets
    return any(t.endswith(f"/{value}") for t in targets)


def _identifier_matches(identifier: object, token: str) -> bool:
    """Match one Identifier against a token search value (``[system]|[value]`` or ``value``).

    See https://hl7.org/fhir/R4/search.html#token.
    """
    if not isinstance(identifier, dict):
        return False
    system, value = identifier.get("system"), identifier.get("value")
    if "|" not in token:
        return bool(value == token)
    want_system, want_value = token.split("|", 1)
    if not want_system:
        return system is None and value == want_value
    if not want_value:
        return bool(system == want_system)
    return bool(system == want_system and value == want_value)


def _walk(node: object, path: tuple[str, ...]) -> Iterator[object]:
    """Yield every element at ``path``, flattening lists on the way (a tiny FHIRPath)."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from _walk(node[path[0]], path[1:])


def _normalise_reference(reference: str) -> str:
    """Reduce an absolute, relative or version-specific reference to ``Type/id``."""
    parts = [p for p in reference.split("?", maxsplit=1)[0].split("/") if p]
    if len(parts) >= 4 and parts[-2] == "_history":  # noqa: PLR2004 - Type/id/_history/vid
        parts = parts[:-2]
    return "/".join(parts[-2:])
