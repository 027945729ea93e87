"""The data-flow map as a graph: where PHI enters, is transformed, stored, read, sent, deleted.

Pure: given the facts (the route/role table, the table inventory, the processors with their
BAA status, the retention rules, the configured tenants), build nodes and edges and render
them as Mermaid (``flowchart LR``) or Graphviz DOT. ``chartgate dataflow`` gathers the facts
from the running configuration and the code; this module only draws.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from chartgate.domain.access_map import Access, RouteAccess
from chartgate.domain.data_inventory import TableEntry
from chartgate.domain.processors import Processor

# Which processor roles receive data from which outbound purpose.
_PURPOSE_ROLES = {
    "ehr": ("ehr", "token"),
    "audit-sink": ("audit-sink",),
    "webhook": ("webhook",),
    "identity": ("identity",),
    "observability": ("observability",),
}
_UPSTREAM_ROLES = ("scribe", "speech-to-text", "llm")  # send to chartgate; never called by it


@dataclass(frozen=True, slots=True)
class Node:
    """One box: an id safe for both renderers, its label lines and its kind (for styling)."""

    id: str
    lines: tuple[str, ...]
    kind: str  # actor | route | core | store | processor | retention


@dataclass(frozen=True, slots=True)
class Edge:
    """One arrow with a short label."""

    source: str
    target: str
    label: str


@dataclass
class Graph:
    """Nodes and edges in drawing order."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the map is drawn from."""

    routes: tuple[RouteAccess, ...]
    tables: dict[str, TableEntry]
    processors: tuple[Processor, ...]
    retention: dict[str, str]  # record class -> "delete after 90 days"
    tenants: tuple[str, ...]
    outbound: tuple[str, ...]  # purposes outbound clients are built for
    today: date


def build_graph(facts: Facts) -> Graph:
    """The whole map: actors, route groups, the core, stores, processors, retention."""
    graph = Graph()
    tenants = ", ".join(facts.tenants) or "none configured"
    graph.nodes.append(
        Node(
            "core",
            (
                "chartgate",
                f"tenants: {tenants}",
                "validate, policy, diff, approve",
                "envelope-encrypt (tenant data key)",
            ),
            "core",
        )
    )
    _routes(graph, facts.routes)
    _stores(graph, facts.tables)
    _processors(graph, facts)
    graph.nodes.append(
        Node(
            "retention",
            ("retention run (deletes)", *(f"{k}: {v}" for k, v in facts.retention.items())),
            "retention",
        )
    )
    for name, entry in facts.tables.items():
        if any(rule in entry.retention for rule in facts.retention):
            graph.edges.append(Edge("retention", _id("t", name), "deletes / archives"))
    return graph


def _routes(graph: Graph, routes: tuple[RouteAccess, ...]) -> None:
    groups: dict[tuple[str, Access], list[RouteAccess]] = defaultdict(list)
    for route in routes:
        groups[(route.surface, route.access)].append(route)
    roles = sorted({role for route in routes for role in route.roles})
    for role in roles:
        graph.nodes.append(Node(_id("role", role), (f"role: {role}",), "actor"))
    graph.nodes.append(Node("role_public", ("anyone (no PHI)",), "actor"))
    for (surface, access), members in sorted(groups.items()):
        node = _id("r", f"{surface}_{access.value}")
        phi = " (PHI)" if any(r.phi for r in members) else ""
        lines = [f"{surface} {access.value}{phi}"] + [f"{r.method} {r.path}" for r in members]
        graph.nodes.append(Node(node, tuple(lines), "route"))
        admitted = sorted({role for r in members for role in r.roles})
        for role in admitted or ["public"]:
            graph.edges.append(Edge(_id("role", role), node, access.value))
        verb = "PHI in" if access is Access.SUBMIT else access.value
        graph.edges.append(Edge(node, "core", verb))


def _stores(graph: Graph, tables: dict[str, TableEntry]) -> None:
    for name, entry in tables.items():
        lines = [f"table {name}", entry.purpose]
        encrypted, clear = entry.encrypted(), entry.phi_in_clear()
        lines.append("encrypted: " + (", ".join(encrypted) or "none"))
        if clear:
            lines.append("PHI refs in clear: " + ", ".join(clear))
        lines.append(f"retention: {entry.retention}")
        graph.nodes.append(Node(_id("t", name), tuple(lines), "store"))
        graph.edges.append(Edge("core", _id("t", name), "stores"))


def _processors(graph: Graph, facts: Facts) -> None:
    for processor in facts.processors:
        status = processor.baa_status(facts.today).value
        until = f" until {processor.baa_expires.isoformat()}" if processor.baa_expires else ""
        lines = (
            f"{processor.id} ({processor.role})",
            processor.legal_entity,
            f"BAA: {status}{until}",
            "PHI: " + (", ".join(processor.phi_categories) or "none"),
        )
        node = _id("p", processor.id)
        graph.nodes.append(Node(node, lines, "processor"))
        if processor.role in _UPSTREAM_ROLES:
            graph.edges.append(Edge(node, "role_scribe", "produces drafts"))
            continue
        purpose = next((p for p, rs in _PURPOSE_ROLES.items() if processor.role in rs), None)
        if purpose is not None:
            graph.edges.append(Edge("core", node, f"sends ({purpose})"))
    covered = {p.role for p in facts.processors}
    for purpose in facts.outbound:
        if not covered.intersection(_PURPOSE_ROLES.get(purpose, (purpose,))):
            node = _id("p", f"unregistered_{purpose}")
            refused = (f"{purpose}: no processor registered", "every call refused")
            graph.nodes.append(Node(node, refused, "processor"))
            graph.edges.append(Edge("core", node, f"refused ({purpose})"))


def _id(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9]', '_', name)}"


# -- renderers --------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "actor": ("([", "])"),
    "route": ("[", "]"),
    "core": ("[[", "]]"),
    "store": ("[(", ")]"),
    "processor": ("{{", "}}"),
    "retention": ("[/", "/]"),
}
_DOT_STYLE = {
    "actor": 'shape=ellipse, style=filled, fillcolor="#e8f0fe"',
    "route": 'shape=box, style="rounded,filled", fillcolor="#fff8e1"',
    "core": 'shape=box, style="bold,filled", fillcolor="#e0f2f1"',
    "store": 'shape=cylinder, style=filled, fillcolor="#f3e5f5"',
    "processor": 'shape=hexagon, style=filled, fillcolor="#fde0dc"',
    "retention": 'shape=parallelogram, style=filled, fillcolor="#eeeeee"',
}


def to_mermaid(graph: Graph) -> str:
    """Mermaid ``flowchart LR`` text (labels quoted, lines joined with ``<br/>``)."""
    out = ["flowchart LR"]
    for node in graph.nodes:
        left, right = _MERMAID_SHAPES[node.kind]
        label = "<br/>".join(_mermaid_text(line) for line in node.lines)
        out.append(f'  {node.id}{left}"{label}"{right}')
    out.extend(
        f'  {edge.source} -->|"{_mermaid_text(edge.label)}"| {edge.target}' for edge in graph.edges
    )
    return "\n".join(out) + "\n"


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text for ``dot -Tsvg``."""
    out = [
        "digraph chartgate_dataflow {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in graph.nodes:
        label = "\\n".join(_dot_text(line) for line in node.lines)
        out.append(f'  {node.id} [label="{label}", {_DOT_STYLE[node.kind]}];')
    out.extend(
        f'  {edge.source} -> {edge.target} [label="{_dot_text(edge.label)}"];'
        for edge in graph.edges
    )
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("{", "#123;").replace("}", "#125;")


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
