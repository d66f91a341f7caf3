"""Configuration: command-line flags, then ``TOKENWARD_*`` variables, then a TOML file.

The file is ``TOKENWARD_CONFIG`` when set (it must exist), else ``tokenward.toml`` in the
working directory when there is one. Its keys are the settings' names without the prefix
(``database_url = "..."``); an unknown key is an error rather than a silently ignored typo.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tokenward.domain import secrets as secret_format
from tokenward.store.engine import sqlite_url
from tokenward.verification.cache import DEFAULT_POSITIVE_SIZE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOKENWARD_", extra="ignore")

    data_dir: Path = Field(default=Path("tokenward-data"))
    #: Default: ``tokenward.db`` in the data directory.
    database_url: str | None = None
    #: A PostgreSQL streaming replica of ``database_url`` (``postgresql://...``): verification
    #: lookups and the management lists read there, never a revocation's stale copy (the
    #: lag rule, docs/deploy.md); a replica that is down or failing costs the primary's read.
    database_replica_url: str | None = Field(default=None, repr=False)
    #: The root credential; without it the first start generates one and prints it once.
    admin_token: str | None = Field(default=None, repr=False)
    #: Key-encryption key for recoverable secrets; without it a key file in the data dir.
    secret_key: str | None = Field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    #: After ``SIGTERM``, ``tokenward serve`` answers ``/readyz`` with 503 for this long while
    #: it still serves, then stops taking connections, finishes what it has, writes its
    #: buffers and exits. Longer than the load balancer takes to mark a server down
    #: (docs/deploy.md); 0 stops at once. A second ``SIGTERM`` or ``SIGINT`` skips the rest.
    drain_seconds: float = Field(default=5.0, ge=0)
    #: When true, ``POST /v1/verify`` needs a management credential too.
    verify_requires_auth: bool = False
    #: When true, ``GET /metrics`` needs no credential; otherwise it needs root's.
    metrics_public: bool = False
    #: Where a server's workers share their counts, so that ``/metrics`` shows the server's
    #: totals; ``tokenward serve`` makes one when it runs several workers.
    metrics_dir: Path | None = None
    max_body_bytes: int = 64 * 1024
    #: Failed authentications a client address may make in a minute before it is refused
    #: (429) until the minute has passed; 0 turns the limit off. The secrets being verified
    #: do not count, a bad credential for verification (``verify_requires_auth``) does.
    auth_failure_limit: int = Field(default=30, ge=0)
    last_use_flush_seconds: float = 1.0
    #: Tokens each process keeps in its verification cache (about 1.7 KB each).
    cache_size: int = Field(default=DEFAULT_POSITIVE_SIZE, ge=1)
    #: How often each process reads the change log to drop changed tokens from its cache.
    cache_sync_seconds: float = 0.05
    #: Addresses and networks (``10.0.0.1, 10.1.0.0/16``) of the reverse proxies whose
    #: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed. Empty: none, so the client
    #: address (audit records, the failed-authentication limit) is always the connection's
    #: peer, and no client can name another address for itself.
    trusted_proxies: str = ""
    #: The URL clients reach the server at (``https://tokens.example.com``, a path prefix
    #: included), for the absolute ``Location`` of redirects and of Devo's created tokens;
    #: without it they are paths. Never taken from the request's ``Host`` header.
    public_url: str | None = None
    #: The ``iss`` of the JWT access tokens that ``POST /oauth2/token`` issues, and the
    #: issuer of ``/.well-known/oauth-authorization-server``. Default: ``public_url``, else
    #: ``http://<host>:<port>``. Verifiers compare it exactly: set it in production.
    issuer: str | None = None
    #: ``EdDSA`` (Ed25519) or ``ES256`` (P-256) for signing keys made from now on.
    signing_algorithm: Literal["EdDSA", "ES256"] = "EdDSA"
    #: Lifetime of an exchanged JWT; never longer than the subject token's own expiry.
    exchange_lifetime_seconds: int = Field(default=300, ge=1, le=3600)
    #: ``Cache-Control: max-age`` of ``/.well-known/jwks.json``, and the notice a new signing
    #: key gets: it is published this long before it signs.
    jwks_cache_seconds: int = Field(default=600, ge=1, le=86400)
    #: A new signing key is made when the newest is this old (``tokenward keys
    #: rotate-signing`` forces one sooner).
    signing_rotation_days: float = Field(default=30.0, gt=0)
    #: Webhooks may be sent to loopback, private and link-local addresses (tests, a private
    #: network that trusts every tenant admin); refused otherwise (docs/lifecycle.md).
    webhook_allow_private: bool = False
    #: Seconds allowed to connect to a webhook receiver, and for the whole delivery.
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    #: How often time-driven events (``token.expiring``, ``token.expired``) are looked for.
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    #: The secret-scanning partner's public keys (the JSON GitHub publishes); without it
    #: ``POST /v1/leaks`` is not offered, since no report could be verified.
    leak_public_keys: Path | None = None
    #: How long the hashes of rotated-out secrets are kept, so that one presented again is
    #: recognised as a kept copy (reuse detection).
    reuse_keep_days: int = Field(default=90, ge=1)
    #: The web console (``/console``) signs a browser out after this long without a request,
    #: and in any case this long after it signed in.
    console_idle_seconds: int = Field(default=30 * 60, ge=60)
    console_max_age_seconds: int = Field(default=12 * 3600, ge=60)
    #: Controls at verification (issue 17). Redis for the rate-limit counters, shared by every
    #: worker and server (``redis://host:6379/0``); without it the workers of one server
    #: count together in ``rate_limit_dir`` when it is set, else each process counts alone.
    redis_url: str | None = Field(default=None, repr=False)
    #: Where the workers of one server share their rate-limit counts without Redis (a
    #: memory-mapped file); ``tokenward serve`` makes one when it runs several workers.
    rate_limit_dir: Path | None = None
    #: Prepended to every Redis key, so that installations can share one Redis.
    redis_prefix: str = "tokenward:"
    #: While Redis does not answer: ``closed`` refuses rate-limited tokens (``RATE_LIMITED``),
    #: ``open`` admits them uncounted. Tokens without rate limits are not affected.
    redis_failure: Literal["closed", "open"] = "closed"
    #: How often each worker writes its usage counts (a crash loses at most this interval).
    usage_flush_seconds: float = Field(default=5.0, gt=0)
    #: How long hourly and daily usage buckets are kept.
    usage_hourly_days: int = Field(default=90, ge=1)
    usage_daily_days: int = Field(default=730, ge=1)
    log_level: str = "info"
    #: ``json`` (one object a line), ``text``, or ``auto``: text on a terminal, else JSON.
    log_format: Literal["auto", "json", "text"] = "auto"

    @model_validator(mode="after")
    def _replica_of_postgresql(self) -> Settings:
        if self.database_replica_url is not None:
            schemes = ("postgresql://", "postgres://", "postgresql+psycopg://")
            if not all(
                url and url.startswith(schemes)
                for url in (self.database_url, self.database_replica_url)
            ):
                raise ValueError(
                    "TOKENWARD_DATABASE_REPLICA_URL needs a PostgreSQL TOKENWARD_DATABASE_URL, "
                    "and must itself be a postgresql:// URL"
                )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    "TOKENWARD_TRUSTED_PROXIES must list IP addresses or networks separated "
                    "by commas"
                ) from None
        return ",".join(entries)

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_origin(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or any(c.isspace() or not c.isprintable() for c in value)
        ):
            raise ValueError(
                "TOKENWARD_PUBLIC_URL must be an http:// or https:// URL with a host and no "
                "query, such as https://tokens.example.com"
            )
        return value.rstrip("/")

    @field_validator("admin_token")
    @classmethod
    def _admin_token_long_enough(cls, value: str | None) -> str | None:
        shortest = secret_format.MIN_OPERATOR_SECRET
        if value is not None and len(value) < shortest:
            raise ValueError(f"TOKENWARD_ADMIN_TOKEN must be at least {shortest} characters long")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        # RFC 8414 section 2: an https URL with no query or fragment (http for local use).
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or (parts.fragment or any(c.isspace() or not c.isprintable() for c in value))
        ):
            raise ValueError(
                "TOKENWARD_ISSUER must be an http:// or https:// URL with a host and no query"
            )
        return value.rstrip("/")

    @property
    def resolved_issuer(self) -> str:
        return self.issuer or self.public_url or f"http://{self.host}:{self.port}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        if path is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, _StrictToml(settings_cls, toml_file=path))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir.resolve())


CONFIG_ENV = "TOKENWARD_CONFIG"
DEFAULT_CONFIG = Path("tokenward.toml")


def config_file() -> Path | None:
    """The configuration file in force, if any."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ValueError(f"{CONFIG_ENV} names {path}, which is not a file")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


class _StrictToml(TomlConfigSettingsSource):
    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        unknown = sorted(set(values) - set(self.settings_cls.model_fields))
        if unknown:
            raise ValueError(f"unknown key(s) in the configuration file: {', '.join(unknown)}")
        return values
