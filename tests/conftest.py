"""Fixtures shared by every suite: real SQLite files and a real PostgreSQL database.

Every test that takes ``database_url`` (directly or through ``core`` / ``client``) runs twice,
once per backend. The PostgreSQL database is created for this run and dropped at its end; if
no server answers, the run fails and says how to start one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine as DatabaseEngine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.helpers import ROOT_TOKEN
from tokenward.app import build_core, build_verifier, create_app, open_engine
from tokenward.service.core import Core
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.engine import make_engine
from tokenward.verification import Engine

PG_ADMIN_URL = os.environ.get(
    "TOKENWARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_START_HINT = (
    "PostgreSQL is not reachable at {url}. Start it with\n"
    "    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
    "or point TOKENWARD_TEST_PG_URL at a server where the user may create databases."
)

_TABLES = "tokens, token_secrets, tenants, audit, root_credential, token_changes"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tokenward_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        pytest.fail(PG_START_HINT.format(url=PG_ADMIN_URL), pytrace=False)
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "tokenward.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database (but for the ``default`` tenant) for one test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tokenward.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO tenants (name, created_at) VALUES ('default', 0)"))
    engine.dispose()
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        admin_token=ROOT_TOKEN,
        last_use_flush_seconds=3600,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[DatabaseEngine]:
    engine = open_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def verifier(settings: Settings, database: DatabaseEngine) -> Iterator[Engine]:
    """The verification engine that ``core`` tells of its changes."""
    made = build_verifier(settings, database)
    try:
        yield made
    finally:
        database.dispose()  # before the verifier releases the WAL index: see its close
        made.close()


@pytest.fixture
def core(settings: Settings, database: DatabaseEngine, verifier: Engine) -> Core:
    return build_core(settings, database, verifier)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
