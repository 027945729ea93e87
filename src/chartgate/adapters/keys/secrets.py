# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Resolve secret references (``secret:…``) from settings into secret values.

Settings never hold a secret, only a reference to one (``EhrSettings.private_key``)::

    secret:file:/run/secrets/clinic-a.pem   a regular file, owner-only permissions (0600/0400)
    secret:env:CLINIC_A_EHR_KEY             an environment variable
    secret:vault:kv/chartgate/clinic-a#pem  a field of a secret in a Vault-shaped store

A file readable by group or others is refused rather than used: a key that may already have
leaked must be rotated, not silently trusted. Values come back wrapped in ``Secret``, whose
``repr``/``str`` never show them, so a log line or a traceback that prints one leaks nothing;
no message raised here contains a value either (only the reference's kind, never its text
beyond the variable name or path).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from typing import Final, Protocol

from chartgate.domain.errors import SecretError

# SecretError is defined in the one error tree (domain/errors.py) and re-exported here.
__all__ = [
    "MAX_SECRET_BYTES",
    "SECRET_PREFIX",
    "Secret",
    "SecretError",
    "SecretProvider",
    "VaultReader",
]

SECRET_PREFIX: Final = "secret:"  # noqa: S105 - the reference prefix, not a secret
MAX_SECRET_BYTES: Final = 64 * 1024
_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_VAULT_REF: Final = re.compile(
    r"^(?P<path>[A-Za-z0-9_\-./]{1,256})#(?P<field>[A-Za-z0-9_\-.]{1,64})$"
)


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        """Return the value; call only where it is used (a signer, a request)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


class VaultReader(Protocol):
    """The Vault-shaped store chartgate needs: read one secret's fields (KV v2 ``data.data``)."""

    def read(self, path: str) -> Mapping[str, str]:
        """Return the fields of the secret at ``path``; raise ``KeyError`` when absent."""
        ...


class SecretProvider:
    """Resolves ``secret:file:``, ``secret:env:`` and (when a reader is given) ``secret:vault:``.

    ``environ`` and ``vault`` are injected so that tests and the composition root decide what
    is reachable; nothing is read at construction.
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        vault: VaultReader | None = None,
        require_owner: bool = True,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._vault = vault
        self._require_owner = require_owner

    def resolve(self, reference: str) -> Secret:
        """Return the secret ``reference`` names, or raise ``SecretError``."""
        if not reference.startswith(SECRET_PREFIX):
            raise SecretError("a secret must be given by reference (secret:file:/path, ...)")
        kind, _, target = reference.removeprefix(SECRET_PREFIX).partition(":")
        if kind == "file":
            return Secret(self._file(target))
        if kind == "env":
            return Secret(self._env(target))
        if kind == "vault":
            return Secret(self._vault_field(target))
        raise SecretError("unknown secret kind (use file, env or vault)")

    def _file(self, path: str) -> bytes:
        if not os.path.isabs(path):  # noqa: PTH117 - a plain string check
            raise SecretError("a secret file must be given by absolute path")
        try:
            # O_NOFOLLOW: a symlink swapped in for the key file must not redirect us.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as e:
            raise SecretError(f"secret file cannot be opened: {os.path.basename(path)}") from e  # noqa: PTH119
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SecretError("secret file is not a regular file")
            if info.st_mode & 0o077:
                raise SecretError(
                    "secret file must not be accessible by group or others (chmod 600)"
                )
            if self._require_owner and info.st_uid != os.geteuid():
                raise SecretError("secret file must be owned by the user chartgate runs as")
            value = handle.read(MAX_SECRET_BYTES + 1)
        if len(value) > MAX_SECRET_BYTES or not value:
            raise SecretError("secret file is empty or too large")
        return value

    def _env(self, name: str) -> bytes:
        if not _ENV_NAME.fullmatch(name):
            raise SecretError("secret:env: needs a variable name")
        value = self._environ.get(name)
        if not value:
            raise SecretError(f"environment variable {name} is not set")
        return value.encode()

    def _vault_field(self, target: str) -> bytes:
        match = _VAULT_REF.fullmatch(target)
        if match is None:
            raise SecretError("secret:vault: needs <path>#<field>")
        if self._vault is None:
            raise SecretError("no Vault reader is configured")
        try:
            value = self._vault.read(match["path"])[match["field"]]
        except KeyError as e:
            raise SecretError("Vault secret or field not found") from e
        return value.encode()
