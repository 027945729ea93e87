# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""SMART App Launch scopes (v2 syntax, v1 understood) and chartgate's own verb scopes.

Nothing mature on PyPI parses SMART scopes (``ECOSYSTEM.md``), so this is our own small
parser for the grammar of SMART App Launch 2.2.0
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)::

    scope := (patient|user|system) "/" (<ResourceType> | "*") "." <permissions> [ "?" <query> ]
    query := <param> "=" <value> ( "&" <param> "=" <value> )*

    v2 permissions: a non-empty subset of "cruds", in that order
                    c = create, r = read + vread, u = update + patch, d = delete,
                    s = search + history
    v1 permissions: "read" -> "rs", "write" -> "cud", "*" -> "cruds"

Anything else in a token's ``scope`` (``openid``, ``fhirUser``, ``launch/encounter``,
``chartgate/drafts.submit``, an IdP's own scopes) is not a SMART resource scope and is left
to the caller; a string that *looks* like a resource scope but breaks the grammar
(``user/DocumentReference.wc``, ``user/Document-Reference.r``) is malformed and never grants
anything.

chartgate's own scopes name its verbs, not FHIR interactions: ``chartgate/drafts.submit``,
``chartgate/context.read``, ``chartgate/drafts.approve``, ``chartgate/audit.read`` and
``chartgate/admin``. Which of them make which role is the identity adapter's role rule
(``jwt.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from collections.abc import Iterable

Context = Literal["patient", "user", "system"]
Permission = Literal["c", "r", "u", "d", "s"]

PERMISSIONS: Final[tuple[Permission, ...]] = ("c", "r", "u", "d", "s")
V1_PERMISSIONS: Final = {"read": "rs", "write": "cud", "*": "cruds"}

CHARTGATE_PREFIX: Final = "chartgate/"
SCOPE_SUBMIT: Final = "chartgate/drafts.submit"
SCOPE_CONTEXT_READ: Final = "chartgate/context.read"
SCOPE_APPROVE: Final = "chartgate/drafts.approve"
SCOPE_AUDIT_READ: Final = "chartgate/audit.read"
SCOPE_ADMIN: Final = "chartgate/admin"
CHARTGATE_SCOPES: Final = frozenset(
    {SCOPE_SUBMIT, SCOPE_CONTEXT_READ, SCOPE_APPROVE, SCOPE_AUDIT_READ, SCOPE_ADMIN}
)

_RESOURCE_SCOPE: Final = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{0,63})"
    r"\.(?P<perms>[a-z*]{1,5})(?:\?(?P<query>[^\s]{1,512}))?$"
)
# Only this prefix marks a string as meant to be a resource scope (so "launch/patient" is not).
_LOOKS_LIKE_RESOURCE: Final = re.compile(r"^(?:patient|user|system)/[^/\s]*\.")
_V2_PERMISSIONS: Final = re.compile(r"^c?r?u?d?s?$")


class ScopeError(ValueError):
    """A scope string looks like a SMART resource scope but breaks the grammar."""


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """One parsed SMART resource scope, with v1 spellings already mapped to v2."""

    context: Context
    resource_type: str  # "*" for every type
    permissions: frozenset[str]
    params: tuple[tuple[str, str], ...] = ()

    def allows(self, context: Context, resource_type: str, permission: Permission) -> bool:
        """True when this scope grants ``permission`` on ``resource_type`` in ``context``.

        Parameters (``?category=clinical-note``) narrow a scope to matching resources;
        chartgate only writes clinical notes, so a ``category`` parameter naming that
        category still allows the write and any other parameter is treated as "not this".
        """
        if self.context != context or permission not in self.permissions:
            return False
        if self.resource_type not in {"*", resource_type}:
            return False
        return all(_param_allows_note(name, value) for name, value in self.params)


def parse_resource_scope(scope: str) -> ResourceScope | None:
    """Parse one scope: a ``ResourceScope``, ``None`` when it is not a resource scope at all.

    Raises:
        ScopeError: It starts like a resource scope but is not a valid one.
    """
    if not _LOOKS_LIKE_RESOURCE.match(scope):
        return None
    match = _RESOURCE_SCOPE.fullmatch(scope)
    if match is None:
        raise ScopeError("malformed SMART scope")
    perms = V1_PERMISSIONS.get(match["perms"], match["perms"])
    if not perms or not _V2_PERMISSIONS.fullmatch(perms):
        raise ScopeError("SMART scope permissions must be a subset of 'cruds' in that order")
    params: tuple[tuple[str, str], ...] = ()
    if match["query"] is not None:
        if match["perms"] in V1_PERMISSIONS:
            raise ScopeError("v1 SMART scopes take no parameters")
        try:
            params = tuple(parse_qsl(match["query"], strict_parsing=True))
        except ValueError as e:
            raise ScopeError("malformed SMART scope parameters") from e
        if any(not name for name, _ in params):
            raise ScopeError("malformed SMART scope parameters")
    context: Context = match["context"]  # type: ignore[assignment]
    return ResourceScope(context, match["type"], frozenset(perms), params)


@dataclass(frozen=True, slots=True)
class ScopeSet:
    """A token's scopes, split into SMART resource scopes, chartgate scopes and the rest.

    Malformed resource-looking scopes are kept aside in ``malformed`` and grant nothing.
    """

    resource: tuple[ResourceScope, ...]
    chartgate: frozenset[str]
    other: frozenset[str]
    malformed: frozenset[str]

    @classmethod
    def parse(cls, scopes: Iterable[str]) -> ScopeSet:
        """Classify every scope string."""
        resource: list[ResourceScope] = []
        chartgate: set[str] = set()
        other: set[str] = set()
        malformed: set[str] = set()
        for scope in scopes:
            if scope.startswith(CHARTGATE_PREFIX):
                (chartgate if scope in CHARTGATE_SCOPES else malformed).add(scope)
                continue
            try:
                parsed = parse_resource_scope(scope)
            except ScopeError:
                malformed.add(scope)
                continue
            if parsed is None:
                other.add(scope)
            else:
                resource.append(parsed)
        return cls(tuple(resource), frozenset(chartgate), frozenset(other), frozenset(malformed))

    def has_resource_scopes(self, resource_type: str) -> bool:
        """True when any resource scope (any context) speaks about ``resource_type``."""
        return any(s.resource_type in {"*", resource_type} for s in self.resource)

    def allows(self, context: Context, resource_type: str, permission: Permission) -> bool:
        """True when some resource scope grants the interaction."""
        return any(s.allows(context, resource_type, permission) for s in self.resource)


_NOTE_CATEGORIES: Final = frozenset(
    {
        "clinical-note",
        "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category|clinical-note",
    }
)


def _param_allows_note(name: str, value: str) -> bool:
    """Whether a scope parameter still covers a clinical note chartgate writes."""
    return name == "category" and value in _NOTE_CATEGORIES
