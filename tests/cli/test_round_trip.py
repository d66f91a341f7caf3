"""Export and import keep everything (issue 16): tenants, token ids, recoverability, on
SQLite and PostgreSQL, between two stores that start empty."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.cli.support import Cli, errors_of
from tests.helpers import PG_ADMIN_URL
from tokenward.settings import Settings

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_store(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL where nothing is yet: a SQLite file not created, a PostgreSQL database with no
    table. Import may create (and migrate) it."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'target' / 'tokenward.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tokenward_target_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tokens(cli: Cli, url: str, tenant: str) -> list[dict[str, Any]]:
    listed = cli.json("--database-url", url, "token", "list", "-t", tenant, "--limit", "100")
    return [{k: v for k, v in t.items() if k != "last_used_at"} for t in listed["items"]]


def test_a_round_trip_keeps_tenants_ids_and_recoverability(
    cli: Cli, settings: Settings, empty_store: str, tmp_path: Path
) -> None:
    source = settings.resolved_database_url
    for tenant in ("acme", "globex", "empty-one"):
        cli.ok("tenant", "create", tenant)
    secrets = {}
    for n in range(5):
        created = cli.create("-t", "acme", "--recoverable", "--scope", f"s{n}", name=f"a{n}")
        secrets[created["id"]] = created["secret"]
    gone = sorted(secrets)[1]
    cli.ok("token", "delete", str(gone), "-t", "acme", "--yes")  # ids with a gap
    del secrets[gone]
    plain = cli.create("-t", "globex", "--audience", "billing", name="plain")
    exported = tmp_path / "all.jsonl"
    cli.ok("export", "--include-sealed", "-o", str(exported))

    result = cli.ok(
        "--database-url", empty_store, "import", str(exported), "--progress-seconds", "0"
    )
    if empty_store.startswith("sqlite"):
        assert "creating a new store at" in result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("import: ")]
    assert len(progress) == 5 and progress[-1].startswith("import: 5 of 5 token(s) done")
    assert "imported 5 token(s); 0 already stored; 0 given new ids; created 3 tenant(s)" in (
        result.stderr
    )

    names = cli.json("--database-url", empty_store, "tenant", "list")["items"]
    assert [t["name"] for t in names] == ["acme", "default", "empty-one", "globex"]
    for tenant in ("acme", "globex"):
        assert _tokens(cli, empty_store, tenant) == _tokens(cli, source, tenant)
    for token_id, secret in secrets.items():
        shown = cli.ok(
            "--database-url", empty_store, "token", "reveal", str(token_id), "-t", "acme"
        )
        assert shown.stdout.strip() == secret
    assert cli.ok("--database-url", empty_store, "verify", plain["secret"]).stdout == "VALID\n"

    # New tokens there follow the imported ids (PostgreSQL's sequence moved past them).
    later = cli.json(
        "--database-url", empty_store, "token", "create", "-t", "globex", "--name", "n"
    )
    assert later["id"] > max(secrets) and later["id"] > plain["id"]

    # The same file again adds nothing.
    again = cli.json("--database-url", empty_store, "import", str(exported))
    assert again == {"imported": 0, "already_stored": 5, "tenants_created": [], "new_ids": []}


def test_ids_taken_refuse_or_renumber_with_a_report(
    cli: Cli, settings: Settings, empty_store: str, tmp_path: Path
) -> None:
    first = cli.create(name="first")
    exported = tmp_path / "one.jsonl"
    cli.ok("export", "-o", str(exported))
    # The target holds another token under the same id.
    cli.ok("--database-url", empty_store, "migrate")
    other = cli.json("--database-url", empty_store, "token", "create", "--name", "other")
    assert other["id"] == first["id"]

    refused = cli.fails(1, "--database-url", empty_store, "import", str(exported))
    (error,) = errors_of(refused)
    assert f"1 token id(s) of the file are taken in this store by other tokens ({first['id']})" in (
        error
    )
    assert "--new-ids" in error
    assert len(_tokens(cli, empty_store, "default")) == 1  # nothing was imported

    moved = cli.json("--database-url", empty_store, "import", str(exported), "--new-ids")
    (change,) = moved["new_ids"]
    assert change["old_id"] == first["id"] and change["new_id"] != first["id"]
    assert cli.ok("--database-url", empty_store, "verify", first["secret"]).stdout == "VALID\n"


def test_a_sealed_copy_left_behind_is_said_so_and_stays_marked(
    cli: Cli, empty_store: str, tmp_path: Path
) -> None:
    token = cli.create("--recoverable", name="sealed")
    plain = cli.create(name="never recoverable")
    without = tmp_path / "without.jsonl"
    cli.ok("export", "-o", str(without))
    cli.ok("--database-url", empty_store, "import", str(without))

    refused = cli.fails(1, "--database-url", empty_store, "token", "reveal", str(token["id"]))
    assert "its sealed copy was not imported" in errors_of(refused)[0]
    assert (
        "was not created recoverable"
        in errors_of(
            cli.fails(1, "--database-url", empty_store, "token", "reveal", str(plain["id"]))
        )[0]
    )
    shown = cli.json("--database-url", empty_store, "token", "show", str(token["id"]))
    assert shown["recoverable"] is True

    # The marker survives another round trip, even with --include-sealed.
    again = tmp_path / "again.jsonl"
    cli.ok("--database-url", empty_store, "export", "--include-sealed", "-o", str(again))
    third = f"sqlite:///{tmp_path / 'third' / 'tokenward.db'}"
    cli.ok("--database-url", third, "import", str(again))
    refused = cli.fails(1, "--database-url", third, "token", "reveal", str(token["id"]))
    assert "its sealed copy was not imported" in errors_of(refused)[0]
    lines = [json.loads(line) for line in again.read_text().splitlines()]
    assert any(line.get("recoverable") for line in lines)
