"""Checks of single policy values; their messages are what a policy author reads.

Each check raises ``ValueError`` with a message naming the value, which pydantic reports at the
value's location (``resources.Condition.allowed_fields[0]: ...``).
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

from chartgate.domain.policy.terms import FHIR_R4_RESOURCE_TYPES

_T = TypeVar("_T")

_FIELD_SEGMENT = r"[a-z][A-Za-z0-9]*(?:\[x\])?"
_FIELD_PATH_RE = re.compile(rf"{_FIELD_SEGMENT}(?:\.{_FIELD_SEGMENT})*")
_ELEMENT_RE = re.compile(_FIELD_SEGMENT)
_SLUG_RE = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_LOINC_RE = re.compile(r"([0-9]{1,7})-([0-9])")
_MEDIA_TYPE_RE = re.compile(r"[a-z]+/[a-z0-9.+-]+(?:;\s*[a-z-]+=[A-Za-z0-9._-]+)*")


def loinc_check_digit(number: str) -> int:
    """Return the LOINC mod-10 check digit of the part before the hyphen.

    LOINC codes carry a Luhn-style check digit, so a mistyped note type (the STU9 page's
    "28655-1" is one) is caught when the policy is loaded rather than denied at write time.
    """
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def _loinc_code(value: str) -> str:
    match = _LOINC_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a LOINC code (digits, hyphen, check digit)")
    if loinc_check_digit(match.group(1)) != int(match.group(2)):
        raise ValueError(f"{value!r} has a wrong LOINC check digit")
    return value


def _resource_type(value: str) -> str:
    if value not in FHIR_R4_RESOURCE_TYPES:
        raise ValueError(f"{value!r} is not a FHIR R4 resource type")
    return value


def _field_path(value: str) -> str:
    if _FIELD_PATH_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a dotted FHIR element path such as 'meta.security'")
    return value


def _element(value: str) -> str:
    if _ELEMENT_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a top-level FHIR element name such as 'code'")
    return value


def system_code(value: str) -> str:
    """Check a ``system|code`` key (a synonym list's)."""
    system, bar, code = value.partition("|")
    if not bar or not system.strip() or not code.strip():
        raise ValueError(f"{value!r} is not 'system|code', e.g. 'http://snomed.info/sct|44054006'")
    return value


def _slug(value: str) -> str:
    if _SLUG_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} must be lower-case letters, digits and hyphens")
    return value


def _media_type(value: str) -> str:
    if _MEDIA_TYPE_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a lower-case media type such as 'text/plain'")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def unique(values: tuple[_T, ...]) -> tuple[_T, ...]:
    """Refuse a list that names the same value twice."""
    seen: set[_T] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate entry {value!r}")
        seen.add(value)
    return values


def one_or_many(value: object) -> object:
    """Let ``rollback: none`` stand for ``rollback: [none]``."""
    return [value] if isinstance(value, str) else value


LoincCode = Annotated[str, AfterValidator(_loinc_code)]
ResourceType = Annotated[str, AfterValidator(_resource_type)]
FieldPath = Annotated[str, AfterValidator(_field_path)]
ElementName = Annotated[str, AfterValidator(_element)]
Slug = Annotated[str, AfterValidator(_slug)]
MediaType = Annotated[str, AfterValidator(_media_type)]
Text = Annotated[str, AfterValidator(_non_blank)]
PositiveDays = Annotated[int, Field(strict=True, gt=0)]


_INDEX_RE = re.compile(r"\[[0-9]+\]")


def covers(rule: str, path: str) -> bool:
    """Whether a policy path such as ``meta`` or ``value[x]`` covers an element path.

    ``meta`` covers ``meta.security``; ``value[x]`` covers ``valueQuantity.unit``; array
    indices in the element path (``coding[0]``) are ignored.
    """
    rule_parts = rule.split(".")
    path_parts = _INDEX_RE.sub("", path).split(".")
    if len(path_parts) < len(rule_parts):
        return False
    for expected, actual in zip(rule_parts, path_parts, strict=False):
        if expected.endswith("[x]"):
            stem = expected[: -len("[x]")]
            suffix = actual[len(stem) :]
            if not (actual.startswith(stem) and (not suffix or suffix[0].isupper())):
                return False
        elif expected != actual:
            return False
    return True
