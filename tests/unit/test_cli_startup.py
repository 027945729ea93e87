"""The CLI imports what a command needs, when it needs it (a fast ``chartgate`` start).

Each check runs a fresh interpreter and reads its ``sys.modules``: importing the CLI, or
running a command that fails on its settings, must not load the web stack, the database
layer, the HTTP client or the whole composition root. No timing: the modules are the gain
(docs/testing.md has the start-up times these imports cost).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from chartgate.cli.main import app

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "httpx",
    "joserfc",
    "opentelemetry",
    "chartgate.bootstrap.application",
    "chartgate.domain.policy",
)
"""What neither ``--help`` nor a command refused on its settings has any use for."""

_REPORT = "import json, sys; print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"


def run_python(code: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[Any, list[str]]:
    """Run ``code`` in a fresh interpreter; what it printed and what it loaded.

    Returns the JSON of its first output line (None when it printed nothing) and the
    modules of HEAVY it had imported at the end.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGATE_")}
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{_REPORT.format(heavy=HEAVY)}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=cwd,
        env={**clean, **(env or {})},
    )
    lines = done.stdout.splitlines()
    told = json.loads(lines[0]) if len(lines) > 1 else None
    loaded: list[str] = json.loads(lines[-1])
    return told, loaded


def test_importing_the_cli_loads_no_web_database_or_http_module(tmp_path: Path) -> None:
    """``import chartgate.cli.main`` (what every ``chartgate`` run pays) loads none of HEAVY."""
    assert run_python("import chartgate.cli.main", tmp_path)[1] == []


def test_a_standalone_part_of_bootstrap_does_not_import_the_whole_wiring(tmp_path: Path) -> None:
    """``chartgate.bootstrap.tenants`` leaves ``build`` (every adapter) unloaded until asked."""
    _, alone = run_python("import chartgate.bootstrap.tenants", tmp_path)
    assert "chartgate.bootstrap.application" not in alone
    _, asked = run_python("from chartgate.bootstrap import build", tmp_path)
    assert "chartgate.bootstrap.application" in asked


NO_SETTINGS = {"sandbox", "demo", "policy check", "policy show", "retention check", "vendors"}
"""Commands that read no settings (tests/e2e/test_cli_failures.py runs them as processes)."""
ARGS = {
    "validate": ["draft.json"],
    "audit proof": ["0"],
    "audit export": ["--out", "export.ndjson"],
    "killswitch set": ["--mode", "hold-write-back", "--reason", "startup test"],
    "killswitch clear": ["no-such-switch", "--reason", "startup test"],
    "sessions revoke": ["--tenant", "clinic-a"],
    "sessions count": ["--tenant", "clinic-a"],
    "keys rotate": ["--kek"],
    "worker": ["--once"],
    "access review": ["--from", "2026-11-01", "--to", "2026-12-01"],
}
"""A harmless argument for each command that needs one, so that it gets to its settings."""


def settings_commands() -> list[list[str]]:
    """Every command of the CLI that reads the settings, as its argv after ``chartgate``."""
    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        elif " ".join(path) not in NO_SETTINGS:
            found.append([*path, *ARGS.get(" ".join(path), [])])

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_refused_on_its_settings_loads_nothing_heavy(tmp_path: Path) -> None:
    """A mistyped CHARTGATE_CONFIG is told (exit 2, one line) before the store's modules load.

    Every settings-reading command runs in one fresh interpreter through ``main()``, the
    console script's entry point; after all of them none of HEAVY has been imported.
    """
    (tmp_path / "draft.json").write_text("{}")
    commands = settings_commands()
    assert {"serve", "worker", "impact", "report", "db upgrade"} <= {c[0] for c in commands} | {
        " ".join(c[:2]) for c in commands
    }
    code = (
        "import contextlib, io, json, sys\n"
        "from chartgate.cli.main import main\n"
        "told = {}\n"
        f"for argv in {commands!r}:\n"
        "    sys.argv = ['chartgate', *argv]\n"
        "    with contextlib.redirect_stderr(io.StringIO()) as err:\n"
        "        try:\n"
        "            main()\n"
        "        except SystemExit as done:\n"
        "            told[' '.join(argv)] = [done.code, err.getvalue()]\n"
        "print(json.dumps(told))\n"
    )
    env = {"CHARTGATE_CONFIG": str(tmp_path / "chartgate.tmol")}
    told, loaded = run_python(code, tmp_path, env)
    assert len(told) == len(commands)
    for command, (exit_code, stderr) in told.items():
        assert exit_code == 2, f"{command}: {exit_code} {stderr}"
        assert stderr.startswith("error: CHARTGATE_CONFIG="), f"{command}: {stderr}"
        assert len(stderr.strip().splitlines()) == 1, f"{command}: {stderr}"
    assert loaded == []
