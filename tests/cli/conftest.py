"""The CLI in operator mode on the real databases of tests/conftest.py, and in remote mode
against a real server (``served``, one per module that uses it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.support import REMOTE_ROOT, ModeCli, Served
from tests.e2e.server import Server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("remote") / "data"
    database_url = f"sqlite:///{data_dir}/tokenward.db"
    server = Server(
        data_dir, {"TOKENWARD_ADMIN_TOKEN": REMOTE_ROOT, "TOKENWARD_DATABASE_URL": database_url}
    )
    yield Served(server, data_dir, database_url)
    server.stop()


@pytest.fixture
def untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory and database the environment names, which remote mode must not touch."""
    for name in list(os.environ):
        if name.startswith("TOKENWARD_") and name != "TOKENWARD_TEST_PG_URL":
            monkeypatch.delenv(name)
    nowhere = tmp_path / "not-to-be-created"
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(nowhere))
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", f"sqlite:///{nowhere}/tokenward.db")
    monkeypatch.setenv("COLUMNS", "200")
    return nowhere


@pytest.fixture
def remote(served: Served, untouched: Path) -> Iterator[ModeCli]:
    yield ModeCli(CliRunner(), prefix=("--url", served.server.url, "--token", REMOTE_ROOT))
    assert not untouched.exists()


@pytest.fixture
def local(served: Served, untouched: Path) -> ModeCli:
    """Operator mode on the server's database and key file."""
    return ModeCli(
        CliRunner(),
        prefix=("--database-url", served.database_url, "--data-dir", str(served.data_dir)),
    )


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"
