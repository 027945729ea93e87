# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""What custody needs of the store's key registry (``adapters/storage/key_registry.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One registered key: its purpose, id, provider, public part and whether it is current.

    ``public`` is a ledger key's verifier key, or a KEK's check blob (a wrap of a fixed
    value that only the same KEK opens); never anything secret.
    """

    purpose: str
    key_id: str
    provider: str
    public: str | None
    current: bool
    created_at: datetime


class KeyRegistry(Protocol):
    """The deployment's keys as the store records them."""

    def rows(self, purpose: str | None = None) -> list[KeyRow]:
        """Every registered key (of one purpose), current first."""
        ...

    def current(self, purpose: str) -> KeyRow | None:
        """The current key of ``purpose``."""
        ...

    def add(
        self, purpose: str, key_id: str, *, provider: str, public: str | None, now: datetime
    ) -> None:
        """Register a new current key; the previous one is retired."""
        ...
