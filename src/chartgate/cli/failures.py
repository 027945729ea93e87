"""The CLI's one error handler: any failure becomes one line with the fix and an exit code.

Every command runs inside ``main()``, which hands whatever escaped it to ``explain``. An
operator sees one line naming what is wrong and how to fix it, never a traceback (a
traceback can quote a SQL parameter or a URL with a password). ``CHARTGATE_TRACEBACK=1``
shows the traceback for a developer.

Exit codes (also in docs/ops/cli.md):

====  =============================================================================
0     done
1     the command's own negative answer (a draft refused, a ledger that does not verify)
2     usage or settings: a bad option, a missing or broken CHARTGATE_CONFIG, a bad value
3     the store cannot be reached (database server stopped, wrong host, refused login)
4     the store is not at this version's schema: run ``chartgate db upgrade``
5     a file chartgate needs (key, policy, archive) is missing or unreadable
70    an internal error (a bug): the exception's type only
====  =============================================================================
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chartgate.domain.errors import ChartgateError, SchemaNotCurrent

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

EXIT_NEGATIVE = 1
EXIT_USAGE = 2
EXIT_STORE_UNREACHABLE = 3
EXIT_STORE_SCHEMA = 4
EXIT_FILE = 5
EXIT_INTERNAL = 70

_UNMIGRATED = ("no such table", "no such column", "undefinedtable", "undefinedcolumn")
_UNMIGRATED_PG_CODES = frozenset({"42P01", "42703"})  # undefined_table, undefined_column


@dataclass(frozen=True, slots=True)
class Failure:
    """What to print and which code to exit with."""

    message: str
    code: int


def require_existing_keys(paths: Iterable[Path]) -> None:
    """Refuse to run a command on an existing store without its keys (exit 5).

    Outside dev mode nothing creates keys but ``chartgate keys init``; in dev mode opening
    the ledger would, and for ``audit`` and ``report`` run from another folder that would
    silently mint new keys beside the current directory that nothing verifies against.
    """
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                errno.ENOENT,
                "no such key file (run where the store's keys are, set CHARTGATE_KEY_FILE "
                "and CHARTGATE_LEDGER_KEY_FILE, or make them once: chartgate keys init)",
                str(path),
            )


def explain(exc: BaseException) -> Failure:
    """One line and an exit code for anything a command let escape.

    The settings, pydantic and SQLAlchemy exception classes are looked at only when their
    module was imported: an exception of a module no one imported cannot have been raised,
    and a failure explained before the store was opened need not load SQLAlchemy to say so.
    """
    settings = _settings_failure(exc)
    if settings is not None:
        return settings
    if _imported("sqlalchemy"):
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

        if isinstance(exc, DBAPIError):
            return _store_failure(exc)
    if isinstance(exc, OSError):
        return _file_failure(exc)
    return Failure(
        f"internal error ({type(exc).__name__}); set CHARTGATE_TRACEBACK=1 to see where",
        EXIT_INTERNAL,
    )


def _settings_failure(exc: BaseException) -> Failure | None:
    if isinstance(exc, SchemaNotCurrent):
        return Failure(exc.message, EXIT_STORE_SCHEMA)
    if isinstance(exc, ChartgateError):
        return Failure(exc.message, EXIT_USAGE)
    if _imported("chartgate.settings"):
        from chartgate.settings import SettingsFileError  # noqa: PLC0415

        if isinstance(exc, SettingsFileError):
            return Failure(f"{exc} (fix the path or unset CHARTGATE_CONFIG)", EXIT_USAGE)
    if _imported("pydantic"):
        from pydantic import ValidationError  # noqa: PLC0415

        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "settings"
            return Failure(f"invalid settings at {where}: {first['msg']}", EXIT_USAGE)
    if _imported("sqlalchemy"):
        from sqlalchemy.exc import NoSuchModuleError  # noqa: PLC0415

        if isinstance(exc, NoSuchModuleError):
            return Failure(
                "CHARTGATE_DATABASE_URL names an unknown database kind "
                "(use sqlite:///path or postgresql://user@host/db)",
                EXIT_USAGE,
            )
    return None


def _imported(module: str) -> bool:
    """Whether ``module`` was imported in this process (its exceptions can only exist if so)."""
    return module in sys.modules


def _store_failure(exc: DBAPIError) -> Failure:
    from sqlalchemy.exc import OperationalError, ProgrammingError  # noqa: PLC0415

    original = exc.orig
    text = f"{type(original).__name__} {original}".lower()
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if code in _UNMIGRATED_PG_CODES or any(marker in text for marker in _UNMIGRATED):
        return Failure(
            "the store has no chartgate schema or an older one: run `chartgate db upgrade`",
            EXIT_STORE_SCHEMA,
        )
    if isinstance(exc, OperationalError) and not isinstance(exc, ProgrammingError):
        if "unable to open database file" in text:
            return Failure(
                "cannot open the SQLite file of CHARTGATE_DATABASE_URL (check the folder "
                "exists and is writable)",
                EXIT_STORE_UNREACHABLE,
            )
        return Failure(
            "cannot reach the database of CHARTGATE_DATABASE_URL "
            "(is PostgreSQL running, and are host, port, user and database right?)",
            EXIT_STORE_UNREACHABLE,
        )
    return Failure(
        f"the store refused the command ({type(original).__name__}); check `chartgate db check`",
        EXIT_STORE_UNREACHABLE,
    )


def _file_failure(exc: OSError) -> Failure:
    reason = exc.strerror or type(exc).__name__
    if exc.filename is None:  # not about a file: a socket, a process limit, ...
        return Failure(f"the system refused: {reason}", EXIT_INTERNAL)
    return Failure(f"{exc.filename}: {reason}", EXIT_FILE)
