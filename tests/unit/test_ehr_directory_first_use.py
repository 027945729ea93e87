"""A tenant's EHR client is built once, even when request threads reach its first use together."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from chartgate.adapters.ehr import directory as directory_module
from chartgate.adapters.ehr.directory import ConfiguredEhrDirectory
from chartgate.adapters.ehr.http import build_client
from chartgate.settings import EhrSettings, TenantSettings
from fakes import open_gate

THREADS = 8


def test_threads_at_a_tenants_first_use_share_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight threads ask for the gateway at once: one client is built, all get one gateway.

    Before the lock each thread built a client (a TLS context and a connection pool) and all
    but the last were dropped unclosed (seen in a profile of approvals over HTTP: the first
    approvals of a fresh ``serve`` each built one).
    """
    built: list[Any] = []

    def slow_build(**kwargs: Any) -> Any:
        time.sleep(0.05)  # a TLS context under load: the window the threads raced in
        client = build_client(**kwargs)
        built.append(client)
        return client

    monkeypatch.setattr(directory_module, "build_client", slow_build)
    tenant = TenantSettings(
        id="clinic-a",
        issuers=["https://idp.example"],
        ehr=EhrSettings(base_url="https://ehr.example/R4"),
    )
    directory = ConfiguredEhrDirectory({"clinic-a": tenant}, gate=open_gate())
    start = threading.Barrier(THREADS)
    gateways: list[object] = []

    def first_use() -> None:
        start.wait()
        gateways.append(directory.gateway("clinic-a"))

    threads = [threading.Thread(target=first_use) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    directory.close()

    assert len(built) == 1
    assert len(gateways) == THREADS
    assert all(g is gateways[0] for g in gateways)
