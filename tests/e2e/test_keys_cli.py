"""``chartgate keys`` end to end: init once, no implicit keys outside dev, replicas, rotation."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tsa_server import Tsa

CHARTGATE = str(Path(sys.executable).with_name("chartgate"))
TENANTS = json.dumps(
    [
        {
            "id": "clinic-a",
            "issuers": ["https://idp.example"],
            "ehr": {"base_url": "https://ehr.example/r4"},
        }
    ]
)

PROCESSORS = [  # the tenant's destinations, registered (outside dev mode they must be)
    {
        "id": "clinic-ehr",
        "legal_entity": "Example EHR vendor",
        "role": "ehr",
        "purpose": "write-back of approved notes",
        "endpoints": ["https://ehr.example/r4"],
        "phi_categories": ["clinical-notes"],
        "baa_signed": "2026-01-01",
        "baa_expires": "2030-01-01",
    },
    {
        "id": "clinic-idp",
        "legal_entity": "Example identity provider",
        "role": "identity",
        "purpose": "sign-in",
        "endpoints": ["https://idp.example"],
    },
]


def run(args: list[str], folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``chartgate`` in ``folder`` with its own SQLite store, outside dev mode unless told."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGATE_")}
    base |= {
        "CHARTGATE_DATABASE_URL": f"sqlite:///{folder / 'cg.sqlite3'}",
        "CHARTGATE_TENANTS": TENANTS,
        "CHARTGATE_DEV_MODE": "false",
        "CHARTGATE_PROCESSORS": json.dumps(PROCESSORS),
    }
    return subprocess.run(
        [CHARTGATE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=folder,
        env=base | env,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The output of a command that must succeed."""
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """A refused command's stderr: one line, no traceback."""
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def events(folder: Path, kind: str) -> list[dict[str, object]]:
    """The ledger events of one type in clinic-a's log (read straight from the store)."""
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(folder / "cg.sqlite3") as db:
        rows = db.execute("SELECT canonical FROM audit_events WHERE tenant = 'clinic-a'")
        found = [json.loads(row[0]) for row in rows]
    return [e for e in found if e["type"] == kind]


@pytest.fixture
def deploy(tmp_path: Path) -> Path:
    """A store with keys made by ``keys init``, one engaged switch and a signed checkpoint."""
    folder = tmp_path / "a"
    folder.mkdir()
    ok(run(["db", "upgrade"], folder))
    ok(run(["keys", "init"], folder))
    ok(run(["killswitch", "set", "--mode", "stop-drafting", "--reason", "drill"], folder))
    assert "checkpoint" in ok(run(["audit", "checkpoint"], folder))
    return folder


def test_outside_dev_mode_no_command_makes_a_key_and_keys_init_does_once(tmp_path: Path) -> None:
    """Before init every command refuses in one line and writes no key; init works once."""
    ok(run(["db", "upgrade"], tmp_path))
    for command in (["audit", "checkpoint"], ["worker", "--once"], ["keys", "rotate", "--kek"]):
        done = run(command, tmp_path)
        assert done.returncode in {2, 5}, done.stderr
        assert "keys init" in one_line(done)
    assert not (tmp_path / "var").exists()
    made = ok(run(["keys", "init"], tmp_path))
    assert "chartgate.example+" in made
    for key in ("chartgate-kek.key", "chartgate-ledger.key"):
        assert (tmp_path / "var" / key).stat().st_mode & 0o777 == 0o600
    again = run(["keys", "init"], tmp_path)
    assert again.returncode == 2
    assert "initialised already" in one_line(again)
    status = json.loads(ok(run(["keys", "status", "--json"], tmp_path)))
    assert {(k["purpose"], k["current"]) for k in status} == {("kek", True), ("ledger", True)}
    created = events(tmp_path, "key.created")
    assert {e["data"]["kind"] for e in created} == {"kek", "ledger-signing"}  # type: ignore[index]


def test_a_store_copy_with_another_hosts_ledger_key_is_refused_in_one_line(
    deploy: Path, tmp_path: Path
) -> None:
    """A store copy without its ledger key: one line naming the key, never an internal error.

    With the other host's own ledger key ``audit checkpoint`` used to fail with an internal
    SignatureError (exit 70); now it and the worker refuse (exit 2) and the ledger says so.
    """
    copy = tmp_path / "b"
    (copy / "var").mkdir(parents=True)
    shutil.copy(deploy / "cg.sqlite3", copy / "cg.sqlite3")
    shutil.copy(deploy / "var" / "chartgate-kek.key", copy / "var" / "chartgate-kek.key")
    missing = run(["audit", "checkpoint"], copy)
    assert missing.returncode == 5
    assert "chartgate-ledger.key" in one_line(missing)
    # The other host's own ledger key (what an implicit "create when missing" used to make).
    other = tmp_path / "other"
    other.mkdir()
    ok(run(["db", "upgrade"], other))
    ok(run(["keys", "init"], other))
    shutil.copy(other / "var" / "chartgate-ledger.key", copy / "var" / "chartgate-ledger.key")
    ok(run(["killswitch", "set", "--mode", "freeze-approvals", "--reason", "drill"], deploy))
    for command in (["audit", "checkpoint"], ["worker", "--once"]):
        done = run(command, copy)
        assert done.returncode == 2, done.stderr
        assert "ledger signing key" in one_line(done)
    assert events(copy, "key.mismatch")


