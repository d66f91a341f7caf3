"""The CLI in operator mode on the real databases of tests/conftest.py (both backends)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tokenward.cli import app
from tokenward.settings import Settings


@dataclass
class Cli:
    runner: CliRunner

    def run(self, *args: str, input: str | None = None) -> Result:
        """Runs ``tokenward ARGS``; an exception other than an exit is a bug, raised here."""
        result = self.runner.invoke(app, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def fails(self, code: int, *args: str, input: str | None = None) -> Result:
        """Runs a command that must fail with ``code`` and a message, and no traceback."""
        result = self.run(*args, input=input)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert "Traceback" not in result.output
        return result

    def create(self, *options: str, name: str = "cli token") -> dict[str, Any]:
        """``token create --json``: the new token's fields and its ``secret``."""
        created: dict[str, Any] = self.json("token", "create", "--name", name, *options)
        return created


def errors_of(result: Result) -> Sequence[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in list(os.environ):
        if name.startswith("TOKENWARD_") and name != "TOKENWARD_TEST_PG_URL":
            monkeypatch.delenv(name)
    assert settings.database_url is not None
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables wide enough to keep rows whole
    return Cli(CliRunner())
