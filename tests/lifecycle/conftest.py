"""Lifecycle tests: the shared databases, with the lifecycle tables emptied too, and
settings that let webhooks reach receivers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.helpers import ROOT_TOKEN
from tests.lifecycle.receiver import Receiver
from tokenward.app import create_app
from tokenward.settings import Settings
from tokenward.store.engine import make_engine

LIFECYCLE_TABLES = (
    "webhook_attempts, webhook_deliveries, outbox_events, webhooks, tenant_policies, token_notices"
)


@pytest.fixture
def database_url(database_url: str) -> str:
    if database_url.startswith("postgresql"):
        engine = make_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {LIFECYCLE_TABLES} RESTART IDENTITY CASCADE"))
        engine.dispose()
    return database_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        admin_token=ROOT_TOKEN,
        last_use_flush_seconds=3600,
        webhook_allow_private=True,
        scheduler_interval_seconds=1,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()
