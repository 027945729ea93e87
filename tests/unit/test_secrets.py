"""The secret provider: file (owner-only), environment and a Vault-shaped reader."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from chartgate.adapters.keys.secrets import Secret, SecretProvider
from chartgate.domain.errors import SecretError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def write(path: Path, data: bytes, mode: int) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_a_0600_file_is_read(tmp_path):
    """secret:file: with owner-only permissions resolves to the file's bytes."""
    path = write(tmp_path / "k.pem", b"PEM", 0o600)
    assert SecretProvider().resolve(f"secret:file:{path}").reveal() == b"PEM"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666])
def test_a_file_readable_by_others_is_refused(tmp_path, mode):
    """Group or other permission bits make the secret unusable: rotate it, do not use it."""
    path = write(tmp_path / "k.pem", b"PEM", mode)
    with pytest.raises(SecretError, match="chmod 600"):
        SecretProvider().resolve(f"secret:file:{path}")


def test_a_symlink_is_not_followed(tmp_path):
    """A symlink swapped in for the key file is refused."""
    target = write(tmp_path / "real.pem", b"PEM", 0o600)
    link = tmp_path / "link.pem"
    link.symlink_to(target)
    with pytest.raises(SecretError):
        SecretProvider().resolve(f"secret:file:{link}")


def test_a_relative_path_is_refused():
    """Secret files are named by absolute path."""
    with pytest.raises(SecretError, match="absolute"):
        SecretProvider().resolve("secret:file:keys/k.pem")


def test_an_environment_variable_is_read():
    """secret:env:NAME resolves from the injected environment."""
    provider = SecretProvider(environ={"EHR_KEY": "value"})
    assert provider.resolve("secret:env:EHR_KEY").reveal() == b"value"


def test_a_missing_environment_variable_is_an_error_naming_only_the_variable():
    """The message names the variable, never a value."""
    with pytest.raises(SecretError, match="EHR_KEY"):
        SecretProvider(environ={}).resolve("secret:env:EHR_KEY")


class FakeVault:
    def __init__(self, data: Mapping[str, Mapping[str, str]]) -> None:
        self.data = data

    def read(self, path: str) -> Mapping[str, str]:
        return self.data[path]


def test_a_vault_field_is_read():
    """secret:vault:<path>#<field> reads one field through the Vault-shaped reader."""
    provider = SecretProvider(vault=FakeVault({"kv/clinic-a": {"pem": "PEM"}}))
    assert provider.resolve("secret:vault:kv/clinic-a#pem").reveal() == b"PEM"


@pytest.mark.parametrize(
    "reference",
    ["secret:vault:kv/clinic-a#other", "secret:vault:kv/none#pem", "secret:vault:kv/clinic-a"],
)
def test_a_missing_vault_secret_is_an_error(reference):
    """Unknown paths or fields, and references without a field, are refused."""
    provider = SecretProvider(vault=FakeVault({"kv/clinic-a": {"pem": "PEM"}}))
    with pytest.raises(SecretError):
        provider.resolve(reference)


def test_vault_without_a_reader_is_an_error():
    """No Vault reader configured: the reference cannot resolve."""
    with pytest.raises(SecretError, match="Vault"):
        SecretProvider().resolve("secret:vault:kv/a#pem")


@pytest.mark.parametrize("reference", ["PEM-inline", "secret:ftp:/x", "secret:env:1BAD"])
def test_inline_or_unknown_references_are_refused(reference):
    """Only secret references of a known kind are resolved."""
    with pytest.raises(SecretError):
        SecretProvider(environ=os.environ).resolve(reference)


def test_a_secret_never_prints_its_value():
    """Neither repr nor str shows the value, so a log line cannot leak it."""
    secret = Secret(b"very-secret")
    assert "very-secret" not in repr(secret)
    assert "very-secret" not in str(secret)
    assert "very-secret" not in f"{secret}"
