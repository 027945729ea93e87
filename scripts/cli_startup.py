#!/usr/bin/env python3
"""Start-up of ``chartgate`` commands in two checkouts, interleaved: median wall and CPU.

Usage: python scripts/cli_startup.py BASE_CHECKOUT NEW_CHECKOUT [RUNS]

Each checkout needs its own ``.venv`` (``make install``). Every command runs RUNS times
(default 10) per checkout, alternating which checkout goes first, in an empty folder with
``CHARTGATE_DEV_MODE=true`` and no other ``CHARTGATE_*`` variable; the table is Markdown
(docs/testing.md). Time a busy machine only as ratios of the two columns.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def commands(folder: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """What to time: argv after ``chartgate`` and the extra environment."""
    mistyped = {"CHARTGATE_CONFIG": str(folder / "nope.toml")}
    missing = {"CHARTGATE_DATABASE_URL": f"sqlite:///{folder / 'none.sqlite3'}"}
    return {
        "--help": (["--help"], {}),
        "--version": (["--version"], {}),
        "config check, mistyped CHARTGATE_CONFIG": (["config", "check"], mistyped),
        "impact, mistyped CHARTGATE_CONFIG": (["impact"], mistyped),
        "serve, no store": (["serve"], missing),
        "killswitch status, no store": (["killswitch", "status"], missing),
    }


def say(line: str) -> None:
    """One line on stdout."""
    sys.stdout.write(line + "\n")


def main(argv: list[str]) -> int:
    """Print the table."""
    if len(argv) not in {2, 3}:  # BASE NEW [RUNS]
        sys.stderr.write(__doc__ or "")
        return 2
    trees = {"base": Path(argv[0]), "new": Path(argv[1])}
    runs = int(argv[2]) if argv[2:] else 10
    folder = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGATE_")}
    env["CHARTGATE_DEV_MODE"] = "true"
    todo = commands(folder)
    wall: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in todo}
    cpu: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in todo}
    say(f"load at the start: {os.getloadavg()}")
    for i in range(runs):
        for name, (args, extra) in todo.items():
            order = list(trees.items()) if i % 2 == 0 else list(reversed(trees.items()))
            for tree, root in order:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(  # noqa: S603 - the checkouts' own chartgate
                    [str(root / ".venv/bin/chartgate"), *args],
                    capture_output=True,
                    env={**env, **extra},
                    cwd=folder,
                    check=False,
                )
                wall[(tree, name)].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                cpu[(tree, name)].append(used)
    say(f"{runs} runs each; load at the end: {os.getloadavg()}")
    say("| command | base wall | new wall | base CPU | new CPU | new/base |")
    say("|---|---:|---:|---:|---:|---:|")
    for name in todo:
        bw, nw = (statistics.median(wall[(t, name)]) for t in trees)
        bc, nc = (statistics.median(cpu[(t, name)]) for t in trees)
        say(f"| {name} | {bw:.3f} s | {nw:.3f} s | {bc:.3f} s | {nc:.3f} s | {nw / bw:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
