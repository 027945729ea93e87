"""The scale-out topology the deployment guide describes, started from its own files.

Sandbox EHR + IdP in this process; 2 ``chartgate serve`` and 2 ``chartgate worker`` processes
on one PostgreSQL database, started from the ``ExecStart`` lines of ``docs/deploy/systemd/``;
nginx in front with ``docs/deploy/nginx/chartgate.conf`` (only ports and the install path
replaced). Used by tests/e2e/test_replicas.py (the story, API and chromium) and
tests/history/test_history_replicas.py (the history checker under a fault schedule).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from builders import ENCOUNTER
from chartgate.sandbox.server import SandboxServer
from required import missing

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy"
CHARTGATE = Path(sys.executable).with_name("chartgate")
TENANT = "clinic-a"


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def exec_start(unit: str, instance: str) -> list[str]:
    """The unit's ExecStart, with our virtualenv for /opt/chartgate/.venv and %i filled in."""
    text = (DEPLOY / "systemd" / unit).read_text()
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    command = line.removeprefix("ExecStart=").replace("%i", instance)
    command = command.replace("/opt/chartgate/.venv/bin/chartgate", str(CHARTGATE))
    return shlex.split(command)


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until ``url`` answers 200; fail if the process exits or 30 s pass."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became healthy")


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process still running, wait up to 30 s each, then SIGKILL."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def nginx_binary() -> str:
    """The nginx binary (installed by ``make install``; required under CI)."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        missing("nginx is not installed (make install installs it from Debian)")
    return str(found)


@dataclass
class Topology:
    """The running processes and where to reach them."""

    sandbox: SandboxServer
    base: str
    ports: list[int]
    access_log: Path
    config: Path
    env: dict[str, str]
    workdir: Path
    serves: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_worker(self, instance: str) -> subprocess.Popen[bytes]:
        """Start (or restart) worker ``instance`` from its unit file."""
        worker = subprocess.Popen(
            exec_start("chartgate-worker@.service", instance), env=self.env, cwd=self.workdir
        )
        self.workers[instance] = worker
        return worker

    def kill_worker(self, instance: str) -> None:
        """``kill -9`` a worker: nothing after the signal is committed."""
        worker = self.workers[instance]
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)


@contextmanager
def running_topology(postgres_url: str, workdir: Path, nginx: str) -> Iterator[Topology]:
    """Sandbox EHR + IdP, 2 ``chartgate serve``, 2 ``chartgate worker``, nginx in front."""
    others: list[subprocess.Popen[bytes]] = []
    with SandboxServer(workdir / "sandbox.sqlite3", vendor="generic-r4") as sandbox:
        sandbox.idp.default_tenant = TENANT  # the browser signs in to clinic A
        front = free_port()
        config = workdir / "chartgate.toml"
        config.write_text(
            f'database_url = "{postgres_url}"\n'
            f'key_file = "{workdir / "kek.key"}"\n'
            "worker_poll_seconds = 0.1\n"
            # Behind the proxy the page must know its public address (redirect URI, Origin).
            f'reviewer_base_url = "http://127.0.0.1:{front}"\n\n'
            "[[tenants]]\n"
            f'id = "{TENANT}"\n'
            f'issuers = ["{sandbox.issuer}"]\n'
            "[tenants.ehr]\n"
            f'base_url = "{sandbox.fhir_base}"\n'
            'vendor = "sandbox"\n'
            "timeout_seconds = 3\n"
            "[[tenants.care_team_grants]]\n"
            'fhir_user = "Practitioner/prac-001"\n'
            f'encounters = ["{ENCOUNTER}"]\n'
        )
        env = {**os.environ, "CHARTGATE_CONFIG": str(config)}
        subprocess.run([str(CHARTGATE), "db", "upgrade"], env=env, check=True, cwd=workdir)
        prefix = workdir / "nginx"
        running = Topology(
            sandbox=sandbox,
            base=f"http://127.0.0.1:{front}",
            ports=[free_port(), free_port()],
            access_log=prefix / "logs" / "chartgate.access.log",
            config=config,
            env=env,
            workdir=workdir,
        )
        try:
            for port in running.ports:
                serve = subprocess.Popen(
                    exec_start("chartgate-serve@.service", str(port)), env=env, cwd=workdir
                )
                running.serves.append(serve)
                wait_healthy(f"http://127.0.0.1:{port}/healthz", serve)
            for instance in ("1", "2"):
                running.start_worker(instance)
            site = (DEPLOY / "nginx" / "chartgate.conf").read_text()
            site = site.replace("127.0.0.1:8081", f"127.0.0.1:{running.ports[0]}")
            site = site.replace("127.0.0.1:8082", f"127.0.0.1:{running.ports[1]}")
            site = site.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{front}")
            (prefix / "logs").mkdir(parents=True)
            (prefix / "chartgate.conf").write_text(site)
            (prefix / "nginx.conf").write_text(
                "user root;\nworker_processes 1;\nerror_log logs/error.log;\n"
                "pid logs/nginx.pid;\nevents {}\n"
                "http {\n  include chartgate.conf;\n}\n"
            )
            proxy = subprocess.Popen(
                [nginx, "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"]
            )
            others.append(proxy)
            wait_healthy(f"{running.base}/healthz", proxy)
            yield running
        finally:
            stop_processes([*running.serves, *running.workers.values(), *others])
