"""Minimum necessary, enforced: turn a scribe's context request into one narrowed EHR read.

``plan_read`` checks a request against the session (patient, encounter) and the note
template's read profile (type, category, elements, time window, row count) and refuses
anything outside, naming what was asked for; nothing unknown is passed on (deny by default).
``shape`` then checks each resource the EHR answered (is it this patient's, inside the window,
of an allowed category?), keeps only the allowed elements, removes redacted fields and tags it
``SUBSETTED``: chartgate never trusts the EHR to have narrowed the answer itself.
Pure: the clock and the EHR are the service's.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from chartgate.domain.errors import PolicyDenied
from chartgate.domain.policy.checks import covers
from chartgate.domain.policy.reading import ReadProfile, ReadRule
from chartgate.domain.scribe_session import ScribeSession

# https://hl7.org/fhir/R4/search.html#elements: a subsetted resource SHOULD carry this tag.
SUBSETTED_TAG: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
# Where each readable type names its patient, its date (for the window) and the search
# parameters that narrow by them. A type missing here cannot be read whatever a profile says.
_PATIENT_ELEMENT: Final = {"AllergyIntolerance": "patient"}
_DATE: Final[dict[str, tuple[str, str]]] = {  # type -> (search parameter, element)
    "Encounter": ("date", "period"),
    "Condition": ("recorded-date", "recordedDate"),
    "Observation": ("date", "effective[x]"),
    "MedicationRequest": ("authoredon", "authoredOn"),
    "AllergyIntolerance": ("date", "recordedDate"),
    "DocumentReference": ("date", "date"),
}
READABLE: Final = frozenset({"Patient", *_DATE})
QUERY_PARAMETERS: Final = frozenset(
    {
        "session",
        "type",
        "reference",
        "patient",
        "encounter",
        "category",
        "_elements",
        "_count",
        "since",
        "until",
    }
)
CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far past chartgate's clock an EHR timestamp may be and still count as "now"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextRequest:
    """What a scribe asked ``GET /v1/context`` for, parsed but not yet judged."""

    resource_type: str | None = None
    reference: str | None = None
    patient: str | None = None
    encounter: str | None = None
    category: str | None = None
    elements: tuple[str, ...] | None = None
    count: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadPlan:
    """One allowed read: what to ask the EHR and how to check and cut what comes back."""

    resource_type: str
    resource_id: str | None  # a read by reference; None for a search
    rule: ReadRule
    elements: tuple[str, ...]
    categories: tuple[str, ...] | None
    since: datetime | None
    until: datetime  # nothing dated later is returned (the encounter's end, or now)
    count: int
    patient: str

    def search_params(self) -> dict[str, str | tuple[str, ...]]:
        """The EHR search, narrowed by the profile (chartgate checks the answer again)."""
        params: dict[str, str | tuple[str, ...]] = {"_count": str(self.count)}
        if self.resource_type == "Patient":
            params["_id"] = self.patient.split("/", 1)[1]
        else:
            params["patient"] = self.patient
        params["_elements"] = ",".join(_fetched_elements(self))
        if self.categories:
            params["category"] = ",".join(self.categories)
        if self.resource_type in _DATE:
            date_param = _DATE[self.resource_type][0]
            params["_sort"] = f"-{date_param}"  # newest first: the row cap keeps the latest
            # Both bounds (the parameter repeated: FHIR ANDs them), at day precision so the
            # EHR's answer is a superset of the window; chartgate cuts it exactly.
            upper = "le" + self.until.date().isoformat()
            params[date_param] = (
                upper if self.since is None else ("ge" + self.since.date().isoformat(), upper)
            )
        return params


def refuse(what: str, expression: str) -> PolicyDenied:
    """The one refusal of a context read (403, ``business-rule``), naming the rule."""
    return PolicyDenied(f"outside the read profile: {what}", expression=expression)


def plan_read(
    profile: ReadProfile, session: ScribeSession, request: ContextRequest, *, now: datetime
) -> ReadPlan:
    """Check ``request`` against the session and profile; raise ``PolicyDenied`` if outside.

    ``now`` is the time of the read: while the encounter is in progress it is the upper bound
    of every window (nothing dated in the future is ever read).
    """
    if request.unknown:
        raise refuse(f"parameter(s) {', '.join(sorted(request.unknown))} not allowed", "query")
    if request.patient is not None and request.patient != session.patient:
        raise refuse("another patient than the session's", "patient")
    if request.encounter is not None and request.encounter != session.encounter:
        raise refuse("another encounter than the session's", "encounter")
    resource_type, resource_id = _target(request)
    rule = profile.rule(resource_type)
    if rule is None or resource_type not in READABLE:
        raise refuse(f"{resource_type} is not readable for this note template", "type")
    elements = request.elements if request.elements is not None else rule.elements
    extra = [name for name in elements if name not in rule.elements]
    if extra:
        raise refuse(f"element(s) {', '.join(extra)} of {resource_type}", "_elements")
    categories = rule.categories
    if request.category is not None:
        if categories is not None and request.category not in categories:
            raise refuse(f"category {request.category} of {resource_type}", "category")
        categories = (request.category,)
    count = rule.max_count if request.count is None else request.count
    if not 0 < count <= rule.max_count:
        raise refuse(f"more than {rule.max_count} {resource_type} rows", "_count")
    return ReadPlan(
        resource_type=resource_type,
        resource_id=resource_id,
        rule=rule,
        elements=tuple(elements),
        categories=categories,
        since=_since(rule, session, request.since),
        until=_until(rule, session, request.until, now),
        count=count,
        patient=session.patient,
    )


def check_size(bundle: dict[str, Any], profile: ReadProfile) -> None:
    """Refuse an answer over the profile's byte cap (compact JSON, as sent)."""
    size = len(json.dumps(bundle, separators=(",", ":")).encode())
    if size > profile.max_response_bytes:
        raise refuse(
            f"the answer is over the profile's {profile.max_response_bytes}-byte cap:"
            " ask for fewer rows or elements",
            "_count",
        )


