"""How the suite is spread over pytest-xdist workers: longest work first (a pytest plugin).

``make test`` runs two workers with ``--dist loadfile``, which this plugin refines in two
ways (it only acts when pytest runs with ``--dist loadfile``; ``-n 0`` is untouched):

- **Units.** A scheduling unit is a module, as with plain ``loadfile`` (a module's tests, and
  its module-scoped fixtures, stay on one worker), except for the tests named in
  ``OWN_UNITS``: each of their cases is a unit of its own. These are long, independent tests
  (schemathesis once per role and store; every CLI command per broken setup) whose files
  would otherwise hold one worker for minutes (test_cli_failures.py: 9 min) while the other
  ran out of work.
- **Order.** xdist hands units out in the order the workers collected them; this plugin sorts
  the collection so that the costliest units come first (longest-processing-time first). The
  history campaigns and schemathesis start at once and the many short units fill in at the
  end, so both workers finish together. Plain ``loadfile`` ordered units by their number of
  tests, which put the one-test history files (minutes each) at the very end.

The costs are seconds per unit measured on the CI machine, in ``tests/durations.json``
(``scripts/test_durations.py`` writes it from a ``--durations=0`` run). A stale file only makes
the order less good, never a test wrong; a unit missing from it costs ``DEFAULT_SECONDS`` per
test.

xdist's own ``--dist loadgroup`` (``xdist_group`` marks) is not used: with pytest 9 the node id
is no longer an attribute xdist can append the group to, and the marks are silently ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from xdist.scheduler import LoadFileScheduling

if TYPE_CHECKING:
    from xdist.remote import Producer

DURATIONS = Path(__file__).resolve().parent / "durations.json"
DEFAULT_SECONDS = 0.1  # most units the table lacks are unit-test files (milliseconds a test)
# Tests (node ids without parameters) whose every case is a scheduling unit of its own.
OWN_UNITS = (
    # schemathesis per role and store (20-40 s each)
    "tests/contract/test_openapi_contract.py::test_schemathesis_finds_no_failure",
    # every CLI command as a subprocess, per broken setup (1-2 min each)
    "tests/e2e/test_cli_failures.py::test_every_command_fails_in_one_line_on_a_broken_setup",
    # the runbook on each store (40-50 s each; chromium starts once per unit)
    "tests/e2e/test_runbook.py::test_the_bad_model_version_runbook_end_to_end",
)


def unit_of(nodeid: str) -> str:
    """The scheduling unit of a test: its own node id if listed in ``OWN_UNITS``, else its file."""
    if nodeid.split("[", 1)[0] in OWN_UNITS:
        return nodeid
    return nodeid.split("::", 1)[0]


def load_costs(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per unit from ``durations.json`` (an empty table when there is none)."""
    if not path.exists():
        return {}
    costs: dict[str, float] = json.loads(path.read_text())["seconds"]
    return costs


def order_longest_first(nodeids: list[str], costs: dict[str, float]) -> list[str]:
    """``nodeids`` grouped by unit, costliest unit first; the order inside a unit is kept."""
    units: dict[str, list[str]] = {}
    for nodeid in nodeids:
        units.setdefault(unit_of(nodeid), []).append(nodeid)

    def cost(unit: str) -> float:
        return costs.get(unit, DEFAULT_SECONDS * len(units[unit]))

    ordered = sorted(units, key=lambda unit: -cost(unit))  # stable: ties keep collection order
    return [nodeid for unit in ordered for nodeid in units[unit]]


class LongestFirstScheduling(LoadFileScheduling):  # type: ignore[misc] # xdist is untyped
    """``--dist loadfile`` with the units of ``unit_of``, handed out in collection order."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        """Keep the workers' (sorted) order: xdist's reorder would sort by number of tests."""
        super().__init__(config, log)
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)


def _distributing_by_file(config: pytest.Config) -> bool:
    return bool(config.getvalue("dist") == "loadfile")


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadFileScheduling | None:
    """On the controller, under ``--dist loadfile``: the longest-first scheduler."""
    return LongestFirstScheduling(config, log) if _distributing_by_file(config) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: put the costliest units first.

    Every worker sorts the same collection the same way, as xdist requires (a worker does not
    know the ``--dist`` mode; the order is harmless to the others).
    """
    if not hasattr(config, "workerinput"):
        return
    rank = {
        nodeid: index
        for index, nodeid in enumerate(order_longest_first([i.nodeid for i in items], load_costs()))
    }
    items.sort(key=lambda item: rank[item.nodeid])
