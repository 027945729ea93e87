"""The CLI's one failure handler: each kind of failure gets its documented exit code.

docs/ops/cli.md's table, checked against ``cli/failures.py``'s ``explain`` without starting a
process: the e2e suite (tests/e2e/test_cli_failures.py) runs every command on broken setups.
"""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from chartgate.cli.failures import (
    EXIT_FILE,
    EXIT_INTERNAL,
    EXIT_STORE_SCHEMA,
    EXIT_STORE_UNREACHABLE,
    EXIT_USAGE,
    explain,
)
from chartgate.domain.errors import ChartgateError, KeyFileError, SchemaNotCurrent
from chartgate.settings import SettingsFileError


def test_no_store_or_an_old_one_is_exit_4_with_its_message() -> None:
    """SchemaNotCurrent, a ChartgateError like the others, is the one that means exit 4."""
    failure = explain(
        SchemaNotCurrent("there is no chartgate store here: run `chartgate db upgrade`")
    )
    assert issubclass(SchemaNotCurrent, ChartgateError)
    assert failure.code == EXIT_STORE_SCHEMA
    assert failure.message == "there is no chartgate store here: run `chartgate db upgrade`"


def test_any_other_chartgate_error_is_usage_or_settings() -> None:
    """An unsafe key file (and every other ChartgateError) is exit 2 with its own message."""
    failure = explain(KeyFileError("key file must not be accessible by group or others"))
    assert (failure.code, failure.message) == (
        EXIT_USAGE,
        "key file must not be accessible by group or others",
    )


def test_a_missing_table_is_exit_4_and_an_unopenable_sqlite_file_exit_3() -> None:
    """The driver's words decide: unmigrated store (4) versus a store that cannot be reached (3)."""
    unmigrated = OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: drafts"))
    assert explain(unmigrated).code == EXIT_STORE_SCHEMA
    unopenable = OperationalError(
        "SELECT 1", {}, sqlite3.OperationalError("unable to open database file")
    )
    assert explain(unopenable).code == EXIT_STORE_UNREACHABLE
    assert "SQLite file" in explain(unopenable).message


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (SettingsFileError("CHARTGATE_CONFIG=/x.tmol: no such file"), EXIT_USAGE),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/keys/kek.key"), EXIT_FILE),
        (OSError(errno.EMFILE, "Too many open files"), EXIT_INTERNAL),
        (RuntimeError("a bug"), EXIT_INTERNAL),
    ],
    ids=["settings-file", "missing-file", "not-a-file", "bug"],
)
def test_the_other_failures_get_their_documented_codes(exc: BaseException, code: int) -> None:
    """Settings file 2, a file chartgate needs 5, anything else 70 (its type only, no text)."""
    failure = explain(exc)
    assert failure.code == code
    if isinstance(exc, RuntimeError):
        assert failure.message.startswith("internal error (RuntimeError)")
        assert "a bug" not in failure.message
