"""The layer contract in pyproject.toml names every top-level module of chartgate.

import-linter only checks the modules a contract names: a new top-level module left out of
the layers would be free to import anything, and nothing would say so.
"""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import chartgate

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads(PYPROJECT.read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_every_top_level_module_sits_in_one_layer() -> None:
    """Each chartgate.X module or package appears in exactly one layer of the top-level contract.

    The other layers contracts (inside service/ and web/) order submodules, not packages.
    """
    (layers,) = [
        c["layers"]
        for c in _contracts()
        if c["type"] == "layers" and str(c["name"]).startswith("Layers: cli ")
    ]
    assert isinstance(layers, list)
    named = [name.strip() for layer in layers for name in str(layer).split("|")]
    modules = sorted(f"chartgate.{m.name}" for m in pkgutil.iter_modules(chartgate.__path__))
    assert sorted(named) == modules


MAX_MODULE_LINES = 450
"""Issue 11: a module past this has more than one reason to change; split it along a seam."""


def test_no_module_in_src_is_over_450_lines() -> None:
    """Every ``.py`` file of the package stays within ``MAX_MODULE_LINES``.

    Data is not code: generated tables live in package data (``adapters/*.json``).
    """
    package = Path(chartgate.__file__).parent
    over = {
        str(path.relative_to(package)): lines
        for path in sorted(package.rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert over == {}, over
