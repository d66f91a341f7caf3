from __future__ import annotations

import json

import pytest

from tests.cli.support import Cli
from tests.helpers import ROOT_TOKEN
from tokenward.app import build_core, open_engine
from tokenward.domain.errors import Unauthenticated
from tokenward.service.auth import authenticate
from tokenward.settings import Settings


def authenticates(settings: Settings, credential: str) -> bool:
    """Through the service, with no TOKENWARD_ADMIN_TOKEN: the stored credential rules."""
    stored_only = settings.model_copy(update={"admin_token": None})
    engine = open_engine(stored_only)
    try:
        return authenticate(build_core(stored_only, engine), credential).is_root
    except Unauthenticated:
        return False
    finally:
        engine.dispose()


def test_reset_replaces_the_stored_credential(cli: Cli, settings: Settings) -> None:
    first = cli.ok("admin-token", "reset", "--yes")
    old = first.stdout.split("\n\n")[1].strip()
    assert "shown this once" in first.stdout and "Authorization: Bearer" in first.stdout
    assert "TOKENWARD_ADMIN_TOKEN" not in first.stderr
    assert authenticates(settings, old)

    new = cli.json("admin-token", "reset", "--yes")["secret"]
    assert new != old
    assert authenticates(settings, new)
    assert not authenticates(settings, old)


def test_reset_warns_when_the_environment_overrides(
    cli: Cli, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENWARD_ADMIN_TOKEN", ROOT_TOKEN)
    result = cli.ok("admin-token", "reset", "--yes", "--json")
    assert "warning: TOKENWARD_ADMIN_TOKEN is set and overrides" in result.stderr
    assert authenticates(settings, json.loads(result.stdout)["secret"])


def test_reset_asks_first(cli: Cli, settings: Settings) -> None:
    kept = cli.json("admin-token", "reset", "--yes")["secret"]
    # Not on a terminal and no --yes: refused, nothing changed.
    refused = cli.fails(2, "admin-token", "reset")
    assert "pass --yes to confirm" in refused.stderr
    assert authenticates(settings, kept)

    # On a terminal: the question, and "no" keeps the credential.
    import os
    import subprocess
    import sys
    from pathlib import Path

    main, terminal = os.openpty()
    env = {**os.environ, "TOKENWARD_DATABASE_URL": settings.resolved_database_url}
    env["TOKENWARD_DATA_DIR"] = str(settings.data_dir)
    env.pop("TOKENWARD_ADMIN_TOKEN", None)
    command = [str(Path(sys.executable).parent / "tokenward"), "admin-token", "reset"]
    process = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    shown = b""
    while b"[y/N]" not in shown:
        shown += os.read(main, 1024)
    os.write(main, b"n\n")
    assert process.wait(timeout=60) == 1
    os.close(main)
    assert b"Replace the root credential?" in shown
    assert authenticates(settings, kept)
