"""tokenward doctor: says what is fine and what to fix, and exits 1 when something is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenward.cli import app
from tokenward.settings import Settings


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["doctor", *args])
    return result.exit_code, result.output


def test_healthy_installation(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TOKENWARD_ADMIN_TOKEN", settings.admin_token or "")
    code, output = run()
    assert code == 0, output
    assert "database schema is up to date" in output
    assert "root credential from TOKENWARD_ADMIN_TOKEN" in output


def test_problems_are_named_with_their_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKENWARD_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("TOKENWARD_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    key = data / "secret.key"
    key.write_text("k" * 44 + "\n")
    key.chmod(0o644)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(data))
    code, output = run()
    assert code == 1
    assert f"chmod 600 {key}" in output
    # No store there yet: doctor says so and creates nothing.
    assert f"no store at {data / 'tokenward.db'}" in output and "tokenward migrate" in output
    assert not (data / "tokenward.db").exists()

    code, output = run("--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert code == 1 and "is not reachable" in output
