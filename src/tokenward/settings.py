"""Configuration from ``TOKENWARD_*`` environment variables; command-line flags win."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tokenward.store.engine import sqlite_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOKENWARD_", extra="ignore")

    data_dir: Path = Field(default=Path("tokenward-data"))
    #: Default: ``tokenward.db`` in the data directory.
    database_url: str | None = None
    #: The root credential; without it the first start generates one and prints it once.
    admin_token: str | None = Field(default=None, repr=False)
    #: Key-encryption key for recoverable secrets; without it a key file in the data dir.
    secret_key: str | None = Field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    #: When true, ``POST /v1/verify`` needs a management credential too.
    verify_requires_auth: bool = False
    #: When true, ``GET /metrics`` needs no credential; otherwise it needs root's.
    metrics_public: bool = False
    max_body_bytes: int = 64 * 1024
    last_use_flush_seconds: float = 1.0
    #: How often each process reads the change log to drop changed tokens from its cache.
    cache_sync_seconds: float = 0.05
    log_level: str = "info"
    #: ``json`` (one object a line), ``text``, or ``auto``: text on a terminal, else JSON.
    log_format: Literal["auto", "json", "text"] = "auto"

    @field_validator("admin_token")
    @classmethod
    def _admin_token_long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("TOKENWARD_ADMIN_TOKEN must be at least 32 characters long")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir.resolve())
