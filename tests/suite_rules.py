"""Rules the suite keeps about itself (a pytest plugin, registered in tests/conftest.py).

- Unit tests open no network socket: every test under ``tests/unit`` gets pytest-socket's
  ``disable_socket`` mark, so an accidental call to a real server fails loudly instead of
  quietly slowing the suite down or depending on the machine. Unix sockets stay allowed
  (asyncio's event loop wakes itself through a socketpair; ``--allow-unix-socket`` in addopts).
  Unit tests talk to fakes and ``httpx.MockTransport``; one that really needs a server of its
  own on loopback says so with ``@pytest.mark.enable_socket``.
- Under ``CI=true`` a skipped contract test (marked ``contract``) is a failed one. The contract
  suite keeps our sandbox EHR honest against a server we did not write; a CI run that skipped it
  (no Node, no harness, a server that did not start) would go green while checking nothing. On
  a developer machine a skip stays a skip, with its reason.

A plugin rather than conftest files in those folders: ``tests/`` is on ``sys.path`` and tests
import helpers ``from conftest``, so a second module named ``conftest`` would shadow the first.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent / "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every unit test ``disable_socket`` unless it is marked ``enable_socket``."""
    for item in items:
        if UNIT in item.path.resolve().parents and not item.get_closest_marker("enable_socket"):
            item.add_marker(pytest.mark.disable_socket)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn a skip of a ``contract`` test into a failure when ``CI=true``."""
    report = yield
    if (
        report.skipped
        and item.get_closest_marker("contract") is not None
        and not hasattr(report, "wasxfail")
        and os.environ.get("CI") == "true"
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"contract test skipped under CI=true ({item.nodeid}): {reason}"
    return report
