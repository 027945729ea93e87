# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""FHIR R4 on the wire: ids, ETag and Location parsing, bodies, searchset pages.

The pure pieces of the REST client (``fhir_rest.py``): what a FHIR server's headers and
bodies mean (https://hl7.org/fhir/R4/http.html), and the checks on what chartgate puts on the
wire itself. No IO.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chartgate.adapters.ehr.http import RawResponse, parse_retry_after
from chartgate.domain.errors import EhrNotAllowed
from chartgate.service.ports import EhrAnswer, JsonObject

if TYPE_CHECKING:
    from datetime import datetime

    from chartgate.domain.vendor_profile import VendorProfile

# https://hl7.org/fhir/R4/datatypes.html#id and resource type names (letters only).
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
# Header values we put on the wire ourselves: visible ASCII and spaces, nothing that could
# split a header (h11 would refuse CR/LF only after the request had begun; see http.py).
HEADER_SAFE = re.compile(r"[\x20-\x7e]{1,1024}")


@dataclass(frozen=True, slots=True)
class ResourceLocation:
    """The resource a ``Location`` header points at: ``[base]/Type/id[/_history/vid]``."""

    resource_type: str
    resource_id: str
    version_id: str | None = None


def parse_etag(value: str | None) -> str | None:
    """Return the version id carried by an ETag: ``W/"3"`` → ``"3"``.

    FHIR servers send the version id as a weak ETag (https://hl7.org/fhir/R4/http.html#versioning);
    a strong or unquoted one is tolerated. Anything else gives ``None``.
    """
    if value is None:
        return None
    text = value.strip()
    if text[:2] in {"W/", "w/"}:
        text = text[2:].strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':  # noqa: PLR2004 - the two quotes
        text = text[1:-1]
    return text if FHIR_ID.fullmatch(text) else None


def parse_location(value: str | None) -> ResourceLocation | None:
    """Return type, id and (when present) version from a ``Location`` header.

    Absolute (``https://ehr/R4/DocumentReference/7/_history/2``) and relative
    (``DocumentReference/7/_history/2``; Epic's always is) forms are both accepted, as is a
    Location without ``_history``. Anything unrecognisable gives ``None``.
    """
    if not value:
        return None
    segments = [s for s in urlsplit(value.strip()).path.split("/") if s]
    version_id: str | None = None
    if len(segments) >= 4 and segments[-2] == "_history":  # noqa: PLR2004 - Type/id/_history/vid
        version_id = segments[-1]
        segments = segments[:-2]
    if len(segments) < 2:  # noqa: PLR2004 - Type/id
        return None
    resource_type, resource_id = segments[-2], segments[-1]
    if not (RESOURCE_TYPE.fullmatch(resource_type) and FHIR_ID.fullmatch(resource_id)):
        return None
    if version_id is not None and not FHIR_ID.fullmatch(version_id):
        return None
    return ResourceLocation(resource_type, resource_id, version_id)


def if_match_value(version_id: str) -> str:
    """Return the ``If-Match`` header for a version id: ``3`` → ``W/"3"``.

    An already formatted ``W/"3"`` is accepted too. Raises ``ValueError`` for anything that is
    not a FHIR id, so a malformed precondition is never sent (a server would ignore it and
    overwrite: https://hl7.org/fhir/R4/http.html#concurrency).
    """
    version = parse_etag(version_id)
    if version is None:
        raise ValueError("if_match must be a FHIR version id")
    return f'W/"{version}"'


def encode(resource: JsonObject) -> bytes:
    """UTF-8 JSON, compact: what ``application/fhir+json`` means (R4 json.html)."""
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def attachment_bytes(attachment: JsonObject) -> int:
    """The decoded size of an inline attachment (0 when it has no valid base64 data)."""
    data = attachment.get("data")
    if not isinstance(data, str):
        return 0
    try:
        return len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return 0


def json_object(content: bytes) -> JsonObject | None:
    """Parse a JSON object body; an empty, non-JSON or non-object body gives ``None``."""
    if not content.strip():
        return None
    try:
        parsed: Any = json.loads(content)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None
    return parsed if isinstance(parsed, dict) else None


def meta_version(resource: JsonObject) -> str | None:
    """``meta.versionId`` of a resource, if any."""
    meta = resource.get("meta")
    return str_or_none(meta.get("versionId")) if isinstance(meta, dict) else None


def str_or_none(value: object) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def issue_codes(body: JsonObject | None) -> str:
    """``" (issue codes: not-found)"`` from an OperationOutcome: codes only, never diagnostics."""
    if body is None or body.get("resourceType") != "OperationOutcome":
        return ""
    issues = body.get("issue")
    codes = [
        issue["code"]
        for issue in (issues if isinstance(issues, list) else [])
        if isinstance(issue, dict) and isinstance(issue.get("code"), str)
    ]
    return f" (issue codes: {', '.join(codes)})" if codes else ""


def search_matches(bundle: JsonObject, resource_type: str) -> list[JsonObject]:
    """The ``match`` entries of a searchset page (``include`` and ``outcome`` are not results).

    https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.search.mode; an entry without
    a mode counts when its resource has the searched type.
    """
    found: list[JsonObject] = []
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode == "match" or (mode is None and resource.get("resourceType") == resource_type):
            found.append(resource)
    return found


def next_link(bundle: JsonObject) -> str | None:
    """The ``next`` link of a searchset page, if any."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next":
            return str_or_none(link.get("url"))
    return None


def resource_type_of(resource: JsonObject) -> str:
    """The checked ``resourceType`` of a resource."""
    return checked_type(resource.get("resourceType"))


def checked_type(value: object) -> str:
    """``value`` if it is a FHIR resource type name; ``ValueError`` otherwise."""
    if not isinstance(value, str) or not RESOURCE_TYPE.fullmatch(value):
        raise ValueError("not a FHIR resource type")
    return value


def checked_id(value: object) -> str:
    """``value`` if it is a FHIR id; ``ValueError`` otherwise."""
    if not isinstance(value, str) or not FHIR_ID.fullmatch(value):
        raise ValueError("not a FHIR resource id (https://hl7.org/fhir/R4/datatypes.html#id)")
    return value


def header_safe(value: str, name: str) -> str:
    """``value`` if it is safe to put in a header we send; ``ValueError`` otherwise."""
    if not HEADER_SAFE.fullmatch(value):
        raise ValueError(f"{name} must be 1-1024 printable ASCII characters")
    return value


def relative_locations(answer: EhrAnswer) -> EhrAnswer:
    """A transaction-response whose entries' ``location`` is ``Type/id/_history/vid``."""
    for entry in (answer.resource or {}).get("entry", []):
        response = entry.get("response") if isinstance(entry, dict) else None
        if not isinstance(response, dict):
            continue
        where = parse_location(response.get("location"))
        resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
        version = (
            (where.version_id if where is not None else None)
            or parse_etag(response.get("etag"))
            or parse_etag(f'"{(resource.get("meta") or {}).get("versionId")}"')
        )
        if where is None or version is None:
            response.pop("location", None)  # Medplum: Location without _history, versionId
            continue
        response["location"] = f"{where.resource_type}/{where.resource_id}/_history/{version}"
    return answer


MAX_PROVENANCE_HEADER = 8 * 1024
"""Bytes an ``X-Provenance`` value may take (8 KiB: the usual header limit of servers)."""


def provenance_header(provenance: JsonObject) -> str:
    """The ``X-Provenance`` value: compact ASCII JSON (non-ASCII escaped) on one line."""
    value = json.dumps(provenance, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    if len(value) > MAX_PROVENANCE_HEADER:
        raise EhrNotAllowed(
            f"X-Provenance: the Provenance is {len(value)} bytes, over {MAX_PROVENANCE_HEADER};"
            " nothing was sent"
        )
    return value


def check_write(vendor: VendorProfile, resource_type: str, resource: JsonObject) -> None:
    """Refuse, before sending, a write the vendor profile says the EHR cannot take."""
    what = f"write {resource_type}"
    if resource_type not in vendor.writable_types:
        raise EhrNotAllowed(
            f"{what}: the {vendor.name} profile cannot write {resource_type}; nothing was sent"
        )
    if resource_type != "DocumentReference":
        return
    content = resource.get("content")
    items = content if isinstance(content, list) else []
    if vendor.max_attachments is not None and len(items) > vendor.max_attachments:
        raise EhrNotAllowed(
            f"{what}: {len(items)} attachments, the {vendor.name} profile keeps"
            f" {vendor.max_attachments}; nothing was sent"
        )
    for index, item in enumerate(items):
        attachment = item.get("attachment") if isinstance(item, dict) else None
        if not isinstance(attachment, dict):
            continue
        content_type = attachment.get("contentType")
        base = content_type.split(";", 1)[0].strip() if isinstance(content_type, str) else ""
        if base and vendor.note_media_type(base) != base.lower():
            raise EhrNotAllowed(
                f"{what}: content[{index}] is {base}, which the {vendor.name} profile does"
                " not accept; nothing was sent"
            )
        size = attachment_bytes(attachment)
        if vendor.max_note_bytes is not None and size > vendor.max_note_bytes:
            raise EhrNotAllowed(
                f"{what}: content[{index}] is {size} bytes, over the {vendor.name} profile's"
                f" {vendor.max_note_bytes}; nothing was sent"
            )


def answer_of(
    raw: RawResponse, *, resource_type: str, resource_id: str | None, now: datetime
) -> EhrAnswer:
    """Reduce one HTTP answer to an ``EhrAnswer``: body first, then Location and ETag.

    ``Location`` and the requested type and id fill in only for 2xx answers: on a 3xx the
    Location points elsewhere, and on an error nothing was created; an empty-bodied 2xx
    to an update carries just an ETag, so the requested id names the resource.
    """
    headers = raw.headers
    body = json_object(raw.content)
    outcome = body if body is not None and body.get("resourceType") == "OperationOutcome" else None
    resource = body if outcome is None else None
    ok = 200 <= raw.status < 300  # noqa: PLR2004 - the 2xx class
    location = (
        parse_location(headers.get("location") or headers.get("content-location")) if ok else None
    )

    answered_type = str_or_none(resource.get("resourceType")) if resource else None
    answered_id = str_or_none(resource.get("id")) if resource else None
    body_version = meta_version(resource) if resource else None
    if location is not None:
        answered_type = answered_type or location.resource_type
        answered_id = answered_id or location.resource_id
    if ok:
        answered_type = answered_type or resource_type
        answered_id = answered_id or resource_id
    return EhrAnswer(
        status=raw.status,
        resource=resource,
        resource_type=answered_type,
        resource_id=answered_id,
        version_id=(
            body_version
            or parse_etag(headers.get("etag"))
            or (location.version_id if location else None)
        ),
        etag=headers.get("etag"),
        location=headers.get("location"),
        retry_after=parse_retry_after(headers.get("retry-after"), now=now),
        outcome=outcome,
        headers=dict(headers),
    )
