"""From the bytes of a policy file to a parsed, hashed policy (no file is read here).

``chartgate.policy`` reads files and YAML; this module validates the parsed data, turns
pydantic's errors into one readable line, and hashes the exact bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from chartgate.domain.errors import PolicyFileError
from chartgate.domain.policy.schema import WritebackPolicy


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A policy together with the hash of the exact bytes it was parsed from.

    Kept together so that the hash recorded in a Provenance is always the hash of the
    policy that made the decision.
    """

    policy: WritebackPolicy
    content_hash: str


def policy_hash(raw_bytes: bytes) -> str:
    """Return ``"sha256:" + hex`` of the policy file's bytes exactly as loaded.

    The bytes, not the parsed data, are hashed so that an auditor holding the file can check
    the value recorded in a Provenance with ``sha256sum writeback.yaml``; comments and
    whitespace therefore change the hash, as any edit to a reviewed file should.
    """
    return "sha256:" + hashlib.sha256(raw_bytes).hexdigest()


def parse_policy(data: Mapping[str, object]) -> WritebackPolicy:
    """Validate parsed policy data (e.g. from YAML) into a ``WritebackPolicy``.

    Raises ``PolicyFileError`` whose message names the location of each problem, such as
    ``resources.Condition.mode: Input should be 'draft-only', ...``.
    """
    if not isinstance(data, Mapping):
        raise PolicyFileError("the policy must be a mapping at the top level")
    try:
        return WritebackPolicy.model_validate(data)
    except ValidationError as e:
        problems = [_describe(error) for error in e.errors()]
        message = "; ".join(text for _, text in problems[:_MAX_PROBLEMS])
        if len(problems) > _MAX_PROBLEMS:
            message += f"; and {len(problems) - _MAX_PROBLEMS} more"
        raise PolicyFileError(message, expression=problems[0][0] or None) from e


_MAX_PROBLEMS = 3
_MAX_SHOWN = 60

_FRIENDLY = {
    "extra_forbidden": "unknown field (not part of the policy schema)",
    "missing": "required field is missing",
}


def _describe(error: Mapping[str, object]) -> tuple[str, str]:
    """Turn one pydantic error into (location, 'location: message')."""
    location = _location(error.get("loc", ()))
    kind = str(error.get("type", ""))
    message = _FRIENDLY.get(kind) or str(error.get("msg", "invalid")).removeprefix("Value error, ")
    # YAML has lists and mappings, not pydantic's tuples and dictionaries.
    message = message.replace("Tuple should", "List should").replace("Dictionary", "Mapping")
    value = error.get("input")
    shown = isinstance(value, str | int | float | bool) and len(str(value)) <= _MAX_SHOWN
    if kind not in _FRIENDLY and kind != "value_error" and shown:
        message += f" (got {value!r})"
    return location, f"{location}: {message}" if location else message


def _location(loc: object) -> str:
    """Render a pydantic location as ``resources.DocumentReference.note_types.11506-3.mode``."""
    text = ""
    for part in loc if isinstance(loc, tuple) else ():
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
