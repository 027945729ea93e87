# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""axe-core (npm, tests/browser_axe) run inside a Playwright page or frame.

The script is evaluated through the DevTools protocol (``evaluate``), which the page's strict
Content-Security-Policy does not block, so the page is checked exactly as it is served.
Every rule of every impact counts: the reviewer page must have no violation at all.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Protocol

from required import missing

AXE = Path(__file__).resolve().parent / "browser_axe" / "node_modules" / "axe-core" / "axe.min.js"


class Evaluates(Protocol):
    """A Playwright ``Page`` or ``Frame``."""

    def evaluate(self, expression: str, arg: Any = None) -> Any: ...


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(target: Evaluates) -> list[dict[str, Any]]:
    """Run axe-core on the document of ``target``; return its violations (none is the goal)."""
    if not AXE.is_file():
        missing("axe-core is not installed: npm ci --prefix tests/browser_axe (or make install)")
    target.evaluate(_source() + "\n;undefined")
    found: list[dict[str, Any]] = target.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found


def assert_no_violations(target: Evaluates, state: str) -> None:
    """axe-core finds nothing on this page state (the message lists what it found)."""
    found = violations(target)
    assert not found, f"axe-core violations on {state}: {found}"
