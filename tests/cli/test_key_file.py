"""The key-encryption key at start: never silently replaced while sealed secrets need it."""

from __future__ import annotations

import os
import subprocess

import pytest
from typer.testing import CliRunner

from tests.helpers import ROOT_TOKEN, TOKENWARD, free_port
from tokenward.app import build_core, open_engine
from tokenward.cli import app
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.keys import KEY_FILE_NAME
from tokenward.service import tokens
from tokenward.settings import Settings

ROOT = Actor.root(client="test")


def _store_a_sealed_secret(settings: Settings) -> None:
    engine = open_engine(settings)
    core = build_core(settings, engine)  # makes the key file: nothing is sealed yet
    try:
        spec = TokenSpec(name="kept", recoverable=True)
        tokens.issue(core, ROOT, tenant="default", spec=spec)
    finally:
        engine.dispose()


def _serve(settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
    """``tokenward serve``, which must refuse to start: a start would time out here."""
    environment = {
        **os.environ,
        "TOKENWARD_DATA_DIR": str(settings.data_dir),
        "TOKENWARD_DATABASE_URL": settings.resolved_database_url,
        "TOKENWARD_ADMIN_TOKEN": ROOT_TOKEN,
        **env,
    }
    if "TOKENWARD_SECRET_KEY" not in env:
        environment.pop("TOKENWARD_SECRET_KEY", None)
    return subprocess.run(
        [str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in result.stderr


def test_a_missing_or_wrong_key_stops_the_start_when_secrets_are_sealed(
    settings: Settings,
) -> None:
    _store_a_sealed_secret(settings)
    key = settings.data_dir / KEY_FILE_NAME
    original = key.read_bytes()
    key.unlink()
    _refused(_serve(settings), str(key.resolve()), "missing", "TOKENWARD_SECRET_KEY")
    assert not key.exists()  # no new key was made in its place

    _refused(
        _serve(settings, TOKENWARD_SECRET_KEY="w" * 40), "TOKENWARD_SECRET_KEY", "does not open"
    )
    key.write_bytes(b"x" * 44 + b"\n")
    key.chmod(0o600)
    _refused(_serve(settings), str(key.resolve()), "does not open")
    key.write_bytes(original)


@pytest.mark.parametrize("damage", ["empty", "short", "directory"])
def test_a_damaged_key_file_stops_the_start_with_a_message(settings: Settings, damage: str) -> None:
    key = settings.data_dir / KEY_FILE_NAME
    settings.data_dir.mkdir(parents=True)
    if damage == "directory":
        key.mkdir()
    else:
        key.write_text("" if damage == "empty" else "abc\n")
    _refused(_serve(settings), str(key), "directory" if damage == "directory" else "short")


def test_doctor_checks_the_key_against_the_sealed_secrets(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_a_sealed_secret(settings)
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TOKENWARD_ADMIN_TOKEN", ROOT_TOKEN)
    monkeypatch.delenv("TOKENWARD_SECRET_KEY", raising=False)
    good = CliRunner().invoke(app, ["doctor"])
    assert good.exit_code == 0, good.output
    assert "opens the sealed secrets" in good.output

    key = settings.data_dir / KEY_FILE_NAME
    key.write_text("y" * 44 + "\n")
    wrong = CliRunner().invoke(app, ["doctor"])
    assert wrong.exit_code == 1
    assert f"the key file {key.resolve()} does not open the secrets sealed" in wrong.output

    key.unlink()
    missing = CliRunner().invoke(app, ["doctor"])
    assert missing.exit_code == 1
    assert "neither TOKENWARD_SECRET_KEY nor the key file" in missing.output
    assert not key.exists()
