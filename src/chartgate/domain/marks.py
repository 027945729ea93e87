"""The mark every version chartgate writes carries: a ``meta.tag`` with the write-back id.

After a lost or unusual answer the worker asks the chart "is the current version mine?"
(``carries_mark``) before it calls anything a conflict (``domain/writeback.py``).
"""

from __future__ import annotations

import copy
from typing import Any

from chartgate.domain import fhir_codes as fc

JsonObject = dict[str, Any]


def _copied(node: Any) -> Any:  # noqa: ANN401 - JSON
    """A deep copy of JSON (dicts, lists, scalars); anything else through ``copy.deepcopy``.

    Every approval marks its payload; ``copy.deepcopy``'s memo and dispatch cost more than
    the copy itself for plain JSON.
    """
    kind = type(node)
    if kind is dict:
        return {key: _copied(value) for key, value in node.items()}
    if kind is list:
        return [_copied(value) for value in node]
    if kind is str or kind is int or kind is float or kind is bool or node is None:
        return node
    return copy.deepcopy(node)


def mark(resource: JsonObject, writeback_id: str) -> JsonObject:
    """A copy of ``resource`` carrying this write-back's mark (and no other write-back's).

    The mark is a ``meta.tag`` in chartgate's write-back system, so it is searchable
    (``_tag``) and it travels with every version chartgate writes: an update carries the id of
    the write-back that made it, not of the one that created the document.
    """
    marked: JsonObject = _copied(resource)
    meta = marked.setdefault("meta", {})
    tags = [t for t in meta.get("tag", []) if t.get("system") != fc.WRITEBACK_SYSTEM]
    tags.append(fc.coding(fc.WRITEBACK_SYSTEM, writeback_id))
    meta["tag"] = tags
    return marked


def carries_mark(resource: JsonObject, writeback_id: str) -> bool:
    """True when ``resource`` (as the chart holds it now) was written by this write-back."""
    return any(
        tag.get("system") == fc.WRITEBACK_SYSTEM and tag.get("code") == writeback_id
        for tag in resource.get("meta", {}).get("tag", [])
    )
