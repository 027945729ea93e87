"""Typed settings from ``CHARTGATE_*`` variables and an optional TOML file; fail closed.

Nothing here is read at import time: ``load_settings()`` is called by the composition root
(``bootstrap.py``) or a CLI command, and the result is passed in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class EhrSettings(BaseModel):
    """One tenant's EHR connection. Secrets are references (``secret:file:/path``), never inline."""

    base_url: str
    vendor: str = "generic-r4"
    auth: Literal["none", "smart-backend"] = "none"
    client_id: str | None = None
    token_url: str | None = None
    private_key: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("private_key")
    @classmethod
    def _secret_by_reference(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("secret:"):
            msg = "private_key must be a secret reference such as 'secret:file:/run/secrets/k.pem'"
            raise ValueError(msg)
        return value


class TenantSettings(BaseModel):
    """One provider organisation: who may call us for it, and where its chart lives."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    issuers: list[str] = Field(min_length=1)
    audience: str = "chartgate"
    ehr: EhrSettings
    display_name: str | None = None


class Settings(BaseSettings):
    """All of chartgate's settings; unknown keys are refused."""

    model_config = SettingsConfigDict(
        env_prefix="CHARTGATE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = "sqlite:///var/chartgate.sqlite3"
    policy: str | None = None  # path; None means the shipped conservative default
    tenants: list[TenantSettings] = Field(default_factory=list)
    key_file: str = "var/chartgate-kek.key"
    max_body_bytes: int = Field(default=256 * 1024, gt=1024, le=16 * 1024 * 1024)
    jwt_leeway_seconds: int = Field(default=60, ge=0, le=300)
    jwt_max_lifetime_seconds: int = Field(default=3600, gt=0, le=86400)
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    worker_max_attempts: int = Field(default=8, ge=1, le=100)
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order: explicit arguments, then environment, then the TOML file of CHARTGATE_CONFIG."""
        del dotenv_settings, file_secret_settings
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CHARTGATE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def tenant(self, tenant_id: str) -> TenantSettings | None:
        """Return the tenant's settings, or None when the tenant is not configured."""
        return next((t for t in self.tenants if t.id == tenant_id), None)


def load_settings(**overrides: Any) -> Settings:  # noqa: ANN401 - pydantic init kwargs
    """Read settings from the environment (and CHARTGATE_CONFIG); raise on anything invalid."""
    return Settings(**overrides)
