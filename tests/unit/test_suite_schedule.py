"""How the suite is spread over xdist workers: modules stay whole, costliest units first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from xdist.scheduler import LoadFileScheduling

from suite_schedule import (
    DEFAULT_SECONDS,
    DURATIONS,
    OWN_UNITS,
    LongestFirstScheduling,
    load_costs,
    order_longest_first,
    pytest_xdist_make_scheduler,
    unit_of,
)

SPLIT = OWN_UNITS[0]


def test_a_test_belongs_to_its_module_unless_it_is_its_own_unit() -> None:
    """Module-scoped fixtures stay on one worker; a listed long test's cases go apart."""
    assert unit_of("tests/integration/test_story.py::test_a[sqlite]") == (
        "tests/integration/test_story.py"
    )
    assert unit_of(f"{SPLIT}[sqlite-admin]") == f"{SPLIT}[sqlite-admin]"
    assert unit_of(f"{SPLIT}[sqlite-admin]") != unit_of(f"{SPLIT}[postgresql-admin]")


def test_the_costliest_unit_comes_first_and_a_unit_stays_together() -> None:
    """Units are ordered by their measured seconds; a unit's tests keep their own order."""
    nodeids = [
        "tests/unit/test_a.py::test_1",
        "tests/e2e/test_b.py::test_1",
        "tests/unit/test_a.py::test_2",
        "tests/e2e/test_b.py::test_2",
        "tests/history/test_c.py::test_1",
    ]
    costs = {"tests/e2e/test_b.py": 30.0, "tests/history/test_c.py": 160.0}
    assert order_longest_first(nodeids, costs) == [
        "tests/history/test_c.py::test_1",
        "tests/e2e/test_b.py::test_1",
        "tests/e2e/test_b.py::test_2",
        "tests/unit/test_a.py::test_1",
        "tests/unit/test_a.py::test_2",
    ]


def test_a_unit_the_table_lacks_costs_the_default_per_test() -> None:
    """An unmeasured module of many tests goes before a measured one that costs less."""
    many = [f"tests/integration/test_new.py::test_{n}" for n in range(50)]
    costs = {"tests/unit/test_old.py": DEFAULT_SECONDS * 10}
    ordered = order_longest_first(["tests/unit/test_old.py::test_1", *many], costs)
    assert ordered[0].startswith("tests/integration/test_new.py")


def test_the_checked_in_table_names_the_long_units(tmp_path: Path) -> None:
    """``durations.json`` holds the history campaigns and the split tests; none is a table."""
    costs = load_costs(DURATIONS)
    assert costs["tests/history/test_history.py"] > 60
    assert any(unit.startswith(SPLIT) for unit in costs)
    assert load_costs(tmp_path / "missing.json") == {}
    written = tmp_path / "durations.json"
    written.write_text(json.dumps({"seconds": {"tests/x.py": 1.5}}))
    assert load_costs(written) == {"tests/x.py": 1.5}


def test_loadfile_runs_get_the_longest_first_scheduler(pytestconfig: pytest.Config) -> None:
    """Under ``--dist loadfile`` the scheduler splits by ``unit_of`` and keeps the sorted order."""

    class Config:
        def __init__(self, dist: str) -> None:
            self.option = pytestconfig.option
            self.dist = dist

        def getvalue(self, name: str) -> object:
            answers = {"dist": self.dist, "tx": ["2*popen"]}
            return answers[name] if name in answers else pytestconfig.getvalue(name)

    assert pytest_xdist_make_scheduler(Config("load"), None) is None  # type: ignore[arg-type]
    reorder = pytestconfig.option.loadscopereorder
    try:
        scheduler = pytest_xdist_make_scheduler(Config("loadfile"), None)  # type: ignore[arg-type]
        assert isinstance(scheduler, LongestFirstScheduling)
        assert isinstance(scheduler, LoadFileScheduling)
        assert pytestconfig.option.loadscopereorder is False
        assert scheduler._split_scope(f"{SPLIT}[sqlite-admin]") == f"{SPLIT}[sqlite-admin]"
        assert scheduler._split_scope("tests/unit/test_a.py::test_1") == "tests/unit/test_a.py"
    finally:
        pytestconfig.option.loadscopereorder = reorder
