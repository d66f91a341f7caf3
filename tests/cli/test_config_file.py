"""The TOML configuration file: flags win over variables, variables over the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenward.cli import app
from tokenward.settings import Settings


def test_file_then_environment_then_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TOKENWARD_PORT", "TOKENWARD_WORKERS", "TOKENWARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().port == 8080
    (tmp_path / "tokenward.toml").write_text('port = 9000\nworkers = 3\nlog_format = "json"\n')
    assert (Settings().port, Settings().workers, Settings().log_format) == (9000, 3, "json")
    monkeypatch.setenv("TOKENWARD_PORT", "9100")
    assert Settings().port == 9100 and Settings().workers == 3
    assert Settings(port=9200).port == 9200


def test_explicit_file_and_its_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "conf" / "tw.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f'data_dir = "{tmp_path / "d"}"\n')
    monkeypatch.setenv("TOKENWARD_CONFIG", str(elsewhere))
    assert Settings().data_dir == tmp_path / "d"

    elsewhere.write_text("prot = 1\n")
    runner = CliRunner()
    result = runner.invoke(app, ["tenant", "list"])
    assert result.exit_code == 2
    assert "unknown key(s) in the configuration file: prot" in result.output

    monkeypatch.setenv("TOKENWARD_CONFIG", str(tmp_path / "missing.toml"))
    result = runner.invoke(app, ["tenant", "list"])
    assert result.exit_code == 2 and "not a file" in result.output
