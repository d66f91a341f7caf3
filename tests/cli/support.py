"""What the CLI tests share: the runner's wrapper, the remote-mode server's shape and its
root credential. Fixtures live in conftest.py; test modules import from here, never from
another test module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from tests.e2e.server import Server
from tokenward.cli import app

#: The root credential of the remote-mode server (``served``).
REMOTE_ROOT = "cli-remote-tests-root-credential-0123456789"


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


@dataclass
class ModeCli(Cli):
    """``tokenward PREFIX ARGS``: the prefix chooses the mode (``--url ...`` or the database)."""

    prefix: tuple[str, ...] = ()

    def run(self, *args: str, input: str | None = None) -> Result:
        return super().run(*self.prefix, *args, input=input)


@dataclass(frozen=True)
class Served:
    server: Server
    data_dir: Path
    database_url: str
