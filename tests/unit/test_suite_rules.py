"""Rules the suite itself keeps: a skipped contract test fails CI, unit tests open no socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

SUITE_RULES = Path(__file__).resolve().parents[1] / "suite_rules.py"
SKIPPING_TEST = """
import pytest

pytestmark = pytest.mark.contract

def test_against_a_server_that_did_not_start():
    '''Stands for a contract test whose server is missing.'''
    pytest.skip("Medplum test EHR unavailable")
"""


def test_a_skipped_contract_test_fails_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CI=true the contract suite's skip becomes a failure that names the reason."""
    pytester.makeconftest(SUITE_RULES.read_text())
    pytester.makepyfile(test_contract=SKIPPING_TEST)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true*Medplum test EHR unavailable*"])


def test_a_skipped_contract_test_stays_a_skip_on_a_developer_machine(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without CI=true the same skip is reported as a skip, with its reason."""
    pytester.makeconftest(SUITE_RULES.read_text())
    pytester.makepyfile(test_contract=SKIPPING_TEST)
    monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)


def test_a_unit_test_cannot_open_a_network_socket() -> None:
    """pytest-socket refuses an inet socket in tests/unit (tests/suite_rules.py)."""
    with pytest.raises(RuntimeError, match="socket"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
