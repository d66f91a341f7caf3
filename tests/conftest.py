"""Fixtures shared by every suite: real SQLite files and a real PostgreSQL database.

A test that takes ``database_url`` (directly or through ``core`` / ``client``) is collected
once per backend. Which of them run (docs/contributing/testing.md):

- SQLite always;
- PostgreSQL for the store's own tests (``tests/integration``), the crash and concurrency
  suites (``tests/reliability``), and tests marked ``@pytest.mark.postgres`` (a subset of the
  face tests that covers each face once);
- PostgreSQL for every test when ``TOKENWARD_TEST_ALL_BACKENDS=1`` (``make test-long``).

A test marked ``@pytest.mark.long`` runs only when ``TOKENWARD_TEST_LONG=1`` (``make
test-long``): a repetition of a rule that another test pins in ``make test`` (a larger bound,
the same guarantee under load), or an operator tool's soak test.

The other PostgreSQL variants are deselected, not skipped. A test that names its backend
itself (``@pytest.mark.parametrize("backend", [...])``) runs on what it names. The PostgreSQL
database is created for this run and dropped at its end; if no server answers, the run fails
and says how to start one.
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
from typer.testing import CliRunner

from tests.cli.support import Cli
from tests.helpers import PG_ADMIN_URL, ROOT_TOKEN, empty_postgres
from tokenward.app import build_core, build_verifier, create_app, open_engine
from tokenward.service.core import Core
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.engine import make_engine
from tokenward.verification import Engine

PG_START_HINT = (
    "PostgreSQL is not reachable at {url}. Start it with\n"
    "    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
    "or point TOKENWARD_TEST_PG_URL at a server where the user may create databases."
)

#: A ``tokenward serve`` that a test stops drains for ``drain_seconds`` first (5 s by default)
#: so that a load balancer sees /readyz fail; no test but the drain's needs that, and with a
#: few hundred servers started and stopped in a run it was minutes of sleeping. Every server
#: a test spawns inherits this environment; a test of the drain itself sets its own value
#: (tests/reliability/test_drain.py, tests/topology).
TEST_SERVER_ENVIRONMENT = {"TOKENWARD_DRAIN_SECONDS": "0"}
for _name, _value in TEST_SERVER_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

#: Directories whose tests run on PostgreSQL too in a plain run: the store's own tests and
#: the crash and concurrency suites, which exist to exercise the backends.
_POSTGRES_DIRS = ("integration", "reliability")


def all_backends() -> bool:
    return os.environ.get("TOKENWARD_TEST_ALL_BACKENDS", "") == "1"


def long_run() -> bool:
    return os.environ.get("TOKENWARD_TEST_LONG", "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        runs = (all_backends() or _runs_on_its_backend(item, tests)) and (
            long_run() or item.get_closest_marker("long") is None
        )
        (kept if runs else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _runs_on_its_backend(item: pytest.Item, tests: Path) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is None or callspec.params.get("backend") != "postgresql":
        return True
    if any("backend" in _argnames(mark) for mark in item.iter_markers("parametrize")):
        return True  # the test chose its backend itself
    if item.get_closest_marker("postgres") is not None:
        return True
    return item.path.relative_to(tests).parts[0] in _POSTGRES_DIRS


def _argnames(mark: pytest.Mark) -> list[str]:
    names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
    if isinstance(names, str):
        return [name.strip() for name in names.split(",")]
    return list(names)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """This test process's PostgreSQL database, migrated: made once, shared by its tests."""
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


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The shared PostgreSQL database, emptied for this test (but for the ``default``
    tenant): what an earlier test left, sealed with its own key, must not stop a server
    that this one starts on it."""
    return empty_postgres(postgres_database)


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


#: What the ``cli`` fixture leaves of the environment: the test database server, and the
#: test servers' settings above (a server a CLI test starts stops at once too).
_KEPT_FOR_THE_CLI = {"TOKENWARD_TEST_PG_URL", *TEST_SERVER_ENVIRONMENT}


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI in operator mode on this test's database (tests/cli, tests/controls)."""
    for name in list(os.environ):
        if name.startswith("TOKENWARD_") and name not in _KEPT_FOR_THE_CLI:
            monkeypatch.delenv(name)
    assert settings.database_url is not None
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables wide enough to keep rows whole
    return Cli(CliRunner())
