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

import ssl
import subprocess
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from chartgate.sandbox.seed import SEED_RESOURCES
from node_server import (
    STARTUP_TIMEOUT_S,
    NodeServerUnavailableError,
    missing,
    node_for,
    run_node_server,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

EHR_DIR = Path(__file__).resolve().parent / "ehr_medplum"
SERVER_SCRIPT = EHR_DIR / "server.mjs"
FHIR_PATH = "/fhir/R4"
INSTALL_HINT = "run: npm ci --prefix tests/ehr_medplum"


def control_url(base_url: str) -> str:
    """Return the server root (where /healthz, /__reset and /__faults live) for a FHIR base URL."""
    return base_url.removesuffix(FHIR_PATH)


@cache
def _control() -> httpx.Client:
    """One client for the control endpoints, reused by every test of the process."""
    return httpx.Client(timeout=10, verify=ssl.create_default_context())


def reset_medplum(base_url: str) -> None:
    """Empty the repository, clear all injected faults and put the synthetic chart back.

    The chart is the sandbox's (``chartgate.sandbox.seed``): chartgate reads a note's Encounter
    and Patient before approving and sending it (issue 13 item 6).
    """
    _control().post(f"{control_url(base_url)}/__reset").raise_for_status()
    for resource in SEED_RESOURCES:
        path = f"{base_url}/{resource['resourceType']}/{resource['id']}"
        headers = {"Content-Type": "application/fhir+json"}
        _control().put(path, json=resource, headers=headers).raise_for_status()


def set_medplum_faults(base_url: str, **faults: int) -> dict[str, Any]:
    """Replace the fault configuration (see README.md); returns the configuration now in force."""
    response = _control().post(f"{control_url(base_url)}/__faults", json=faults)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _wait_healthy(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise NodeServerUnavailableError("server did not answer /healthz in time")


@contextmanager
def run_medplum(port: int = 0) -> Iterator[str]:
    """Run the Medplum test EHR and yield its FHIR base URL; port 0 picks a free port.

    Raises:
        NodeServerUnavailableError: node or node_modules is missing, or the server did not start.
    """
    node = node_for(EHR_DIR, "@medplum/fhir-router")
    command = [node, str(SERVER_SCRIPT), "--port", str(port)]
    with run_node_server(command, cwd=EHR_DIR, ready=_wait_healthy) as bound:
        yield f"http://127.0.0.1:{bound}{FHIR_PATH}"


@pytest.fixture(scope="session")
def medplum_base_url() -> Iterator[str]:
    """FHIR base URL of one Medplum test EHR shared by the session.

    Skips when node or node_modules is missing or the server does not start; under CI=true the
    same situations fail the test instead, so CI cannot go green by skipping.
    """
    try:
        with run_medplum() as base_url:
            yield base_url
    except NodeServerUnavailableError as exc:
        missing("Medplum test EHR", exc, INSTALL_HINT)
    finally:
        _control().close()
        _control.cache_clear()


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
    _control().delete(f"{control_url(medplum_base_url)}/__faults").raise_for_status()