def _target(request: ContextRequest) -> tuple[str, str | None]:
    if (request.reference is None) == (request.resource_type is None):
        raise refuse("name exactly one of type (a search) or reference (a read)", "type")
    if request.reference is not None:
        kind, _, resource_id = request.reference.partition("/")
        if not kind or not resource_id or "/" in resource_id:
            raise refuse("reference must be Type/id", "reference")
        return kind, resource_id
    return str(request.resource_type), None


def _since(rule: ReadRule, session: ScribeSession, asked: datetime | None) -> datetime | None:
    floor = None
    if rule.window_days is not None:
        floor = session.anchor_at - timedelta(days=rule.window_days)
    if asked is None:
        return floor
    if floor is not None and asked < floor:
        raise refuse(
            f"{rule.type} older than {rule.window_days} days before the encounter", "since"
        )
    return asked


def ceiling(rule: ReadRule, session: ScribeSession, now: datetime) -> datetime:
    """The latest date ``rule`` lets a resource carry in ``session``, read at ``now``.

    The encounter's end (plus the rule's ``days_after_encounter``), or the time of the read
    while the encounter is in progress; never later than now (with ``CLOCK_SKEW``).
    """
    latest = now + CLOCK_SKEW
    end = session.encounter_end
    return latest if end is None else min(end + timedelta(days=rule.days_after_encounter), latest)


def _until(
    rule: ReadRule, session: ScribeSession, asked: datetime | None, now: datetime
) -> datetime:
    bound = ceiling(rule, session, now)
    if asked is None:
        return bound
    if asked > bound:
        raise refuse(f"{rule.type} dated after the encounter or in the future", "until")
    return asked


def _fetched_elements(plan: ReadPlan) -> list[str]:
    """What the EHR is asked for: the allowed elements plus what the checks need."""
    needed = set(plan.elements) | {"id"}
    if plan.resource_type != "Patient":
        needed.add(_PATIENT_ELEMENT.get(plan.resource_type, "subject"))
    if plan.resource_type in _DATE:
        needed.add(_DATE[plan.resource_type][1])
    if plan.categories:
        needed.add("category")
    return sorted(name.replace("[x]", "") for name in needed)


def shape(resource: dict[str, Any], plan: ReadPlan) -> dict[str, Any] | None:
    """The resource cut to the profile, or None when it lies outside (never returned)."""
    if resource.get("resourceType") != plan.resource_type or not _owned(resource, plan):
        return None
    if not _in_window(resource, plan) or not _in_categories(resource, plan):
        return None
    kept: dict[str, Any] = {"resourceType": plan.resource_type}
    for key, value in resource.items():
        if key != "resourceType" and any(covers(name, key) for name in plan.elements):
            kept[key] = copy.deepcopy(value)
    for path in plan.rule.redact:
        _remove(kept, path.split("."))
    meta = kept.setdefault("meta", {})
    meta["tag"] = [*[t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"], SUBSETTED_TAG]
    return kept


def _owned(resource: dict[str, Any], plan: ReadPlan) -> bool:
    if plan.resource_type == "Patient":
        return f"Patient/{resource.get('id')}" == plan.patient
    holder = resource.get(_PATIENT_ELEMENT.get(plan.resource_type, "subject"))
    return isinstance(holder, dict) and holder.get("reference") == plan.patient


def _in_window(resource: dict[str, Any], plan: ReadPlan) -> bool:
    if plan.resource_type not in _DATE:
        return True
    moment = _moment(resource, _DATE[plan.resource_type][1])
    if moment is None:  # undated: outside a window with a lower bound, inside one without
        return plan.since is None
    return moment <= plan.until and (plan.since is None or moment >= plan.since)


def _moment(resource: dict[str, Any], element: str) -> datetime | None:
    """The resource's date for the window (a missing or unreadable date is outside)."""
    if element.endswith("[x]"):
        stem = element[:-3]
        value = resource.get(f"{stem}DateTime") or (resource.get(f"{stem}Period") or {}).get(
            "start"
        )
    elif element == "period":
        value = (resource.get("period") or {}).get("start")
    else:
        value = resource.get(element)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _in_categories(resource: dict[str, Any], plan: ReadPlan) -> bool:
    if not plan.categories:
        return True
    codes = {
        coding.get("code")
        for concept in resource.get("category") or []
        for coding in (concept.get("coding") or [] if isinstance(concept, dict) else [])
    }
    return bool(codes & set(plan.categories))


def _remove(node: Any, parts: list[str]) -> None:  # noqa: ANN401 - JSON
    if isinstance(node, list):
        for item in node:
            _remove(item, parts)
        return
    if not isinstance(node, dict) or not parts:
        return
    if len(parts) == 1:
        node.pop(parts[0], None)
        return
    _remove(node.get(parts[0]), parts[1:])
