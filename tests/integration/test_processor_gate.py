"""The processor gate on a real wiring: startup refusal, and an expired BAA refused per call.

Real parts: ``bootstrap.build`` on SQLite and PostgreSQL, the sandbox EHR over real HTTP on
loopback, the ledger in the store, and the ``chartgate`` entry point in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from chartgate.adapters.storage.ledger import SqlLedgerUnit
from chartgate.bootstrap import build
from chartgate.domain.errors import EhrUnreachable
from chartgate.sandbox.server import SandboxServer
from chartgate.service.audit import EventQuery
from chartgate.settings import EhrSettings, ProcessorSettings, Settings, TenantSettings
from fakes import FakeClock

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))
TENANT = "clinic-a"


def _settings(sandbox: SandboxServer, database_url: str, workdir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=str(workdir / "kek.key"),
        dev_mode=True,
        processors=[
            ProcessorSettings(
                id="clinic-ehr",
                legal_entity="Clinic EHR Inc. (sandbox)",
                role="ehr",
                purpose="write-back of approved notes",
                endpoints=[sandbox.fhir_base],
                phi_categories=["clinical-notes"],
                baa_signed=date(2025, 1, 1),
                baa_expires=date(2026, 12, 31),
            ),
            ProcessorSettings(
                id="dev-idp",
                legal_entity="sandbox IdP",
                role="identity",
                purpose="token keys",
                endpoints=[sandbox.issuer],
            ),
        ],
        tenants=[
            TenantSettings(
                id=TENANT,
                issuers=[sandbox.issuer],
                ehr=EhrSettings(base_url=sandbox.fhir_base, vendor="sandbox", timeout_seconds=3),
            )
        ],
    )


def test_a_call_after_the_baa_expired_is_refused_and_audited(
    migrated_database_url: str, tmp_path: Path
) -> None:
    """The same EHR read works on the BAA's last day and is refused, audited, the day after."""
    clock = FakeClock(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    with SandboxServer(tmp_path / "ehr.sqlite3", vendor="generic-r4") as sandbox:
        app = build(_settings(sandbox, migrated_database_url, tmp_path), clock=clock)
        try:
            gateway = app.ehr.gateway(TENANT)
            assert gateway.read("Patient", "pat-001", request_id="r-1").status == 200
            clock.advance(timedelta(hours=2).total_seconds())  # 2027-01-01 01:00
            with pytest.raises(EhrUnreachable, match="expired"):
                gateway.read("Patient", "pat-001", request_id="r-2")
            with SqlLedgerUnit(app.engine, read_only=True) as unit:
                refused = unit.ledger.search(
                    TENANT, EventQuery(type="processor.disclosure_refused")
                )
        finally:
            app.close()
    assert len(refused) == 1
    data = refused[0].event()["data"]
    assert data == {
        "processor": "clinic-ehr",
        "destination": sandbox.base_url,
        "baa_status": "expired",
        "what": "ehr",
    }


def _run(config: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CHARTGATE_PROCESSORS", "CHARTGATE_DEV_MODE"}
    }
    env.update({"CHARTGATE_CONFIG": str(config), "CHARTGATE_DATABASE_URL": database_url})
    return subprocess.run(
        [CHARTGATE, "worker", "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_worker_refuses_to_start_with_an_unregistered_destination(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    """An EHR under no processor stops ``chartgate worker`` with one line and exit 2."""
    config = tmp_path / "chartgate.toml"
    config.write_text(
        f"""
key_file = "{tmp_path / "kek.key"}"

[[processors]]
id = "idp"
legal_entity = "IdP Inc."
role = "identity"
purpose = "sign-in"
endpoints = ["https://idp.example.org"]

[[tenants]]
id = "clinic-a"
issuers = ["https://idp.example.org"]
ehr = {{ base_url = "https://ehr.example.org/r4" }}
""",
        encoding="utf-8",
    )
    done = _run(config, migrated_sqlite_url)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "tenant clinic-a: ehr.base_url (https://ehr.example.org)" in done.stderr
    assert "not under any registered processor" in done.stderr
    assert "Traceback" not in done.stderr
