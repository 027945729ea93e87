"""Key custody on a real store: PKCS#11 (SoftHSM2) and key files, init, replicas, rotation."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from chartgate.adapters.keys.custody import Custody, open_custody
from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.keys.rotation import rotate_kek
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.adapters.storage.engine import make_engine
from chartgate.adapters.storage.key_registry import SqlKeyRegistry
from chartgate.adapters.storage.ledger import SqlLedgerUnit
from chartgate.bootstrap.keys import open_keys
from chartgate.domain.errors import KeyCustodyError, KeyMismatch
from chartgate.ledger.checkpoint import open_note, sign_note
from chartgate.settings import EhrSettings, Settings, TenantSettings
from softhsm import Token

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def _settings(url: str, key_dir: Path, **extra: Any) -> Settings:
    tenant = TenantSettings(
        id="clinic-a",
        issuers=["https://idp.example"],
        ehr=EhrSettings(base_url="https://ehr.example/r4"),
    )
    values: dict[str, Any] = {"dev_mode": False, **extra}
    return Settings(database_url=url, key_file=str(key_dir / "kek.key"), tenants=[tenant], **values)


@pytest.fixture
def engine(migrated_database_url: str) -> Any:
    """The migrated store, disposed afterwards."""
    made = make_engine(migrated_database_url)
    yield made
    made.dispose()


def _open(settings: Settings, engine: Engine, *, create: bool = False) -> Custody:
    return open_custody(settings, SqlKeyRegistry(engine), now=NOW, create=create)


def test_pkcs11_keys_are_made_once_in_the_token_and_used_there(
    engine: Engine, migrated_database_url: str, softhsm_token: Token, tmp_path: Path
) -> None:
    """Outside dev no key exists before init; then the token wraps and signs, a restart agrees.

    No key file is ever written.
    """
    settings = _settings(migrated_database_url, tmp_path, **softhsm_token.settings())
    with pytest.raises(KeyCustodyError, match="keys init"):
        _open(settings, engine)
    custody = _open(settings, engine, create=True)
    cipher = EnvelopeCipher(custody.kek, SqlDataKeyStore(engine))
    sealed = cipher.encrypt("clinic-a", b"synthetic note", aad=b"drafts/1/text")
    stored = SqlDataKeyStore(engine).get_wrapped("clinic-a")
    assert stored is not None
    assert custody.kek.wrapped_by(stored[9:]) == custody.kek.key_id
    note = sign_note(
        "chartgate.example/clinic-a\n1\n" + "A" * 43 + "=\n",
        "chartgate.example",
        custody.ledger.private_key,
    )
    vkey = custody.ledger.vkey
    assert open_note(note, custody.ledger.verifier)
    counts = custody.usage.snapshot()
    assert counts[("kek", "wrap")] >= 1
    assert counts[("ledger", "sign")] == 1
    custody.close()

    again = _open(settings, engine)
    try:
        assert again.ledger.vkey == vkey
        reopened = EnvelopeCipher(again.kek, SqlDataKeyStore(engine))
        assert reopened.decrypt("clinic-a", sealed, aad=b"drafts/1/text") == b"synthetic note"
    finally:
        again.close()
    assert list(tmp_path.glob("*.key")) == []
    rows = SqlKeyRegistry(engine).rows()
    assert {(r.purpose, r.provider, r.current) for r in rows} == {
        ("kek", "pkcs11", True),
        ("ledger", "pkcs11", True),
    }


def test_a_replica_reaching_other_keys_refuses_to_start_and_the_ledger_records_it(
    engine: Engine, migrated_database_url: str, tmp_path: Path
) -> None:
    """Host B with its own key files on host A's store: KeyMismatch, and key.mismatch in the log."""
    host_a = _settings(migrated_database_url, tmp_path / "a")
    _open(host_a, engine, create=True).close()
    cipher, custody = open_keys(host_a, engine)  # host A itself starts
    cipher.encrypt("clinic-a", b"x", aad=b"warm-up")
    custody.close()

    host_b = _settings(migrated_database_url, tmp_path / "b", dev_mode=True)  # would auto-create
    with pytest.raises(KeyMismatch, match="key-encryption key"):
        open_keys(host_b, engine)
    with SqlLedgerUnit(engine, read_only=True) as unit:
        events = [json.loads(e.canonical or b"{}") for e in unit.ledger.entries("clinic-a")]
    mismatch = [e for e in events if e["type"] == "key.mismatch"]
    assert len(mismatch) == 1
    assert "does not reach" in mismatch[0]["data"]["reason"]

    # Same KEK, another ledger key: refused as well.
    (tmp_path / "c").mkdir(mode=0o700)
    (tmp_path / "c" / "kek.key").write_bytes((tmp_path / "a" / "kek.key").read_bytes())
    (tmp_path / "c" / "kek.key").chmod(0o600)
    host_c = _settings(migrated_database_url, tmp_path / "c", dev_mode=True)
    with pytest.raises(KeyMismatch, match="ledger signing key"):
        open_keys(host_c, engine)


