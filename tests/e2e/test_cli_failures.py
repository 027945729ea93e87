"""Every CLI command, on every broken setup an operator meets: one line, a documented code.

The setups: no configuration at all, a mistyped ``CHARTGATE_CONFIG`` path, a broken TOML
file, an unmigrated store, and a PostgreSQL URL nobody listens on. Exit codes are those of
``cli/failures.py`` (docs/ops/cli.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer.main

from chartgate.adapters.keys.ledger_key import load_or_create
from chartgate.adapters.keys.local import LocalKeyProvider
from chartgate.cli.main import app

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))
DOCUMENTED = {0, 1, 2, 3, 4, 5}
DATA = Path(__file__).parents[1] / "data"
GOOD_DRAFT = next(iter(sorted((DATA / "good_drafts").glob("*.json"))))

ARGS = {
    # Commands that need an argument get a harmless one; the rest run bare.
    "validate": [str(GOOD_DRAFT)],
    "policy check": [str(Path(__file__).parents[2] / "src/chartgate/policy/default.yaml")],
    "audit proof": ["0"],
    "audit export": ["--out", "{tmp}/export.ndjson"],
    "retention check": [str(Path(__file__).parents[2] / "src/chartgate/policy/retention.yaml")],
    "worker": ["--once"],
    "killswitch set": ["--mode", "hold-write-back", "--reason", "cli failure test"],
    "killswitch clear": ["no-such-switch", "--reason", "cli failure test"],
    "sessions revoke": ["--tenant", "clinic-a"],
    "keys rotate": ["--kek"],
    "access review": ["--from", "2026-11-01", "--to", "2026-12-01"],
}
NOT_SETTINGS = {
    "sandbox",
    "demo",
    "policy check",
    "retention check",
    "policy show",
    "vendors",  # prints the built-in vendor matrix: no settings, no store
}
"""Commands that read no settings (the sandbox serves until Ctrl-C: --help only)."""
NOT_STORE = NOT_SETTINGS | {
    "validate",
    "audit key",
    "audit push",
    "config check",
    "processors",  # the registry in the settings
    "dataflow",  # drawn from the settings and the code
}
"""Commands that never open the store (``audit push`` first needs a sink configured)."""


def leaf_commands() -> list[str]:
    """Every command of the CLI, as its words (``audit verify``)."""
    found: list[str] = []

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.append(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``chartgate`` with a clean CHARTGATE_* environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGATE_")}
    base["CHARTGATE_DEV_MODE"] = "true"  # keys made on first use (docs/keys.md)
    return subprocess.run(
        [CHARTGATE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**base, **env},
        cwd=cwd,
    )


def free_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_one_line(done: subprocess.CompletedProcess[str], what: str) -> None:
    """No traceback; a failure says one line on stderr."""
    output = done.stdout + done.stderr
    assert "Traceback" not in output, f"{what}: {output}"
    assert done.returncode in DOCUMENTED, f"{what}: exit {done.returncode}: {output}"
    if done.returncode >= 2:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"{what}: {done.stderr}"
        assert lines[0].startswith("error: "), f"{what}: {done.stderr}"


def test_every_command_has_help_that_parses(tmp_path: Path) -> None:
    """``--help`` of the root and of every command exits 0 and prints a usage line."""
    commands = leaf_commands()
    assert {"serve", "worker", "db check", "db current", "audit verify"} <= set(commands)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(
            pool.map(lambda c: (c, run([*c.split(), "--help"], {}, tmp_path)), ["", *commands])
        )
    for command, done in results:
        assert done.returncode == 0, f"{command}: {done.stderr}"
        assert "Usage:" in done.stdout, command
        assert "Traceback" not in done.stdout + done.stderr


def test_version_prints_the_version(tmp_path: Path) -> None:
    """``chartgate --version`` prints the package version and exits 0."""
    from chartgate import __version__  # noqa: PLC0415

    done = run(["--version"], {}, tmp_path)
    assert done.returncode == 0
    assert f"chartgate {__version__}" in done.stdout


def setups(tmp_path: Path) -> dict[str, tuple[dict[str, str], int | None]]:
    """Each broken setup's environment and the exit code settings/store readers must give."""
    broken = tmp_path / "broken.toml"
    broken.write_text('database_url = "sqlite:///x.sqlite3"\ntenants = [ {id = \n')
    unmigrated = tmp_path / "empty.sqlite3"
    stopped = f"postgresql://postgres@127.0.0.1:{free_port()}/chartgate"
    kek = tmp_path / "keys" / "kek.key"
    LocalKeyProvider(kek, create=True)  # keys exist: the store, not a missing key, is what fails
    load_or_create(kek.parent / "chartgate-ledger.key", "chartgate.example")
    keys = {"CHARTGATE_KEY_FILE": str(kek)}
    return {
        "mistyped-config": ({"CHARTGATE_CONFIG": str(tmp_path / "chartgate.tmol")}, 2),
        "broken-toml": ({"CHARTGATE_CONFIG": str(broken)}, 2),
        "unmigrated": ({"CHARTGATE_DATABASE_URL": f"sqlite:///{unmigrated}", **keys}, 4),
        "stopped-postgres": ({"CHARTGATE_DATABASE_URL": stopped, **keys}, 3),
        "no-config": ({}, None),
    }


