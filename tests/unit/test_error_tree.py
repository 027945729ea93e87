"""One error tree: every ChartgateError lives in domain/errors.py and is drawn in its docstring."""

from __future__ import annotations

import importlib
import pkgutil
import re

import chartgate
from chartgate.domain import errors
from chartgate.domain.errors import ChartgateError


def _every_module() -> list[str]:
    """Every chartgate module except Alembic's migration scripts (they run on import)."""
    names = [m.name for m in pkgutil.walk_packages(chartgate.__path__, "chartgate.")]
    return [name for name in names if ".migrations" not in name]


def _subclasses(cls: type[ChartgateError]) -> set[type[ChartgateError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def _drawn() -> dict[str, int]:
    """Class name -> depth in the tree drawn in errors.py's docstring."""
    drawn: dict[str, int] = {}
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^ {4}((?:[│ ] {3}|[├└]── )*)([A-Z][A-Za-z]+)", line)
        if match and ("──" in line or match.group(2) == "ChartgateError"):
            drawn[match.group(2)] = len(match.group(1)) // 4
    return drawn


def test_every_chartgate_error_is_defined_in_domain_errors() -> None:
    """No module outside domain/errors.py subclasses ChartgateError (after importing them all)."""
    for name in _every_module():
        importlib.import_module(name)
    outside = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _subclasses(ChartgateError)
        if cls.__module__ != errors.__name__
    )
    assert outside == []


def test_the_docstring_draws_every_error_under_its_parent() -> None:
    """Each error class appears in the drawn tree one level below the class it inherits from."""
    drawn = _drawn()
    classes = {ChartgateError} | _subclasses(ChartgateError)
    defined = {cls for cls in classes if cls.__module__ == errors.__name__}
    assert set(drawn) == {cls.__name__ for cls in defined}
    for cls in defined - {ChartgateError}:
        parent = cls.__mro__[1]
        assert drawn[cls.__name__] == drawn[parent.__name__] + 1, cls.__name__
