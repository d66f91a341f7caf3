"""The PostgreSQL backup of docs/operations.md: ``pg_dump`` taken while a real server writes,
``pg_restore`` into a new database, and a server on it that knows every write acknowledged
before the dump started."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from tests.helpers import PG_ADMIN_URL
from tests.ops._servers import Load, Server, create, environment, reveal, run, valid


@pytest.fixture
def databases() -> Iterator[tuple[URL, URL]]:
    """A database to serve from and an empty one to restore into, dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [f"tokenward_ops_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(PG_ADMIN_URL)
    try:
        yield base.set(database=names[0]), base.set(database=names[1])
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _libpq(url: URL) -> list[str]:
    """The connection options of the PostgreSQL client programs for ``url``."""
    return [
        *("--host", url.host or "127.0.0.1"),
        *("--port", str(url.port or 5432)),
        *("--username", url.username or "postgres"),
        *("--dbname", url.database or ""),
    ]


def _sqlalchemy(url: URL) -> str:
    return url.render_as_string(hide_password=False)


# Issue 21's soak of the operator tool against a serving process: make test-long.
@pytest.mark.long
def test_pg_dump_under_load_restores_every_acknowledged_write(
    tmp_path: Path, databases: tuple[URL, URL]
) -> None:
    source, target = databases
    data = tmp_path / "data"
    env = environment(data, TOKENWARD_DATABASE_URL=_sqlalchemy(source))
    server = Server(env, tmp_path / "serve.log", workers=2)
    made: dict[int, str] = {}
    dump = tmp_path / "tokenward.dump"
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for n in range(20):
                token_id, secret = create(http, f"before-{n}")
                made[token_id] = secret
        load = Load(server.url, made, prefix="during")
        load.start()
        time.sleep(0.5)
        started = time.monotonic()
        subprocess.run(
            ["pg_dump", "--format=custom", f"--file={dump}", *_libpq(source)],
            check=True,
            timeout=120,
        )
        time.sleep(0.3)  # writes after the dump began too: the dump is a snapshot
        load.stop()
        assert load.failures == []
    finally:
        server.stop()
    acknowledged = {
        token_id: secret
        for token_id, secret in made.items()
        if load.acknowledged_at.get(token_id, 0.0) < started
    }
    assert 20 <= len(acknowledged) < len(made)  # writes after the dump began are left out

    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", *_libpq(target), str(dump)],
        check=True,
        timeout=120,
    )
    # The key travels separately from the dump (docs/operations.md): here, its file.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    shutil.copy2(data / "secret.key", elsewhere / "secret.key")
    restored_env = environment(elsewhere, TOKENWARD_DATABASE_URL=_sqlalchemy(target))
    assert run("doctor", env=restored_env, check=False).returncode == 0
    restored = Server(restored_env, tmp_path / "restored.log")
    try:
        with httpx.Client(base_url=restored.url, timeout=30) as http:
            for token_id, secret in acknowledged.items():
                assert valid(http, secret), token_id
                assert reveal(http, token_id).json()["secret"] == secret
            token_id, secret = create(http, "after the restore")
            assert valid(http, secret)
    finally:
        restored.stop()
