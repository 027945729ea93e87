#!/usr/bin/env python3
"""Branch coverage per layer from the data ``make test`` collected, and the gate on it.

Reads ``.coverage`` (written by pytest-cov, workers combined), prints one line per top-level
module of chartgate (statements + branches, the way coverage.py counts a branch-coverage
percentage), and exits 1 when a gated layer is under its floor. The floors are in
pyproject.toml, ``[tool.chartgate.coverage-gate]``, so raising one is a reviewed change.

Usage: python scripts/coverage_gate.py [DATA_FILE]
"""

from __future__ import annotations

import json
import sys
import tempfile
import tomllib
from collections import defaultdict
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]


def layer_of(path: str) -> str:
    """The layer of a source path: ``chartgate/domain/policy/schema.py`` is ``domain``."""
    parts = Path(path).parts
    inner = parts[parts.index("chartgate") + 1 :]
    name = inner[0].removesuffix(".py") if inner else "__init__"
    return "chartgate" if name == "__init__" else name


def per_layer(data_file: Path) -> dict[str, tuple[int, int]]:
    """Layer -> (covered, total), counting statements and branch destinations together."""
    cov = coverage.Coverage(data_file=str(data_file), config_file=str(ROOT / "pyproject.toml"))
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out))
        report = json.loads(out.read_text())
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, entry in report["files"].items():
        summary = entry["summary"]
        covered = summary["covered_lines"] + summary.get("covered_branches", 0)
        total = summary["num_statements"] + summary.get("num_branches", 0)
        layer = totals[layer_of(path)]
        layer[0] += covered
        layer[1] += total
    return {name: (c, t) for name, (c, t) in totals.items()}


def main(argv: list[str]) -> int:
    """Print the table, then apply the floors; 0 when every gated layer meets its floor."""
    data_file = Path(argv[1]) if len(argv) > 1 else ROOT / ".coverage"
    if not data_file.exists():
        sys.stderr.write(f"coverage gate: no coverage data at {data_file} (run make test)\n")
        return 2
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    floors: dict[str, float] = config["tool"]["chartgate"]["coverage-gate"]
    layers = per_layer(data_file)
    failed = []
    sys.stdout.write(f"{'layer':<16} {'branch coverage':>15}  floor\n")
    for name in sorted(layers):
        covered, total = layers[name]
        percent = 100.0 * covered / total if total else 100.0
        floor = floors.get(name)
        mark = ""
        if floor is not None and percent < floor:
            failed.append(f"{name} {percent:.1f}% < {floor}%")
            mark = "  FAILED"
        shown = f"{floor:>5.1f}%" if floor is not None else "     -"
        sys.stdout.write(f"{name:<16} {percent:>14.1f}%  {shown}{mark}\n")
    missing = sorted(set(floors) - set(layers))
    if missing:
        failed.append(f"no coverage data for gated layer(s): {', '.join(missing)}")
    if failed:
        sys.stderr.write("coverage gate FAILED: " + "; ".join(failed) + "\n")
        return 1
    sys.stdout.write("coverage gate passed\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
