"""Typed settings from ``CHARTGATE_*`` variables and an optional TOML file; fail closed.

Nothing here is read at import time: ``load_settings()`` is called by the composition root
(``bootstrap.py``) or a CLI command, and the result is passed in.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.vendors import get_vendor, resolve_vendor_name


class EhrSettings(BaseModel):
    """One tenant's EHR connection. Secrets are references (``secret:file:/path``), never inline.

    ``vendor`` names a profile of ``chartgate vendors`` (an unknown name or key is refused
    when settings load). ``rate_limit_per_second``/``rate_limit_burst`` replace the profile's
    outbound pacing, e.g. with the number in the tenant's agreement with its EHR vendor.
    """

    model_config = {"extra": "forbid"}

    base_url: str
    vendor: str = "generic-r4"
    # How Provenance travels, overriding the profile's (issue 13, ADR 0026): a health system
    # whose EHR takes transaction Bundles (or the X-Provenance header) says so here.
    provenance_mode: ProvenanceMode | None = None
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=10_000)
    rate_limit_burst: int | None = Field(default=None, ge=1, le=10_000)
    auth: Literal["none", "smart-backend"] = "none"
    client_id: str | None = None
    token_url: str | None = None
    private_key: str | None = None
    key_id: str | None = None  # the JWK "kid" the EHR knows the key by (default: thumbprint)
    scope: str | None = None  # scopes to request (None: send none, as Epic wants)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The identifier system of this health system's MRNs, for the patient banner (None: the
    # Patient identifier whose type is v2-0203 "MR").
    mrn_system: str | None = Field(default=None, min_length=1, max_length=512)
    # Transport (docs/compliance.md): a private CA bundle (PEM path; None: the system CAs)
    # and an mTLS client certificate (PEM path) with its key (a secret reference).
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    @model_validator(mode="after")
    def _client_cert_pair(self) -> EhrSettings:
        if (self.client_cert is None) != (self.client_key is None):
            msg = "client_cert and client_key go together (mTLS needs both)"
            raise ValueError(msg)
        return self

    @field_validator("client_key")
    @classmethod
    def _client_key_by_reference(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("secret:"):
            msg = "client_key must be a secret reference such as 'secret:file:/run/secrets/k.pem'"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _backend_complete(self) -> EhrSettings:
        if self.auth == "smart-backend" and not (
            self.client_id and self.token_url and self.private_key
        ):
            msg = "auth = 'smart-backend' needs client_id, token_url and private_key"
            raise ValueError(msg)
        return self

    @field_validator("vendor")
    @classmethod
    def _known_vendor(cls, value: str) -> str:
        resolve_vendor_name(value)  # raises ValueError with the known names
        return value

    @model_validator(mode="after")
    def _provenance_writable(self) -> EhrSettings:
        mode = self.provenance_mode
        sends = mode is not None and mode is not ProvenanceMode.NONE
        if sends and "Provenance" not in get_vendor(self.vendor).writable_types:
            msg = f"provenance_mode: the {self.vendor} profile cannot write Provenance"
            raise ValueError(msg)
        return self

    @field_validator("private_key")
    @classmethod
    def _secret_by_reference(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("secret:"):
            msg = "private_key must be a secret reference such as 'secret:file:/run/secrets/k.pem'"
            raise ValueError(msg)
        return value


class CareTeamGrant(BaseModel):
    """An explicit grant (ADR 0011): one practitioner may act on these encounters/patients."""

    model_config = {"extra": "forbid"}

    fhir_user: str = Field(pattern=r"^(?:.*/)?Practitioner/[A-Za-z0-9\-.]{1,64}$")
    subject: str | None = None
    # The issuer vouching for the practitioner (default: the tenant's only issuer).
    issuer: str | None = None
    encounters: list[str] = Field(default_factory=list)
    patients: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None

    @model_validator(mode="after")
    def _names_something(self) -> CareTeamGrant:
        if not self.encounters and not self.patients:
            msg = "a care-team grant must name at least one encounter or patient"
            raise ValueError(msg)
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            msg = "expires_at needs a timezone (e.g. 2026-12-01T00:00:00Z)"
            raise ValueError(msg)
        return self


_ORIGIN = r"https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?"


class EhrLaunchSettings(BaseModel):
    """SMART App Launch (EHR launch) of the reviewer page inside this tenant's EHR.

    ``iss`` is the FHIR base URL the EHR sends as ``iss`` (default: ``ehr.base_url``); its
    ``/.well-known/smart-configuration`` must name one of the tenant's ``issuers``.
    ``frame_ancestors`` are the EHR origins that may show the page in an iframe.
    """

    model_config = {"extra": "forbid"}

    iss: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    frame_ancestors: list[str] = Field(default_factory=list, max_length=20)
    # Scopes asked for beside "openid fhirUser launch": the reviewer's role scope by default.
    scopes: list[str] = Field(
        default_factory=lambda: ["chartgate/drafts.approve"],
        max_length=20,
    )

    @field_validator("scopes")
    @classmethod
    def _scope_tokens(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]{1,200}", scope):  # RFC 6749 §3.3
                msg = f"not an OAuth scope: {scope!r}"
                raise ValueError(msg)
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _origins_only(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.fullmatch(_ORIGIN, origin):
                msg = "frame_ancestors takes origins such as https://ehr.example.org"
                raise ValueError(msg)
        return value


class TenantSettings(BaseModel):
    """One provider organisation: who may call us for it, and where its chart lives."""

    model_config = {"extra": "forbid"}

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    issuers: list[str] = Field(min_length=1)
    audience: str = "chartgate"
    ehr: EhrSettings
    display_name: str | None = None
    # OAuth client ids of this tenant's AI scribes: whatever their tokens say, they only submit.
    scribe_clients: list[str] = Field(default_factory=list)
    care_team_grants: list[CareTeamGrant] = Field(default_factory=list)
    # Overrides of the global step-up rule for this tenant (None: use the global one).
    step_up_acr: str | None = None
    step_up_max_age_seconds: int | None = Field(default=None, gt=0, le=3600)
    # FHIR endpoint this tenant's ledger is pushed to as AuditEvents (None: the global one).
    audit_sink_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    # Webhook signing secrets an admin may name when registering an endpoint (issue 14):
    # name -> secret reference ("secret:file:/run/secrets/x"); an admin never names a path.
    webhook_secrets: dict[str, str] = Field(default_factory=dict)
    # Where this tenant's encounters happen (ISO 3166-2, "US-CA"): the policy's consent and
    # disclosure rules are chosen by it (issue 17). None: only tenant-wide rules apply.
    jurisdiction: str | None = Field(default=None, pattern=r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")

    # SMART EHR launch of the reviewer page (None: standalone sign-in only, never framed).
    ehr_launch: EhrLaunchSettings | None = None

    def launch_iss(self) -> str | None:
        """The ``iss`` an EHR launch of this tenant carries (None: no EHR launch)."""
        if self.ehr_launch is None:
            return None
        return (self.ehr_launch.iss or self.ehr.base_url).rstrip("/")


ProcessorRole = Literal[
    "ehr",
    "token",
    "audit-sink",
    "webhook",
    "scribe",
    "speech-to-text",
    "llm",
    "observability",
    "identity",
    "timestamping",  # the RFC 3161 TSA (docs/ledger.md#timestamps): a hash, never PHI
]


class ProcessorSettings(BaseModel):
    """One party that may receive data from chartgate (docs/compliance.md, ADR 0021).

    ``endpoints`` are the URL prefixes chartgate may send to on its behalf (empty for a
    party that only sends to chartgate, such as the scribe vendor). ``phi_categories``
    empty means it receives no PHI and needs no BAA; otherwise ``baa_signed`` must be set
    and, once ``baa_expires`` has passed, every call is refused and audited.
    """

    model_config = {"extra": "forbid"}

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    legal_entity: str = Field(min_length=1, max_length=200)
    role: ProcessorRole
    purpose: str = Field(min_length=1, max_length=300)
    endpoints: list[str] = Field(default_factory=list)
    phi_categories: list[str] = Field(default_factory=list)
    baa_signed: date | None = None
    baa_expires: date | None = None

    @field_validator("endpoints")
    @classmethod
    def _url_prefixes(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#]*)?", url):
                msg = f"processor endpoints are URL prefixes (https://ehr.example.org/r4): {url!r}"
                raise ValueError(msg)
        return value


class Settings(BaseSettings):
    """All of chartgate's settings; unknown keys are refused."""

    model_config = SettingsConfigDict(
        env_prefix="CHARTGATE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = "sqlite:///var/chartgate.sqlite3"
    # Dev mode (demo, tests on loopback): plain http destinations allowed. Off by default.
    dev_mode: bool = False
    # The processor (BAA) registry: every outbound destination must be under one.
    processors: list[ProcessorSettings] = Field(default_factory=list)
    policy: str | None = None  # path; None means the shipped conservative default
    tenants: list[TenantSettings] = Field(default_factory=list)
    key_file: str = "var/chartgate-kek.key"
    # Key custody (docs/keys.md): "local" key files (dev mode and single-host trials) or a
    # PKCS#11 token (an HSM) holding the KEK ring and the ledger signing key. Outside dev
    # mode no key is ever created implicitly: `chartgate keys init` makes them, once.
    key_provider: Literal["local", "pkcs11"] = "local"
    pkcs11_library: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token: str | None = None  # the token label
    pkcs11_pin: str | None = Field(default=None, pattern=r"^secret:")  # a secret reference
    # Trusted time (docs/ledger.md#timestamps): an RFC 3161 TSA stamping every checkpoint,
    # and the PEM certificate(s) its tokens must chain to.
    tsa_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    tsa_certificates: str | None = None
    max_body_bytes: int = Field(default=256 * 1024, gt=1024, le=16 * 1024 * 1024)
    jwt_leeway_seconds: int = Field(default=60, ge=0, le=300)
    jwt_max_lifetime_seconds: int = Field(default=3600, gt=0, le=86400)
    # RFC 9470 step-up for finalize/retract/step-up actions: the acr to demand (None: any
    # acr, MFA still required) and how recent auth_time must be.
    step_up_acr: str | None = None
    step_up_max_age_seconds: int = Field(default=300, gt=0, le=3600)
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    worker_max_attempts: int = Field(default=8, ge=1, le=100)
    # Write-backs one worker process carries at once, and of them at most this many of one
    # tenant (None: no tenant cap below the process's); requests/s stay the rate governor's.
    worker_in_flight: int = Field(default=16, ge=1, le=512)
    worker_in_flight_per_tenant: int | None = Field(default=None, ge=1, le=512)
    # An Idempotency-Key still "in flight" after this long belongs to a request that died
    # (process killed, database lost): a retry with the same key may take it over.
    idempotency_abandoned_seconds: float = Field(default=60.0, ge=1, le=3600)
    log_level: str = "INFO"
    # /readyz also asks each tenant's EHR for GET [base]/metadata (answers kept 30 s).
    readyz_check_ehr: bool = False
    # OpenTelemetry traces (docs/ops/tracing.md): off unless an exporter is named.
    tracing_exporter: Literal["none", "console", "otlp"] = "none"
    tracing_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    tracing_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # The audit ledger (docs/ledger.md). Key file and anchor directory default to files
    # beside key_file; the origin of tenant T's log is "<ledger_origin>/T".
    ledger_origin: str = Field(default="chartgate.example", pattern=r"^[^\s+]{1,200}$")
    ledger_key_file: str | None = None
    ledger_anchor_dir: str | None = None
    ledger_checkpoint_every: int = Field(default=1000, ge=1)
    ledger_checkpoint_seconds: float = Field(default=1.0, gt=0)
    # Audit export (docs/audit-export.md): default FHIR endpoint for AuditEvents, batch size.
    audit_sink_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    audit_sink_batch: int = Field(default=100, ge=1, le=1000)
    # Retention (docs/retention.md): rules file (None: the shipped default) and archive dir.
    retention_policy: str | None = None
    retention_archive_dir: str | None = None
    # The reviewer page (/review, ADR 0013): its OpenID Connect client id, its short
    # server-side session (idle and absolute limits), the EHR origins that may frame it
    # (SMART embedded launch; none: it may not be framed) and, behind a proxy, its public URL.
    reviewer_client_id: str = Field(default="chartgate-reviewer", pattern=r"^[\x21-\x7e]{1,200}$")
    reviewer_session_idle_seconds: int = Field(default=900, ge=30, le=3600)
    reviewer_session_absolute_seconds: int = Field(default=3600, ge=60, le=12 * 3600)
    reviewer_frame_ancestors: list[str] = Field(default_factory=list, max_length=20)
    reviewer_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+$")

    @field_validator("reviewer_frame_ancestors")
    @classmethod
    def _origins_only(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.fullmatch(_ORIGIN, origin):
                msg = "reviewer_frame_ancestors takes origins such as https://ehr.example.org"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _https_outside_dev(self) -> Settings:
        if self.dev_mode:
            return self
        for what, url in self.transport_urls():
            if not url.lower().startswith("https://"):
                msg = f"{what} must be an https:// URL outside dev mode (dev_mode = false)"
                raise ValueError(msg)
        return self

    def transport_urls(self) -> list[tuple[str, str]]:
        """The EHR, token and audit sink URLs that must be https outside dev mode."""
        urls = [("audit_sink_url", self.audit_sink_url)]
        for tenant in self.tenants:
            urls += [
                (f"tenant {tenant.id}: ehr.base_url", tenant.ehr.base_url),
                (f"tenant {tenant.id}: ehr.token_url", tenant.ehr.token_url),
                (f"tenant {tenant.id}: audit_sink_url", tenant.audit_sink_url),
                (
                    f"tenant {tenant.id}: ehr_launch.iss",
                    tenant.ehr_launch.iss if tenant.ehr_launch else None,
                ),
            ]
        return [(what, url) for what, url in urls if url is not None]

    @model_validator(mode="after")
    def _one_tenant_per_launch_iss(self) -> Settings:
        seen: set[str] = set()
        for tenant in self.tenants:
            iss = tenant.launch_iss()
            if iss is not None and iss in seen:
                msg = f"two tenants launch with the same iss {iss!r}: a launch would be ambiguous"
                raise ValueError(msg)
            if iss is not None:
                seen.add(iss)
        return self

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
        check_config_file()
        config_file = os.environ.get("CHARTGATE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def tenant(self, tenant_id: str) -> TenantSettings | None:
        """Return the tenant's settings, or None when the tenant is not configured."""
        return next((t for t in self.tenants if t.id == tenant_id), None)

    def tenant_for_launch(self, iss: str) -> TenantSettings | None:
        """The tenant whose EHR launches with this ``iss`` (compared without a final slash)."""
        wanted = iss.rstrip("/")
        return next((t for t in self.tenants if t.launch_iss() == wanted), None)


class SettingsFileError(ValueError):
    """``CHARTGATE_CONFIG`` names a file that is missing, unreadable or not valid TOML."""


def check_config_file() -> None:
    """Fail closed on a ``CHARTGATE_CONFIG`` that cannot be read.

    pydantic-settings skips a missing TOML file without a word, so a mistyped path would
    run chartgate on defaults (a new empty SQLite store in the current folder).
    """
    name = os.environ.get("CHARTGATE_CONFIG")
    if not name:
        return
    path = Path(name)
    if not path.is_file():
        raise SettingsFileError(f"CHARTGATE_CONFIG={name}: no such file")
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)
    except OSError as exc:
        raise SettingsFileError(f"CHARTGATE_CONFIG={name}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsFileError(f"CHARTGATE_CONFIG={name}: not valid TOML ({exc})") from exc


def load_settings(**overrides: Any) -> Settings:  # noqa: ANN401 - pydantic init kwargs
    """Read settings from the environment (and CHARTGATE_CONFIG); raise on anything invalid."""
    return Settings(**overrides)
