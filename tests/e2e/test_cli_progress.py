"""Long CLI jobs show a progress bar on a terminal and print nothing extra into a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; return the exit code and all output."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([CHARTGATE, *args], stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_export_and_verify_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    """``audit export`` and ``audit verify`` draw their bars on a tty; a pipe gets results only."""
    env = {
        **os.environ,
        "CHARTGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}",
        "CHARTGATE_KEY_FILE": str(tmp_path / "chartgate-kek.key"),
        "COLUMNS": "100",
    }
    demo = subprocess.run(
        [CHARTGATE, "demo", "--json"], capture_output=True, env=env, timeout=120, check=False
    )
    assert demo.returncode == 0, demo.stderr
    code, shown = on_a_terminal(["audit", "export", "--out", str(tmp_path / "out")], env)
    assert code == 0, shown
    assert "exporting demo" in shown
    code, shown = on_a_terminal(["audit", "verify"], env)
    assert code == 0, shown
    assert "verifying tenants" in shown
    piped = subprocess.run(
        [CHARTGATE, "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert piped.returncode == 0
    assert "verifying tenants" not in piped.stdout + piped.stderr
    assert piped.stdout.startswith("OK demo")