@pytest.mark.parametrize("provider", ["local", "pkcs11"])
def test_kek_rotation_with_traffic_flowing_leaves_everything_readable(  # noqa: PLR0915
    engine: Engine,
    migrated_database_url: str,
    tmp_path: Path,
    provider: str,
    request: pytest.FixtureRequest,
) -> None:
    """Writers and readers run through a KEK rotation, and nothing becomes unreadable.

    Every tenant key is re-wrapped under the new KEK; every ciphertext opens in the running
    process and in one started afterwards.
    """
    extra = request.getfixturevalue("softhsm_token").settings() if provider == "pkcs11" else {}
    settings = _settings(migrated_database_url, tmp_path, **extra)
    tenants = [f"clinic-{i}" for i in range(6)]
    running = _open(settings, engine, create=True)
    cipher = EnvelopeCipher(running.kek, SqlDataKeyStore(engine))
    written: list[tuple[str, bytes, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []
    for tenant in tenants[:4]:  # two tenants get their first key during the rotation
        cipher.encrypt(tenant, b"", aad=b"warm-up")

    def traffic(worker: int) -> None:
        n = 0
        try:
            while not stop.is_set() and n < 400:
                tenant = tenants[(worker + n) % len(tenants)]
                aad = f"row/{worker}/{n}".encode()
                blob = cipher.encrypt(tenant, f"synthetic {n}".encode(), aad=aad)
                assert cipher.decrypt(tenant, blob, aad=aad) == f"synthetic {n}".encode()
                with lock:
                    written.append((tenant, aad, blob))
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=traffic, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    rotator = _open(settings, engine)  # `chartgate keys rotate --kek`, another process
    result = rotate_kek(settings, rotator, SqlKeyRegistry(engine), SqlDataKeyStore(engine), now=NOW)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert result["previous"] != result["key_id"]
    assert int(str(result["rewrapped"])) >= 4

    store = SqlDataKeyStore(engine)
    rotator.close()
    fresh = _open(settings, engine)  # a process started after the rotation
    try:
        assert fresh.kek.key_id == result["key_id"]
        for tenant in store.tenants():
            stored = store.get_wrapped(tenant)
            assert stored is not None
            assert fresh.kek.wrapped_by(stored[9:]) in {result["key_id"], result["previous"]}
        opened = EnvelopeCipher(fresh.kek, store)
        assert written
        for tenant, aad, blob in written:
            assert opened.decrypt(tenant, blob, aad=aad).startswith(b"synthetic")
            assert cipher.decrypt(tenant, blob, aad=aad).startswith(b"synthetic")
    finally:
        fresh.close()
        running.close()
    current = SqlKeyRegistry(engine).current("kek")
    assert current is not None
    assert current.key_id == result["key_id"]