@pytest.mark.parametrize(
    "setup", ["mistyped-config", "broken-toml", "unmigrated", "stopped-postgres", "no-config"]
)
def test_every_command_fails_in_one_line_on_a_broken_setup(tmp_path: Path, setup: str) -> None:
    """No command shows a traceback; settings and store readers exit with the setup's code."""
    env, expected = setups(tmp_path)[setup]
    # ``db upgrade`` would migrate the store under the other commands' feet: it has its own test.
    skipped = {"sandbox", "serve", "demo", "db upgrade"}
    commands = [c for c in leaf_commands() if c not in skipped]
    if setup != "no-config":
        commands += ["serve", "demo"]  # with a working setup these would serve or succeed

    def one(command: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        args = [a.replace("{tmp}", str(tmp_path)) for a in ARGS.get(command, [])]
        if command == "serve":
            args = ["--port", str(free_port())]
        return command, run([*command.split(), *args], env, tmp_path)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(one, commands))
    for command, done in results:
        assert_one_line(done, f"{setup}: chartgate {command}")
        reads_settings = command not in NOT_SETTINGS
        opens_store = command not in NOT_STORE
        if expected == 2 and reads_settings:
            assert done.returncode == 2, f"{command}: {done.stderr}"
            assert "CHARTGATE_CONFIG" in done.stderr, command
        elif setup == "unmigrated" and command == "db current":
            assert done.returncode == 0, done.stderr  # saying "none" is its job
        elif expected is not None and opens_store:
            assert done.returncode == expected, f"{setup}: {command}: {done.stderr}"


def test_a_mistyped_config_path_creates_no_store(tmp_path: Path) -> None:
    """A mistyped CHARTGATE_CONFIG no longer runs on defaults (no new SQLite file appears)."""
    done = run(["db", "upgrade"], {"CHARTGATE_CONFIG": str(tmp_path / "nope.toml")}, tmp_path)
    assert done.returncode == 2
    assert "nope.toml: no such file" in done.stderr
    assert not (tmp_path / "var").exists()


def test_commands_that_look_at_the_store_leave_no_database_behind(tmp_path: Path) -> None:
    """With no configuration, looking at the store says there is none and creates nothing.

    Before, ``db current`` (and every command that opens the store) made an empty
    ``var/chartgate.sqlite3`` in the current folder before saying the schema was missing.
    """
    for command in (["db", "current"], ["db", "check"], ["sessions", "count", "--tenant", "a"]):
        done = run(command, {}, tmp_path)
        assert "Traceback" not in done.stderr, command
        assert not (tmp_path / "var" / "chartgate.sqlite3").exists(), command
    assert "none (empty store)" in run(["db", "current"], {}, tmp_path).stdout
    check = run(["db", "check"], {}, tmp_path)
    assert check.returncode == 4
    assert "there is no chartgate store here: run `chartgate db upgrade`" in check.stderr


def test_db_check_and_current_follow_the_schema(tmp_path: Path) -> None:
    """``db check`` exits 4 on an empty store and 0 after ``db upgrade``; ``db current`` says so."""
    env = {"CHARTGATE_DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}"}
    before = run(["db", "check"], env, tmp_path)
    assert before.returncode == 4, before.stderr
    assert "chartgate db upgrade" in before.stderr
    assert "none (empty store)" in run(["db", "current"], env, tmp_path).stdout
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    after = run(["db", "check"], env, tmp_path)
    assert after.returncode == 0, after.stderr
    current = run(["db", "current"], env, tmp_path).stdout
    head = current.split("head:")[1].strip()
    assert f"current: {head}" in current


