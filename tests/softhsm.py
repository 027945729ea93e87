"""SoftHSM2 tokens for the PKCS#11 key tests (Debian's ``softhsm2``, installed by ``make install``).

One SoftHSM2 configuration per test process (the library reads ``SOFTHSM2_CONF`` once, when
loaded), one fresh token per test, initialised with ``softhsm2-util`` as an operator would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from required import missing

LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
_CONF_DIR = Path(tempfile.mkdtemp(prefix="chartgate-softhsm-"))


@dataclass(frozen=True)
class Token:
    """A fresh token: its label, the PKCS#11 library and the pin as a secret reference."""

    label: str
    library: str
    pin_ref: str

    def settings(self) -> dict[str, str]:
        """The chartgate settings that select this token."""
        return {
            "key_provider": "pkcs11",
            "pkcs11_library": self.library,
            "pkcs11_token": self.label,
            "pkcs11_pin": self.pin_ref,
        }

    def env(self) -> dict[str, str]:
        """The same as CHARTGATE_* variables, plus SOFTHSM2_CONF, for a subprocess."""
        env = {f"CHARTGATE_{k.upper()}": v for k, v in self.settings().items()}
        return {**env, "SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"]}


def _configure() -> None:
    tokens = _CONF_DIR / "tokens"
    tokens.mkdir(exist_ok=True)
    conf = _CONF_DIR / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)


@pytest.fixture
def softhsm_token(tmp_path: Path) -> Token:
    """A new SoftHSM2 token with user pin in a 0600 file; the library re-reads its slots."""
    if shutil.which("softhsm2-util") is None or not Path(LIBRARY).exists():
        missing("SoftHSM2 is not installed (apt-get install softhsm2; make install does)")
    _configure()
    label = f"cg-{uuid.uuid4().hex[:12]}"
    pin = uuid.uuid4().hex[:8]
    so_pin = uuid.uuid4().hex[:8]
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            so_pin,
        ],
        check=True,
        capture_output=True,
    )
    pin_file = tmp_path / "hsm.pin"
    pin_file.write_text(pin)
    pin_file.chmod(0o600)
    from chartgate.adapters.keys.pkcs11 import refresh_tokens  # noqa: PLC0415

    refresh_tokens(LIBRARY)
    return Token(label=label, library=LIBRARY, pin_ref=f"secret:file:{pin_file}")
