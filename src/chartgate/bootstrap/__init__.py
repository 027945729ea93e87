"""The one composition root: settings in, a wired application out (``application.py``).

``build``, ``observe`` and ``Application`` are imported from here and load on first use:
the parts a CLI command opens alone (``keys``, ``ledger``, ``standalone``, ``tenants``) are
submodules of this package, and importing one of them must not import the whole wiring
(every adapter, OpenTelemetry, the token verifier). ``chartgate config check`` or a command
on a broken setup answers in a fraction of the time (docs/testing.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chartgate.bootstrap.application import Application, build, observe

__all__ = ["Application", "build", "observe"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - one of the three names in __all__
    """Load ``application.py`` when one of its names is first asked for (PEP 562)."""
    if name in __all__:
        from chartgate.bootstrap import application  # noqa: PLC0415

        return getattr(application, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
