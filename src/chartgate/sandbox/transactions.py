"""The sandbox's transaction Bundles and X-Provenance header (FHIR R4, emulated).

``run_transaction`` (http.html#transaction): a ``transaction`` Bundle posted to the base is
processed in one store transaction: every entry lands, or none does (any entry's error rolls
all back and is the answer). ``POST`` entries may carry ``ifNoneExist``; ``PUT`` entries
``ifMatch`` or ``ifNoneMatch: *``; a ``urn:uuid:`` ``fullUrl`` referenced by a later entry
is rewritten to the ``Type/id`` its entry became. The answer is a ``transaction-response``
with each entry's status, ``location`` (version-specific) and ``etag``.

``header_provenance`` (provenance.html#header): a write that made a version and carried an
``X-Provenance`` header stores that Provenance with its target set to the new version. As
Firely does, a conditional create that matched an existing resource makes none.
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any

from chartgate.sandbox.search import FhirError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from chartgate.sandbox.store import ResourceStore, StoredVersion
    from chartgate.sandbox.vendors import VendorProfile
    from chartgate.service.ports import JsonObject

__all__ = ["header_provenance", "run_transaction"]

_URL = re.compile(r"^([A-Z][A-Za-z]{1,63})(?:/([A-Za-z0-9\-.]{1,64}))?$")
_ETAG = re.compile(r'^(?:W/)?"?([A-Za-z0-9\-.]{1,64}|\*)"?$')
MAX_ENTRIES = 100


def run_transaction(
    store: ResourceStore,
    profile: VendorProfile,
    bundle: JsonObject,
    vendor_rules: Callable[[JsonObject, bool], JsonObject],
) -> JsonObject:
    """Process a transaction Bundle atomically; return the transaction-response."""
    if not profile.transactions:
        raise FhirError(405, "not-supported", "This server takes no transaction Bundles")
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        raise FhirError(400, "invalid", "Only a transaction Bundle may be posted to the base")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_ENTRIES:
        raise FhirError(400, "invalid", f"A transaction holds 1 to {MAX_ENTRIES} entries")
    named: dict[str, str] = {}
    answers: list[JsonObject] = []
    with store.atomic() as tx:
        for index, entry in enumerate(entries):
            resource, request = _parts(entry, index)
            resource = vendor_rules(_rewrite(resource, named), request["method"] == "POST")
            stored, created = _write(tx, profile, resource, request)
            if isinstance(entry.get("fullUrl"), str):
                named[entry["fullUrl"]] = f"{stored.resource_type}/{stored.resource_id}"
            answers.append(
                {
                    "response": {
                        "status": "201 Created" if created else "200 OK",
                        "location": stored.versioned_path,
                        "etag": stored.etag,
                    }
                }
            )
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}


def _parts(entry: Any, index: int) -> tuple[JsonObject, JsonObject]:  # noqa: ANN401 - JSON
    request = entry.get("request") if isinstance(entry, dict) else None
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not isinstance(resource, dict):
        raise FhirError(400, "invalid", f"entry[{index}] needs a resource and a request")
    if request.get("method") not in {"POST", "PUT"}:
        raise FhirError(400, "not-supported", f"entry[{index}]: only POST and PUT are taken")
    match = _URL.match(str(request.get("url") or ""))
    if match is None or match.group(1) != resource.get("resourceType"):
        raise FhirError(400, "invalid", f"entry[{index}].request.url does not name its type")
    if (request["method"] == "PUT") != (match.group(2) is not None):
        raise FhirError(400, "invalid", f"entry[{index}]: PUT names Type/id, POST only Type")
    return resource, request


def _write(
    tx: Any,  # noqa: ANN401 - store.Atomic (kept out of the import graph)
    profile: VendorProfile,
    resource: JsonObject,
    request: JsonObject,
) -> tuple[StoredVersion, bool]:
    kind, _, resource_id = str(request["url"]).partition("/")
    if request["method"] == "POST":
        condition = request.get("ifNoneExist") if profile.conditional_create else None
        stored, created = tx.create(kind, resource, if_none_exist=condition)
        return stored, created
    if resource.get("id") != resource_id:
        raise FhirError(400, "invalid", "A PUT entry's resource id must equal its URL's id")
    only_new = str(request.get("ifNoneMatch") or "").strip() == "*"
    if_match = _version(request.get("ifMatch"))
    if if_match is None and profile.require_if_match and not only_new:
        raise FhirError(400, "required", "This server requires If-Match on update")
    stored, created = tx.update(
        kind,
        resource_id,
        resource,
        if_match=if_match,
        allow_create=profile.update_as_create,
        only_new=only_new,
    )
    return stored, created


def _version(value: object) -> str | None:
    if value is None:
        return None
    match = _ETAG.match(str(value).strip())
    if match is None:
        raise FhirError(400, "invalid", 'ifMatch must look like W/"<versionId>"')
    return match.group(1)


def _rewrite(node: Any, named: Mapping[str, str]) -> Any:  # noqa: ANN401 - JSON
    """Replace references to earlier entries' ``fullUrl`` with what they became."""
    if isinstance(node, dict):
        return {
            key: named.get(value, value)
            if key == "reference" and isinstance(value, str)
            else _rewrite(value, named)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(value, named) for value in node]
    return node


def header_provenance(
    store: ResourceStore,
    profile: VendorProfile,
    header: str | None,
    stored: StoredVersion,
    *,
    made_version: bool,
) -> None:
    """Store the ``X-Provenance`` of a write that made ``stored`` (none when it made nothing)."""
    takes = profile.writable_types is None or "Provenance" in profile.writable_types
    if header is None or not made_version or not profile.x_provenance or not takes:
        return
    try:
        provenance = json.loads(header)
    except ValueError as e:
        raise FhirError(400, "structure", "X-Provenance is not valid JSON") from e
    if not isinstance(provenance, dict) or provenance.get("resourceType") != "Provenance":
        raise FhirError(400, "invalid", "X-Provenance must hold a Provenance resource")
    provenance = copy.deepcopy(provenance)
    provenance.pop("id", None)
    provenance["target"] = [{"reference": stored.versioned_path}]
    store.create("Provenance", provenance)
