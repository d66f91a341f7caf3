"""``/readyz`` answers 503 with a reason when the database would refuse writes."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.helpers import ROOT_TOKEN
from tokenward.app import create_app
from tokenward.service import health
from tokenward.service.core import Core
from tokenward.settings import Settings
from tokenward.store.engine import make_engine


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of its own: a disk that can be filled and made read-only for real
    (the tests run as root, whom file modes do not stop)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(path: Path) -> None:
    with path.open("wb") as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()


def test_sqlite_read_only_or_full_is_not_ready(small_disk: Path, sqlite_template: Path) -> None:
    data_dir = small_disk / "data"
    data_dir.mkdir()
    shutil.copyfile(sqlite_template, data_dir / "tokenward.db")
    settings = Settings(data_dir=data_dir, admin_token=ROOT_TOKEN, last_use_flush_seconds=3600)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200

        _fill(small_disk / "filler")
        full = client.get("/readyz")
        assert full.status_code == 503
        assert full.json()["error"]["code"] == "NOT_READY"
        assert "disk is full" in full.json()["error"]["message"]
        (small_disk / "filler").unlink()
        assert client.get("/readyz").status_code == 200

        # The directory made read-only as a mount of its own (the tmpfs itself cannot be
        # remounted read-only while SQLite holds files open for writing).
        subprocess.run(["mount", "--bind", str(data_dir), str(data_dir)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(data_dir)], check=True)
            read_only = client.get("/readyz")
            assert read_only.status_code == 503
            assert read_only.json()["error"]["message"] == "the database is read-only"
        finally:
            subprocess.run(["umount", str(data_dir)], check=True)
        assert client.get("/readyz").status_code == 200


def test_postgresql_read_only_is_not_ready(postgres_url: str, core_on_postgres: Core) -> None:
    name = make_url(postgres_url).database
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    assert health.not_ready(core_on_postgres) is None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        core_on_postgres.uow.engine.dispose()  # type: ignore[attr-defined]  # new sessions
        reason = health.not_ready(core_on_postgres)
        assert reason is not None and "read-only" in reason
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        admin.dispose()
        core_on_postgres.uow.engine.dispose()  # type: ignore[attr-defined]
    assert health.not_ready(core_on_postgres) is None


@pytest.fixture
def core_on_postgres(postgres_url: str, tmp_path: Path) -> Iterator[Core]:
    from tokenward.app import build_core, build_verifier, open_engine

    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    engine = open_engine(settings)
    verifier = build_verifier(settings, engine)
    try:
        yield build_core(settings, engine, verifier)
    finally:
        verifier.close()
        engine.dispose()
