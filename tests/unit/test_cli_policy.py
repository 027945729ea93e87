"""``chartgate policy check|show``: the matrix as a table, exit 2 with a located message."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from chartgate.cli.policy import EXIT_INVALID, policy_app
from chartgate.policy import default_policy_bytes

POLICIES = Path(__file__).parent.parent / "data" / "policies"
DEFAULT_FILE = Path(__file__).parents[2] / "src" / "chartgate" / "policy" / "writeback.yaml"


def _run(*args: str) -> Result:
    """Invoke the policy sub-app wide enough that table cells are not wrapped."""
    return CliRunner().invoke(policy_app, list(args), env={"COLUMNS": "220"})


def test_valid_policy_file_exits_zero_and_prints_the_matrix() -> None:
    """Checking the shipped default prints every note type, its mode and auth, and exits 0."""
    result = _run("check", str(DEFAULT_FILE))
    assert result.exit_code == 0, result.output
    for expected in ("11506-3", "34117-2", "11488-4", "18842-5", "MedicationRequest"):
        assert expected in result.output
    assert "clinician-approved" in result.output
    assert "draft-only" in result.output
    assert "mfa, finalize step-up" in result.output
    assert "amend-replaces, entered-in-error" in result.output


def test_check_prints_the_hash_an_auditor_can_recompute() -> None:
    """The printed hash is sha256 of the file bytes, as sha256sum would print it."""
    result = _run("check", str(POLICIES / "minimal.yaml"))
    digest = hashlib.sha256((POLICIES / "minimal.yaml").read_bytes()).hexdigest()
    assert result.exit_code == 0, result.output
    assert f"policy hash: sha256:{digest}" in result.output


def test_show_prints_the_shipped_default() -> None:
    """``policy show`` prints the default matrix and the hash of the packaged file."""
    result = _run("show")
    digest = hashlib.sha256(default_policy_bytes()).hexdigest()
    assert result.exit_code == 0, result.output
    assert "conservative-default" in result.output
    assert f"sha256:{digest}" in result.output


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("unknown-mode.yaml", "resources.Condition.mode: Input should be 'draft-only'"),
        ("misspelled-resource.yaml", "resources.Conditon: 'Conditon' is not a FHIR R4"),
        ("wrong-loinc-check-digit.yaml", "'28655-1' has a wrong LOINC check digit"),
        ("duplicate-resource.yaml", "line 22, column 3: duplicate key 'Condition'"),
        ("bad-yaml.yaml", "line 5, column 10:"),
        ("not-a-mapping.yaml", "the policy must be a YAML mapping"),
    ],
)
def test_bad_policy_file_exits_2_naming_the_location(fixture: str, expected: str) -> None:
    """Each bad file gives exit 2 and a single error line that says where the problem is."""
    path = POLICIES / fixture
    result = _run("check", str(path))
    assert result.exit_code == EXIT_INVALID
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert expected in lines[0]


def test_missing_policy_file_exits_2(tmp_path: Path) -> None:
    """A path that does not exist is a clear error, not a traceback."""
    missing = tmp_path / "absent.yaml"
    result = _run("check", str(missing))
    assert result.exit_code == EXIT_INVALID
    assert f"error: {missing}: cannot read the policy file" in result.stderr
    assert "Traceback" not in result.output


def test_empty_policy_file_exits_2(tmp_path: Path) -> None:
    """An empty file parses as nothing and is refused as not being a mapping."""
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    result = _run("check", str(empty))
    assert result.exit_code == EXIT_INVALID
    assert "must be a YAML mapping" in result.stderr


def test_directory_instead_of_file_exits_2(tmp_path: Path) -> None:
    """Pointing at a directory is reported as an unreadable policy file."""
    result = _run("check", str(tmp_path))
    assert result.exit_code == EXIT_INVALID
    assert "cannot read the policy file" in result.stderr


def test_check_without_a_file_is_a_usage_error() -> None:
    """``policy check`` needs its FILE argument (Typer's usage error, also exit 2)."""
    assert _run("check").exit_code == EXIT_INVALID
