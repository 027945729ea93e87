"""Loading retention rules: the shipped default or a file named by ``retention_policy``.

Same reading rules as the write-back policy (``chartgate.policy``): strict YAML (a
repeated key is an error), the schema in ``chartgate.domain.retention``, and the hash of
the exact bytes, which every retention action records in the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from chartgate.domain.errors import PolicyFileError
from chartgate.domain.retention import RetentionPolicy, parse_retention, retention_hash
from chartgate.policy import _StrictSafeLoader

DEFAULT_RETENTION_FILE = "retention.yaml"


@dataclass(frozen=True, slots=True)
class LoadedRetention:
    """Parsed rules and the hash of the file they came from."""

    policy: RetentionPolicy
    content_hash: str
    source: str


def load_retention(path: str | Path | None) -> LoadedRetention:
    """The rules at ``path``, or the shipped default when ``path`` is None."""
    if path is None:
        raw = resources.files("chartgate.policy").joinpath(DEFAULT_RETENTION_FILE).read_bytes()
        return load_retention_bytes(raw, source=f"<default {DEFAULT_RETENTION_FILE}>")
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise PolicyFileError(f"{path}: cannot read the retention rules: {reason}") from e
    return load_retention_bytes(raw, source=str(path))


def load_retention_bytes(raw: bytes, *, source: str) -> LoadedRetention:
    """Parse and validate YAML bytes; messages start with ``source``."""
    try:
        data = yaml.load(raw, Loader=_StrictSafeLoader)  # noqa: S506 - a safe (CSafeLoader) subclass
    except yaml.YAMLError as e:
        raise PolicyFileError(f"{source}: not valid YAML: {e}") from e
    if not isinstance(data, Mapping):
        raise PolicyFileError(f"{source}: the retention rules must be a YAML mapping")
    try:
        policy = parse_retention(data)
    except PolicyFileError as e:
        raise PolicyFileError(f"{source}: {e.message}") from e
    return LoadedRetention(policy=policy, content_hash=retention_hash(raw), source=source)
