"""Unit tests open no network socket: pytest-socket refuses one unless the test says so.

Every test collected under ``tests/unit`` gets pytest-socket's ``disable_socket`` mark, so an
accidental call to a real server fails loudly instead of quietly slowing the suite down or
depending on the machine. Unix sockets stay allowed (asyncio's event loop wakes itself through
a socketpair). Unit tests talk to fakes and ``httpx.MockTransport``; one that really needs a
server of its own on loopback would say so with ``@pytest.mark.enable_socket``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every unit test ``disable_socket`` unless it is marked ``enable_socket``."""
    for item in items:
        if UNIT in item.path.resolve().parents and not item.get_closest_marker("enable_socket"):
            item.add_marker(pytest.mark.disable_socket)
