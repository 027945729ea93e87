"""Run a Node.js test server (Medplum EHR, oidc-provider) as a child process for tests.

The server prints ``LISTENING <port>`` as its first line and exits when its stdin closes, so
it cannot outlive the test run even if pytest is killed.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

STARTUP_TIMEOUT_S = 30.0


class NodeServerUnavailableError(RuntimeError):
    """The server could not be started (no node, no node_modules, or a crash)."""


def node_for(package_dir: Path, module: str) -> str:
    """The ``node`` executable, once ``module`` is installed under ``package_dir``."""
    node = shutil.which("node")
    if node is None:
        raise NodeServerUnavailableError("node is not on PATH")
    if not (package_dir / "node_modules" / module).is_dir():
        raise NodeServerUnavailableError(f"{package_dir / 'node_modules'} is missing")
    return node


def missing(what: str, exc: Exception, hint: str) -> None:
    """Fail under CI=true (a required test server is missing), skip elsewhere."""
    message = f"{what} unavailable: {exc}. {hint}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _read_lines(stream: Any, lines: queue.Queue[str | None]) -> None:
    # Drains the child's stdout for its whole life so it can never block on a full pipe.
    for line in stream:
        lines.put(line)
    lines.put(None)


def _wait_listening(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> int:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            raise NodeServerUnavailableError("server exited before listening")
        if line.startswith("LISTENING "):
            return int(line.split()[1])
    proc.kill()
    raise NodeServerUnavailableError("server did not print LISTENING <port> in time")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


@contextmanager
def run_node_server(
    command: list[str],
    *,
    cwd: Path,
    ready: Callable[[int, subprocess.Popen[str]], None] | None = None,
) -> Iterator[int]:
    """Start ``command`` and yield the port it listens on; ``ready(port, proc)`` may wait more.

    Raises:
        NodeServerUnavailableError: the server did not start; the message ends with its stderr.
    """
    with tempfile.TemporaryFile(mode="w+", prefix="node-server-stderr-") as stderr:
        proc = subprocess.Popen(
            [*command, "--exit-on-stdin-close"],
            cwd=cwd,
            stdin=subprocess.PIPE,  # the server exits when this closes, even if we are killed
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
        try:
            try:
                port = _wait_listening(proc, lines)
                if ready is not None:
                    ready(port, proc)
            except NodeServerUnavailableError as exc:
                proc.kill()
                proc.wait(timeout=5)
                stderr.seek(0)
                raise NodeServerUnavailableError(
                    f"{exc} (exit code {proc.returncode}); stderr:\n{stderr.read()[-4000:]}"
                ) from None
            yield port
        finally:
            _stop(proc)
