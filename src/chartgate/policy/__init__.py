"""Loading write-back policy files: the shipped default and files named by configuration.

The rules live in ``chartgate.domain.policy`` and read no files; this package does the reading
(package data through ``importlib.resources``, or a path) and the YAML parsing, and hands the
exact bytes to ``policy_hash`` so the recorded hash is the hash of the file an auditor holds.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from importlib import resources
from typing import TYPE_CHECKING

import yaml

from chartgate.domain.errors import PolicyFileError
from chartgate.domain.policy import LoadedPolicy, parse_policy, policy_hash

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_POLICY_FILE = "writeback.yaml"
"""Name of the shipped conservative default inside this package."""


def default_policy_bytes() -> bytes:
    """Return the bytes of the shipped default policy, exactly as packaged."""
    return (
        resources.files(__package__ or "chartgate.policy")
        .joinpath(DEFAULT_POLICY_FILE)
        .read_bytes()
    )


def load_default_policy() -> LoadedPolicy:
    """Parse the shipped default policy, with its hash."""
    return load_policy_bytes(default_policy_bytes(), source=f"<default {DEFAULT_POLICY_FILE}>")


def load_policy_file(path: Path) -> LoadedPolicy:
    """Read, parse and validate a policy file; every failure is a ``PolicyFileError``.

    The composition root calls this with the configured ``policy`` path, and ``chartgate
    policy check`` with its argument, so both refuse a file for the same reasons.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise PolicyFileError(f"{path}: cannot read the policy file: {reason}") from e
    return load_policy_bytes(raw, source=str(path))


def load_policy_bytes(raw: bytes, *, source: str) -> LoadedPolicy:
    """Parse YAML policy bytes and validate them; messages start with ``source``."""
    try:
        data = yaml.load(raw, Loader=_StrictSafeLoader)  # noqa: S506 - a safe (CSafeLoader) subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        raise PolicyFileError(f"{source}: {where}{problem}") from e
    except yaml.YAMLError as e:
        raise PolicyFileError(f"{source}: not valid YAML: {e}") from e
    if not isinstance(data, Mapping):
        raise PolicyFileError(f"{source}: the policy must be a YAML mapping at the top level")
    try:
        policy = parse_policy(data)
    except PolicyFileError as e:
        raise PolicyFileError(f"{source}: {e.message}", expression=e.expression) from e
    return LoadedPolicy(policy=policy, content_hash=policy_hash(raw))


class _StrictSafeLoader(yaml.CSafeLoader):
    """``yaml.safe_load`` semantics, except that a repeated mapping key is an error.

    PyYAML keeps the last of two equal keys silently; in a security policy a second
    ``Condition:`` entry overriding the first unseen is exactly the mistake review misses.
    It parses with libyaml (PyYAML's wheels are built with it): the same safe subset and the
    same error marks as the pure-Python parser, several times faster.
    """

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Hashable, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<: *anchor`` merges are resolved (and may be overridden) below
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)
