"""All outbound HTTP goes through the one client factory (ADR 0021): a scan of src/.

The processor gate only protects what passes it, so this test parses every module under
``src/chartgate`` and fails on any other way to open an HTTP connection: constructing an
``httpx`` client or transport, ``httpx``'s module-level request functions, or importing
``urllib.request``, ``http.client``, ``requests``, ``urllib3``, ``aiohttp``, ``pycurl`` or
``socket`` connections. The only exceptions are listed below with their reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chartgate

SRC = Path(chartgate.__file__).parent
FACTORY = "adapters/ehr/http.py"

# module -> why it may construct its own client (each reviewed; keep this list short).
ALLOWED: dict[str, str] = {
    FACTORY: "the one client factory itself",
    "cli/demo.py": "the demo plays scribe and clinician against chartgate's own API on "
    "loopback in the same process; nothing leaves the machine",
    "adapters/telemetry.py": "the OTLP span exporter has its own HTTP session; its endpoint "
    "(tracing_endpoint) is checked against the processor registry at startup",
}

HTTPX_CONSTRUCTORS = {
    "Client",
    "AsyncClient",
    "HTTPTransport",
    "AsyncHTTPTransport",
    "request",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "stream",
}
FORBIDDEN_MODULES = {
    "urllib.request",
    "http.client",
    "requests",
    "urllib3",
    "aiohttp",
    "pycurl",
    "httpcore",
    "httplib2",
}
CONSTRUCTORS_BY_MODULE = {
    "socket": {"create_connection"},  # socket.socket: servers listen (threaded_server.py)
    "opentelemetry.exporter.otlp.proto.http.trace_exporter": {"OTLPSpanExporter"},
}


CONSTRUCTORS_BY_MODULE["httpx"] = HTTPX_CONSTRUCTORS
TOP_LEVEL_FORBIDDEN = {m for m in FORBIDDEN_MODULES if "." not in m}


def http_client_uses(tree: ast.AST) -> list[str]:
    """Every HTTP client construction or forbidden import in one parsed module."""
    aliases: dict[str, str] = {}  # local name -> "module" or "module.attr"
    found = _imports(tree, aliases)
    for node in ast.walk(tree):
        name = _dotted(node.func, aliases) if isinstance(node, ast.Call) else None
        if name is None:
            continue
        module, _, attr = name.rpartition(".")
        if attr in CONSTRUCTORS_BY_MODULE.get(module, set()):
            found.append(f"{name}(...) (line {getattr(node, 'lineno', 0)})")
    return found


def _imports(tree: ast.AST, aliases: dict[str, str]) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name
                top = alias.name.split(".")[0]
                if alias.name in FORBIDDEN_MODULES or top in TOP_LEVEL_FORBIDDEN:
                    found.append(f"import {alias.name} (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = full
                if node.module in FORBIDDEN_MODULES or full in FORBIDDEN_MODULES:
                    found.append(f"from {node.module} import {alias.name} (line {node.lineno})")
    return found


def _dotted(func: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    head = aliases.get(func.id, func.id)
    return ".".join([head, *reversed(parts)])


def test_no_http_client_is_made_outside_the_one_factory() -> None:
    """Only the factory (and the listed, reviewed exceptions) construct HTTP clients."""
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        if module in ALLOWED:
            continue
        uses = http_client_uses(ast.parse(path.read_text(encoding="utf-8")))
        if uses:
            offenders[module] = uses
    assert offenders == {}, f"HTTP clients outside {FACTORY}: {offenders}"


def test_every_listed_exception_still_needs_its_place() -> None:
    """An exception that no longer constructs a client is removed from the list."""
    for module in ALLOWED:
        tree = ast.parse((SRC / module).read_text(encoding="utf-8"))
        assert http_client_uses(tree), f"{module} is allowed but constructs no HTTP client"


def test_the_scan_sees_each_kind_of_client() -> None:
    """The scanner itself catches httpx, aliases, urllib, http.client, requests and sockets."""
    samples = {
        "import httpx\nhttpx.Client()": 1,
        "import httpx as h\nh.AsyncClient()": 1,
        "from httpx import Client as C\nC()": 1,
        "import httpx\nhttpx.get('https://x')": 1,
        "from urllib.request import urlopen\nurlopen('https://x')": 1,
        "import urllib.request\nurllib.request.urlopen('https://x')": 1,
        "import http.client\nhttp.client.HTTPSConnection('x')": 1,
        "import requests\nrequests.post('https://x')": 1,
        "import socket\nsocket.create_connection(('x', 443))": 1,
        "from urllib.parse import urlsplit\nurlsplit('https://x')": 0,
        "import httpx\nhttpx.Response(200)": 0,
    }
    for source, expected in samples.items():
        assert (len(http_client_uses(ast.parse(source))) >= 1) == bool(expected), source
