# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Start the Medplum-based test EHR (tests/ehr_medplum/server.mjs) for tests.

The server is an implementation we did not write (`@medplum/fhir-router` with its in-memory
repository) behind a tiny node:http wrapper; see tests/ehr_medplum/README.md. Synthetic data only.

Fixtures:
    medplum_base_url (session): the FHIR base URL, e.g. ``http://127.0.0.1:PORT/fhir/R4``.
    medplum_fresh_base_url (function): the same URL, after emptying the repository and clearing
        faults, so the test starts from a blank EHR.
    medplum_faults (function): a callable ``(**faults) -> dict`` that replaces the server's fault
        configuration (see tests/ehr_medplum/README.md); faults are cleared after the test.

Register with ``pytest_plugins = ["medplum_ehr"]`` (tests/ must be on sys.path), so that pytest
imports this module itself and rewrites its asserts.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

EHR_DIR = Path(__file__).resolve().parent / "ehr_medplum"
SERVER_SCRIPT = EHR_DIR / "server.mjs"
FHIR_PATH = "/fhir/R4"
INSTALL_HINT = "run: npm ci --prefix tests/ehr_medplum"
STARTUP_TIMEOUT_S = 30.0


class MedplumUnavailableError(RuntimeError):
    """The Medplum test EHR could not be started (no node, no node_modules, or a crash)."""


def control_url(base_url: str) -> str:
    """Return the server root (where /healthz, /__reset and /__faults live) for a FHIR base URL."""
    return base_url.removesuffix(FHIR_PATH)


def reset_medplum(base_url: str) -> None:
    """Empty the repository and clear all injected faults."""
    httpx.post(f"{control_url(base_url)}/__reset", timeout=10).raise_for_status()


def set_medplum_faults(base_url: str, **faults: int) -> dict[str, Any]:
    """Replace the fault configuration (see README.md); returns the configuration now in force."""
    response = httpx.post(f"{control_url(base_url)}/__faults", json=faults, timeout=10)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _check_installed() -> str:
    node = shutil.which("node")
    if node is None:
        raise MedplumUnavailableError("node is not on PATH")
    if not (EHR_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise MedplumUnavailableError(f"{EHR_DIR / 'node_modules'} is missing")
    return node


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
            raise MedplumUnavailableError("server exited before listening")
        if line.startswith("LISTENING "):
            return int(line.split()[1])
    proc.kill()
    raise MedplumUnavailableError("server did not print LISTENING <port> in time")


def _wait_healthy(root: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise MedplumUnavailableError("server did not answer /healthz in time")


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
def run_medplum(port: int = 0) -> Iterator[str]:
    """Run the Medplum test EHR and yield its FHIR base URL; port 0 picks a free port.

    Raises:
        MedplumUnavailableError: node or node_modules is missing, or the server did not start.
    """
    node = _check_installed()
    with tempfile.TemporaryFile(mode="w+", prefix="medplum-ehr-stderr-") as stderr:
        proc = subprocess.Popen(
            [node, str(SERVER_SCRIPT), "--port", str(port), "--exit-on-stdin-close"],
            cwd=EHR_DIR,
            stdin=subprocess.PIPE,  # the server exits when this closes, even if we are killed
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
        try:
            try:
                bound = _wait_listening(proc, lines)
                root = f"http://127.0.0.1:{bound}"
                _wait_healthy(root, proc)
            except MedplumUnavailableError as exc:
                proc.wait(timeout=5)
                stderr.seek(0)
                raise MedplumUnavailableError(
                    f"{exc} (exit code {proc.returncode}); stderr:\n{stderr.read()[-4000:]}"
                ) from None
            yield f"{root}{FHIR_PATH}"
        finally:
            _stop(proc)


@pytest.fixture(scope="session")
def medplum_base_url() -> Iterator[str]:
    """FHIR base URL of one Medplum test EHR shared by the session.

    Skips when node or node_modules is missing or the server does not start; under CI=true the
    same situations fail the test instead, so CI cannot go green by skipping.
    """
    try:
        with run_medplum() as base_url:
            yield base_url
    except MedplumUnavailableError as exc:
        message = f"Medplum test EHR unavailable: {exc}. {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def medplum_fresh_base_url(medplum_base_url: str) -> str:
    """The session's FHIR base URL after emptying the repository and clearing all faults."""
    reset_medplum(medplum_base_url)
    return medplum_base_url


@pytest.fixture
def medplum_faults(medplum_base_url: str) -> Iterator[Callable[..., dict[str, Any]]]:
    """Set faults with ``medplum_faults(drop_after_commit=1)`` etc.; cleared after the test."""

    def set_faults(**faults: int) -> dict[str, Any]:
        return set_medplum_faults(medplum_base_url, **faults)

    yield set_faults
    httpx.delete(f"{control_url(medplum_base_url)}/__faults", timeout=10).raise_for_status()
