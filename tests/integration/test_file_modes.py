"""The data directory is the owner's alone: 0700, its database files and key 0600."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT_TOKEN
from tokenward.app import build_core, open_engine
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tokens
from tokenward.settings import Settings
from tokenward.store import migrate

FILES = ("tokenward.db", "tokenward.db-wal", "tokenward.db-shm", "secret.key")


def _start_and_write(data_dir: Path) -> None:
    """What a start does with the data directory, and one write (SQLite's -wal and -shm)."""
    settings = Settings(data_dir=data_dir, admin_token=ROOT_TOKEN)
    engine = open_engine(settings)
    migrate.upgrade(engine)
    core = build_core(settings, engine)
    try:
        spec = TokenSpec(name="t", recoverable=True)
        tokens.issue(core, Actor.root(client="test"), tenant="default", spec=spec)
        modes = {name: _mode(data_dir / name) for name in FILES}
    finally:
        engine.dispose()
    assert _mode(data_dir) == 0o700
    assert modes == dict.fromkeys(FILES, 0o600)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        _start_and_write(tmp_path / "data")
    finally:
        os.umask(old_umask)


def test_an_older_installations_loose_modes_are_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    _start_and_write(data_dir)
    data_dir.chmod(0o755)
    for name in ("tokenward.db", "tokenward.db-wal", "tokenward.db-shm", "secret.key"):
        if (data_dir / name).exists():
            (data_dir / name).chmod(0o644)
    with caplog.at_level(logging.WARNING):
        _start_and_write(data_dir)
    assert "tightened the permissions of" in caplog.text
    assert f"{data_dir} from 755 to 700" in caplog.text


def test_loose_modes_on_a_read_only_mount_are_reported_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    _start_and_write(data_dir)
    (data_dir / "tokenward.db").chmod(0o644)
    subprocess.run(["mount", "--bind", str(data_dir), str(data_dir)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(data_dir)], check=True)
        with caplog.at_level(logging.WARNING):
            open_engine(Settings(data_dir=data_dir, admin_token=ROOT_TOKEN)).dispose()
    finally:
        subprocess.run(["umount", str(data_dir)], check=True)
    assert "could not tighten the permissions of" in caplog.text
    assert _mode(data_dir / "tokenward.db") == 0o644