def test_ledger_key_rotation_keeps_old_checkpoints_verifiable_online_and_offline(
    deploy: Path,
) -> None:
    """After ``keys rotate --ledger`` old and new checkpoints verify with every published key.

    The new key alone does not verify the old checkpoints (so the old one is really needed).
    """
    old_vkey = ok(run(["audit", "key"], deploy)).splitlines()[0]
    rotated = ok(run(["keys", "rotate", "--ledger"], deploy))
    new_vkey = rotated.strip().splitlines()[-1]
    assert new_vkey != old_vkey
    assert "checkpoint" in ok(run(["audit", "checkpoint"], deploy))
    assert ok(run(["audit", "key"], deploy)).splitlines()[:2] == [new_vkey, old_vkey]
    ok(run(["audit", "verify"], deploy))
    assert events(deploy, "key.rotated")

    out = deploy / "export"
    ok(run(["audit", "export", "--out", str(out), "--tenant", "clinic-a"], deploy))
    notes = (out / "clinic-a.checkpoints").read_text()
    assert notes.count("\u2014 chartgate.example ") >= 2
    verify = [sys.executable, "-m", "chartgate.ledger.verify", str(out / "clinic-a.jsonl")]
    verify += ["--checkpoints", str(out / "clinic-a.checkpoints")]
    both = subprocess.run(
        [*verify, "--key", str(out / "clinic-a.vkey")], check=False, capture_output=True, text=True
    )
    assert both.returncode == 0, both.stdout + both.stderr
    only_new = subprocess.run(
        [*verify, "--key", new_vkey], check=False, capture_output=True, text=True
    )
    assert only_new.returncode == 1
    assert "not signed by any pinned key" in only_new.stdout


def test_kek_rotation_from_the_cli_rewraps_and_the_store_still_reads(deploy: Path) -> None:
    """``keys rotate --kek`` re-wraps the tenant key; the store still reads afterwards.

    A worker and ``audit verify`` start under the new KEK, a second rotation works, and the
    file keeps every key.
    """
    ok(run(["worker", "--once"], deploy))  # a started process makes the tenant's data key
    first = ok(run(["keys", "rotate", "--kek"], deploy))
    assert "1 tenant data keys re-wrapped" in first
    ok(run(["killswitch", "set", "--mode", "freeze-approvals", "--reason", "after"], deploy))
    ok(run(["worker", "--once"], deploy))
    ok(run(["audit", "verify"], deploy))
    ok(run(["keys", "rotate", "--kek"], deploy))
    lines = (deploy / "var" / "chartgate-kek.key").read_text().split()
    assert len(lines) == 3
    status = json.loads(ok(run(["keys", "status", "--json"], deploy)))
    assert sum(1 for k in status if k["purpose"] == "kek" and not k["current"]) == 2


def test_checkpoints_get_tsa_timestamps_that_verify_and_a_tampered_one_is_refused(
    tmp_path: Path, tsa: Tsa
) -> None:
    """With a TSA configured every checkpoint is stamped, and the stamps are checked.

    ``audit verify`` and the offline verifier check the tokens, and refuse one altered in
    the store or in the export.
    """
    tsa_env = {
        "CHARTGATE_TSA_URL": tsa.url,
        "CHARTGATE_TSA_CERTIFICATES": str(tsa.ca_file),
        "CHARTGATE_PROCESSORS": json.dumps([tsa.processor(), *PROCESSORS]),
    }
    ok(run(["db", "upgrade"], tmp_path))
    ok(run(["keys", "init"], tmp_path))
    ok(run(["killswitch", "set", "--mode", "stop-drafting", "--reason", "drill"], tmp_path))
    ok(run(["audit", "checkpoint"], tmp_path, **tsa_env))
    ok(run(["killswitch", "set", "--mode", "freeze-approvals", "--reason", "drill"], tmp_path))
    ok(run(["audit", "checkpoint"], tmp_path, **tsa_env))
    assert "2 checkpoint timestamps verified" in ok(run(["audit", "verify"], tmp_path, **tsa_env))

    out = tmp_path / "export"
    ok(run(["audit", "export", "--out", str(out), "--tenant", "clinic-a"], tmp_path, **tsa_env))
    verify = [sys.executable, "-m", "chartgate.ledger.verify", str(out / "clinic-a.jsonl")]
    verify += [
        "--checkpoints",
        str(out / "clinic-a.checkpoints"),
        "--key",
        str(out / "clinic-a.vkey"),
    ]
    verify += ["--timestamps", str(out / "clinic-a.timestamps"), "--tsa-cert", str(tsa.ca_file)]
    offline = subprocess.run(verify, check=False, capture_output=True, text=True)
    assert offline.returncode == 0, offline.stdout + offline.stderr

    stamps = [json.loads(line) for line in (out / "clinic-a.timestamps").read_text().splitlines()]
    token = bytearray(base64.b64decode(stamps[0]["token"]))
    token[-40] ^= 0x01  # the end of the token: the signature
    stamps[0]["token"] = base64.b64encode(bytes(token)).decode()
    (out / "clinic-a.timestamps").write_text("".join(json.dumps(s) + "\n" for s in stamps))
    refused = subprocess.run(verify, check=False, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "bad_timestamp" in refused.stdout

    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(tmp_path / "cg.sqlite3") as db:
        db.execute(
            "UPDATE checkpoint_timestamps SET token = ? WHERE size = ?",
            (bytes(token), stamps[0]["size"]),
        )
    done = run(["audit", "verify"], tmp_path, **tsa_env)
    assert done.returncode == 1
    assert "bad_timestamp" in done.stderr
