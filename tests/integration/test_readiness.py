"""``/readyz`` is ready only at head with readable keys; refusals are counted by rule."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import text

from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import EhrSettings, ProcessorSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from stack import running_stack


@contextmanager
def serving(application: Application) -> Iterator[httpx.Client]:
    """The API of ``application`` under uvicorn on loopback."""
    with (
        ThreadedServer(create_app(application)) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        yield client


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'ready.sqlite3'}", key_file=str(tmp_path / "kek.key")
    )


def test_a_migrated_store_with_its_keys_is_ready_and_liveness_stays_cheap(tmp_path: Path) -> None:
    """At head with readable keys: 200 and every check ok; /healthz answers without the store."""
    application = build(settings_for(tmp_path), migrate=True)
    try:
        with serving(application) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json() == {
                "status": "ready",
                "checks": {"store": "ok", "schema": "ok", "keys": "ok"},
            }
            application.engine.dispose()
            (tmp_path / "ready.sqlite3").unlink()
            assert client.get("/healthz").status_code == 200
    finally:
        application.close()


def test_a_store_behind_head_is_not_ready(tmp_path: Path) -> None:
    """A store one migration behind answers 503 with schema ``behind`` (it did say ready)."""
    application = build(settings_for(tmp_path), migrate=True)
    try:
        with application.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        with serving(application) as client:
            answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["schema"] == "behind"
    finally:
        application.close()


def test_an_unmigrated_store_is_not_ready(tmp_path: Path) -> None:
    """No schema at all (the version table dropped): 503 with schema ``not-migrated``."""
    application = build(settings_for(tmp_path), migrate=True)
    try:
        with application.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
        with serving(application) as client:
            answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["schema"] == "not-migrated"
    finally:
        application.close()


def test_unreadable_keys_are_not_ready(tmp_path: Path) -> None:
    """A key file gone from under a running instance: 503 naming the check, not the path."""
    application = build(settings_for(tmp_path), migrate=True)
    try:
        (tmp_path / "chartgate-ledger.key").unlink()
        with serving(application) as client:
            answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["keys"] == "unreadable"
        assert str(tmp_path) not in answer.text
    finally:
        application.close()


def test_refused_submissions_are_counted_by_rule(tmp_path: Path) -> None:
    """A draft echoing a prompt injection is refused at submit (422) and counted by its rule."""
    corpus = (
        Path(__file__).parents[1] / "data" / "bad_drafts" / "injection-ignore-instructions.json"
    )
    body = {k: v for k, v in json.loads(corpus.read_text()).items() if not k.startswith("_")}
    with running_stack(f"sqlite:///{tmp_path / 'cg.sqlite3'}", tmp_path) as stack:
        refused = stack.api.post("/v1/drafts", json=body, headers=stack.as_scribe())
        assert refused.status_code == 422, refused.text
        metrics = stack.api.get("/metrics", headers=stack.as_admin()).text  # admin only (issue 12)
    counted = [
        line for line in metrics.splitlines() if line.startswith("chartgate_policy_refusals_total{")
    ]
    assert counted, metrics
    rule = 'rule="content.injection-ignore-instructions"'
    assert any(rule in line and line.endswith(" 1.0") for line in counted), counted


def test_readyz_can_ask_each_ehr_for_its_capability_statement(tmp_path: Path) -> None:
    """With readyz_check_ehr: a live EHR is ok; a silent or BAA-lapsed one (refused) is 503."""
    with SandboxServer(tmp_path / "sandbox.sqlite3") as sandbox:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}/fhir"  # nothing listens

        def tenant(name: str, base: str) -> TenantSettings:
            return TenantSettings(
                id=name, issuers=[sandbox.issuer], ehr=EhrSettings(base_url=base, vendor="sandbox")
            )

        live = [tenant("clinic-a", sandbox.fhir_base)]
        lapsed = ProcessorSettings(
            id="lapsed-ehr",
            legal_entity="An EHR whose BAA lapsed",
            role="ehr",
            purpose="readiness test",
            endpoints=[sandbox.base_url + "/lapsed"],
            phi_categories=["clinical-notes"],
            baa_signed=date(2020, 1, 1),
            baa_expires=date(2020, 12, 31),
        )
        for tenants, code, ehr in (
            (live, 200, {"ehr:clinic-a": "ok"}),
            (
                [*live, tenant("clinic-b", dead)],
                503,
                {"ehr:clinic-a": "ok", "ehr:clinic-b": "unreachable"},
            ),
            (
                [*live, tenant("clinic-c", sandbox.base_url + "/lapsed/fhir")],
                503,
                {"ehr:clinic-a": "ok", "ehr:clinic-c": "refused"},
            ),
        ):
            base = settings_for(tmp_path)
            settings = base.model_copy(
                update={
                    "tenants": tenants,
                    "readyz_check_ehr": True,
                    "processors": [*base.processors, lapsed],
                }
            )
            application = build(settings, migrate=True)
            try:
                with serving(application) as client:
                    ready = client.get("/readyz")
                    assert ready.status_code == code, ready.text
                    checks = ready.json()["checks"]
                    assert {k: v for k, v in checks.items() if k.startswith("ehr:")} == ehr
                    assert sandbox.fhir_base not in ready.text
                    assert dead not in ready.text
            finally:
                application.close()
        off = build(settings_for(tmp_path).model_copy(update={"tenants": live}), migrate=True)
        try:
            with serving(off) as client:  # off by default: readiness never calls the EHR
                assert set(client.get("/readyz").json()["checks"]) == {"store", "schema", "keys"}
        finally:
            off.close()
