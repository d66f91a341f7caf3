"""``tokenward backup`` of a SQLite store while a real server writes to it, and
``tokenward restore``, which checks a copy before it replaces anything."""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.ops._servers import Load, Server, create, environment, reveal, run, valid


# Issue 21's soak of the operator tool: make test-long. The rule (a backup restores to a
# working store, never over one) keeps its test here without load: the next test.
@pytest.mark.long
def test_backup_under_load_restores_every_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = environment(data)
    server = Server(env, tmp_path / "serve.log")
    made: dict[int, str] = {}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for n in range(20):
                token_id, secret = create(http, f"before-{n}")
                made[token_id] = secret
        load = Load(server.url, made, prefix="during")
        load.start()
        time.sleep(0.5)
        started = time.monotonic()
        acknowledged = dict(made)
        copy = tmp_path / "backups" / "tokenward.db"
        copy.parent.mkdir()
        done = run("backup", str(copy), "--with-key", "--json", env=env)
        load.stop()
        assert load.failures == []
    finally:
        server.stop()
    before = {
        token_id: secret
        for token_id, secret in made.items()
        if token_id in acknowledged or load.acknowledged_at.get(token_id, 1e18) < started
    }
    assert len(before) >= 20
    assert json.loads(done.stdout)["keys"] == ["secret.key"]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert (
        stat.S_IMODE((tmp_path / "backups" / "tokenward.db.keys" / "secret.key").stat().st_mode)
        == 0o600
    )
    assert not Path(f"{copy}-wal").exists()

    # Elsewhere, with nothing: the copy's secrets need its key, and restore says so.
    fresh = tmp_path / "fresh"
    fresh_env = environment(fresh)
    refused = run("restore", str(copy), "--yes", env=fresh_env, check=False)
    assert refused.returncode == 1
    assert "nothing replaced" in refused.stderr
    assert not (fresh / "tokenward.db").exists()

    run("restore", str(copy), "--with-key", "--yes", env=fresh_env)
    restored = Server(fresh_env, tmp_path / "restored.log")
    try:
        with httpx.Client(base_url=restored.url, timeout=30) as http:
            for token_id, secret in before.items():
                assert valid(http, secret), token_id
                assert reveal(http, token_id).json()["secret"] == secret
    finally:
        restored.stop()


def test_restore_refuses_a_damaged_or_newer_copy_and_leaves_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = environment(data)
    run("migrate", env=env)
    store = data / "tokenward.db"
    original = store.read_bytes()
    copy = tmp_path / "copy.db"
    run("backup", str(copy), env=env)
    assert run("backup", str(copy), env=env, check=False).returncode == 1  # never overwrites

    newer = tmp_path / "newer.db"
    newer.write_bytes(copy.read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    refused = run("restore", str(newer), "--yes", env=env, check=False)
    assert refused.returncode == 1
    assert "schema revision 9999 is newer than, or unknown to" in refused.stderr

    damaged = tmp_path / "damaged.db"
    body = bytearray(copy.read_bytes())
    body[4096 : 4096 + 512] = b"\xff" * 512  # a page of the copy overwritten
    damaged.write_bytes(bytes(body))
    broken = run("restore", str(damaged), "--yes", env=env, check=False)
    assert broken.returncode == 1
    assert "not restorable, nothing replaced" in broken.stderr

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    assert run("restore", str(garbage), "--yes", env=env, check=False).returncode == 1
    assert store.read_bytes() == original

    run("restore", str(copy), "--yes", env=env)
    assert run("doctor", env=env, check=False).returncode == 0


def test_backup_of_postgresql_points_to_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    env = environment(tmp_path / "data", TOKENWARD_DATABASE_URL=postgres_url)
    for command in ("backup", "restore"):
        refused = run(command, str(tmp_path / "copy.db"), env=env, check=False)
        assert refused.returncode == 2
        assert "pg_dump" in refused.stderr
    assert not (tmp_path / "copy.db").exists()
