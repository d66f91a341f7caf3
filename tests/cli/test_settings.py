"""Settings, connection options, migrations and help: the command around the use cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.support import Cli, errors_of
from tokenward.cli import app
from tokenward.cli._common import EXIT_CODE_OF, exit_code_of
from tokenward.domain.errors import (
    ERROR_CLASSES,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from tokenward.settings import Settings


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TOKENWARD_PORT", "eighty", "error: invalid setting TOKENWARD_PORT: "),
        ("TOKENWARD_ADMIN_TOKEN", "short", "error: TOKENWARD_ADMIN_TOKEN must be at least 32"),
        ("TOKENWARD_SECRET_KEY", "short", "error: TOKENWARD_SECRET_KEY must be at least 32"),
        ("TOKENWARD_DATABASE_URL", "not a url", "error: invalid database URL"),
    ],
)
def test_bad_settings_exit_2_with_a_message(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = cli.fails(2, "tenant", "list")
    assert len(errors_of(result)) == 1 and errors_of(result)[0].startswith(message)
    assert result.stdout == ""


def test_unreachable_database_exits_3(cli: Cli) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    result = cli.fails(3, "tenant", "list", "--database-url", url)
    assert errors_of(result)[0].startswith("error: the database is not reachable")


def test_options_override_the_environment(
    cli: Cli, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.database_url is not None
    cli.create(name="here")
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", "not a url")
    global_option = cli.json("--database-url", settings.database_url, "token", "list")
    assert [t["name"] for t in global_option["items"]] == ["here"]
    command_option = cli.json("token", "list", "--database-url", settings.database_url)
    assert [t["name"] for t in command_option["items"]] == ["here"]
    # The command's own option wins over the global one.
    both = cli.json(
        "--database-url", "not a url", "token", "list", "--database-url", settings.database_url
    )
    assert both["total"] == 1


def test_only_migrate_serve_and_import_create_a_store(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOKENWARD_DATABASE_URL")
    typo = tmp_path / "fersh"
    for command in (("tenant", "list"), ("token", "list"), ("export",), ("audit",)):
        result = cli.fails(2, "--data-dir", str(typo), *command)
        assert errors_of(result)[0].startswith(f"error: no store at {typo / 'tokenward.db'}: ")
        assert not typo.exists()

    fresh = tmp_path / "fresh"
    created = cli.ok("migrate", "--data-dir", str(fresh))
    assert f"creating a new store at {fresh / 'tokenward.db'}" in created.stderr
    listed = cli.json("--data-dir", str(fresh), "tenant", "list")
    assert [t["name"] for t in listed["items"]] == ["default"]
    assert cli.ok("migrate", "--data-dir", str(fresh)).stdout == "database is up to date\n"


@pytest.mark.parametrize(
    "url", ["mysql://tokenward@127.0.0.1/tokenward", "oracle://scott@db/orcl", "mongodb://x/y"]
)
@pytest.mark.parametrize("command", [("tenant", "list"), ("migrate",), ("serve",)])
def test_an_unsupported_database_is_a_message_and_exit_2(
    cli: Cli, url: str, command: tuple[str, ...]
) -> None:
    result = cli.fails(2, "--database-url", url, *command)
    (error,) = errors_of(result)
    assert error.startswith("error: unsupported database ")
    assert "sqlite:///PATH" in error and "postgresql://" in error


def test_migrate(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.ok("migrate").stdout == "database is up to date\n"
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(tmp_path / "new"))
    monkeypatch.delenv("TOKENWARD_DATABASE_URL")
    applied = cli.ok("migrate").stdout
    assert applied.startswith("applied ") and applied.endswith(" migration(s)\n")
    assert cli.ok("migrate").stdout == "database is up to date\n"


def test_help_lists_every_command() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command in ("serve", "migrate", "tenant", "token", "verify", "admin-token"):
        assert command in top.stdout
    assert "--install-completion" in top.stdout
    token = runner.invoke(app, ["token", "--help"])
    for command in ("create", "list", "show", "enable", "disable", "rename", "rotate"):
        assert command in token.stdout
    assert "delete" in token.stdout and "reveal" in token.stdout
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    for option in ("--host", "--port", "--database-url", "--data-dir", "--workers"):
        assert option in serve.stdout


def test_every_domain_error_has_an_exit_code() -> None:
    assert set(EXIT_CODE_OF) == set(ERROR_CLASSES)
    assert exit_code_of(Invalid("x")) == 2
    assert exit_code_of(NotFound("x")) == exit_code_of(Forbidden("x")) == 1
    assert exit_code_of(Conflict("x")) == exit_code_of(Unauthenticated("x")) == 1
    assert exit_code_of(Unavailable("x")) == 3
