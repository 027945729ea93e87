"""The data-flow map accounts for every route, column, outbound destination and role.

Each live set is derived from the code itself: the routes from the app ``create_app``
builds, the columns from the SQLAlchemy metadata, the outbound purposes from the
``gate.bound(purpose=...)`` calls under src/, the roles from ``Role``. A new one that the map
(``domain/access_map.py``, ``domain/data_inventory.py``) does not account for fails here.
The checked-in picture (docs/compliance/dataflow.mmd) must be what ``chartgate dataflow``
draws from docs/compliance/example.toml.
"""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Column, MetaData, String, Table
from starlette.routing import BaseRoute, Mount, Route

import chartgate
from chartgate.adapters.storage import tables
from chartgate.api.app import create_app
from chartgate.bootstrap import build
from chartgate.cli.dataflow import Format, render
from chartgate.domain.access_map import ROLES, ROUTES
from chartgate.domain.data_inventory import OUTBOUND, TABLES
from chartgate.domain.principal import Role
from chartgate.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
SRC = Path(chartgate.__file__).parent


def unaccounted_columns(metadata: MetaData) -> set[str]:
    """Columns of the schema the inventory does not list, and listed ones that are gone."""
    live = {f"{t.name}.{c.name}" for t in metadata.tables.values() for c in t.columns}
    mapped = {f"{name}.{column}" for name, entry in TABLES.items() for column in entry.columns}
    return live ^ mapped


def outbound_purposes() -> set[str]:
    """Every ``purpose="..."`` given to a ``.bound(...)`` call under src/."""
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "bound"
            ):
                for keyword in node.keywords:
                    if keyword.arg == "purpose" and isinstance(keyword.value, ast.Constant):
                        found.add(str(keyword.value.value))
    return found


def served_routes(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route, through included routers (FastAPI 0.163 wraps them)."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            assert not getattr(context, "prefix", ""), "a prefix given at include time"
            found |= served_routes(included.routes)
        elif isinstance(route, APIRoute | Route):
            found |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
        else:
            assert isinstance(route, Mount), f"unknown route kind {route!r}"
            assert route.path == "/review/static", "only the static files are mounted"
    return found


def test_every_served_route_is_in_the_route_role_table(tmp_path: Path) -> None:
    """The routes of the real app equal the table's (method, path) pairs, no more, no less."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}", key_file=str(tmp_path / "k.key")
    )
    application = build(settings, migrate=True)
    try:
        live = served_routes(create_app(application).routes)
    finally:
        application.close()
    assert live == {(r.method, r.path) for r in ROUTES}


def test_every_column_of_the_schema_is_in_the_inventory() -> None:
    """Each column of every table has a kind in the inventory (and nothing stale is listed)."""
    assert unaccounted_columns(tables.metadata) == set()


def test_a_new_column_is_caught() -> None:
    """A column added to the schema but not to the inventory is reported."""
    copy = MetaData()
    for table in tables.metadata.tables.values():
        table.to_metadata(copy)
    Table("drafts", copy, Column("free_text_note", String(200)), extend_existing=True)
    assert unaccounted_columns(copy) == {"drafts.free_text_note"}


def test_every_outbound_purpose_is_on_the_map() -> None:
    """The purposes outbound clients are built for are exactly the map's destinations."""
    assert outbound_purposes() == set(OUTBOUND)


def test_every_role_is_on_the_map() -> None:
    """The roles of the code are the map's, and every route names only known roles."""
    assert {r.value for r in Role} == set(ROLES)
    assert {role for route in ROUTES for role in route.roles} <= set(ROLES)


def test_the_checked_in_picture_is_what_the_command_draws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/compliance/dataflow.mmd equals ``chartgate dataflow`` on the example config."""
    monkeypatch.delenv("CHARTGATE_PROCESSORS", raising=False)
    monkeypatch.delenv("CHARTGATE_DEV_MODE", raising=False)
    monkeypatch.setenv("CHARTGATE_CONFIG", str(REPO / "docs/compliance/example.toml"))
    drawn = render(load_settings(), Format.MERMAID, date(2026, 12, 1)).decode()
    checked_in = (REPO / "docs/compliance/dataflow.mmd").read_text(encoding="utf-8")
    assert drawn == checked_in, (
        "regenerate: CHARTGATE_CONFIG=docs/compliance/example.toml chartgate dataflow "
        "--on 2026-12-01 -o docs/compliance/dataflow.mmd (and -f svg -o ....svg)"
    )
    assert (REPO / "docs/compliance/dataflow.svg").read_text(encoding="utf-8").count("<svg") == 1