def test_audit_from_another_folder_creates_no_keys_and_says_where_they_are(
    tmp_path: Path,
) -> None:
    """``audit checkpoint`` without the store's keys exits 5 naming the path; mints none."""
    store = tmp_path / "deploy"
    store.mkdir()
    env = {"CHARTGATE_DATABASE_URL": f"sqlite:///{store / 'cg.sqlite3'}"}
    assert run(["db", "upgrade"], env, store).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in (["audit", "checkpoint"], ["audit", "verify"], ["report"]):
        done = run(command, env, elsewhere)
        assert done.returncode == 5, done.stderr
        assert "var/chartgate-kek.key: no such key file" in done.stderr
        assert "CHARTGATE_KEY_FILE" in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_worker_metrics_port_in_use_is_one_line(tmp_path: Path) -> None:
    """``worker --metrics-port`` on a taken port exits 2 naming the port, before any work."""
    env = {
        "CHARTGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}",
        "CHARTGATE_KEY_FILE": str(tmp_path / "kek.key"),
    }
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(["worker", "--metrics-port", str(port)], env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert_one_line(done, "worker on a taken port")
    assert f"127.0.0.1:{port}" in done.stderr


def test_store_commands_with_an_unsafe_key_file_exit_2_in_one_line(tmp_path: Path) -> None:
    """``impact``, ``retention run`` and ``killswitch`` leave a key error to the one handler.

    Opening the store with a KEK file others can read raises ``KeyFileError``: each command
    says so in one line and exits 2 (usage or settings), as every other command does.
    """
    env = {
        "CHARTGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}",
        "CHARTGATE_KEY_FILE": str(tmp_path / "kek.key"),
    }
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["killswitch", "status"], env, tmp_path).returncode == 0  # makes the dev keys
    (tmp_path / "kek.key").chmod(0o644)
    for command in (["impact"], ["retention", "run", "--dry-run"], ["killswitch", "status"]):
        done = run(command, env, tmp_path)
        assert done.returncode == 2, f"{command}: {done.stderr}"
        assert_one_line(done, " ".join(command))
        assert "key file must not be accessible by group or others (chmod 600)" in done.stderr


def test_killswitch_on_a_postgres_store_without_its_table_says_upgrade_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An undefined table inside a kill switch command is exit 4 with the fix, as elsewhere.

    PostgreSQL reports it as a ProgrammingError (SQLSTATE 42P01), which the unit of work does
    not turn into StoreUnavailable; ``killswitch`` used to answer it with its own exit 2.
    """
    from sqlalchemy.exc import ProgrammingError  # noqa: PLC0415

    from chartgate.cli.main import main  # noqa: PLC0415
    from chartgate.service.killswitch import KillSwitches  # noqa: PLC0415

    class UndefinedTable(Exception):
        sqlstate = "42P01"

    monkeypatch.setenv("CHARTGATE_DEV_MODE", "true")
    monkeypatch.setenv("CHARTGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'k.sqlite3'}")
    monkeypatch.setenv("CHARTGATE_KEY_FILE", str(tmp_path / "kek.key"))
    monkeypatch.chdir(tmp_path)
    for argv in (["db", "upgrade"], ["killswitch", "status"]):
        monkeypatch.setattr(sys, "argv", ["chartgate", *argv])
        with pytest.raises(SystemExit) as done:
            main()
        assert done.value.code in (0, None), capsys.readouterr().err
    capsys.readouterr()

    def undefined(self: KillSwitches, tenant: str | None = None) -> list[object]:
        raise ProgrammingError("SELECT 1 FROM kill_switches", {}, UndefinedTable("no table"))

    monkeypatch.setattr(KillSwitches, "engaged", undefined)
    monkeypatch.setattr(sys, "argv", ["chartgate", "killswitch", "status"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 4
    err = capsys.readouterr().err
    assert "run `chartgate db upgrade`" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_an_invalid_setting_is_one_unwrapped_line_from_impact_retention_and_killswitch(
    tmp_path: Path,
) -> None:
    """A long settings error stays one line in a pipe (rich wraps at 80 columns there).

    ``impact`` and ``killswitch`` used to print it themselves, wrapped over two lines; now the
    CLI's one failure handler does, for them as for ``retention run``.
    """
    env = {"CHARTGATE_LEDGER_CHECKPOINT_EVERY": "zero"}
    for command in (["impact"], ["killswitch", "status"], ["retention", "run", "--dry-run"]):
        done = run(command, env, tmp_path)
        assert done.returncode == 2, f"{command}: {done.stderr}"
        assert_one_line(done, " ".join(command))
        assert done.stderr.startswith(
            "error: invalid settings at ledger_checkpoint_every: Input should be a valid integer"
        )


def test_retention_check_of_a_broken_file_says_error_without_markup(tmp_path: Path) -> None:
    """The refusal starts ``error:``, never the literal ``[bold red]`` it once printed."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("name: x\nrules:\n  - {}\n")
    done = run(["retention", "check", str(rules)], {}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {rules}: version: Field required")
    assert "[bold red]" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
