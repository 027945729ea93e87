"""What a test does when a service it needs is missing: fail under CI, skip elsewhere.

Its own module (not ``conftest``) so that test modules can import it by name: ``conftest`` is
the name of every conftest.py outside a package, and whichever was loaded last would answer.
"""

from __future__ import annotations

import os

import pytest


def missing(reason: str) -> None:
    """Fail under CI (a required service is missing), skip on a developer machine."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required service missing under CI=true: {reason}")
    pytest.skip(reason)
