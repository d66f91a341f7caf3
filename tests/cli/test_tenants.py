from __future__ import annotations

from tests.cli.support import Cli, errors_of


def names(cli: Cli) -> list[str]:
    return [t["name"] for t in cli.json("tenant", "list")["items"]]


def test_create_list_delete(cli: Cli) -> None:
    created = cli.json("tenant", "create", "acme")
    assert created["name"] == "acme"
    assert created["created_at"].endswith("Z")
    assert cli.ok("tenant", "create", "beta").stdout.strip() == "created tenant beta"
    assert sorted(names(cli)) == ["acme", "beta", "default"]

    table = cli.ok("tenant", "list").stdout
    assert "acme" in table and "beta" in table and "default" in table

    cli.create("--tenant", "acme")
    assert cli.json("tenant", "delete", "acme", "--yes") == {"name": "acme", "deleted": True}
    assert cli.ok("tenant", "delete", "beta", "-y").stdout.strip() == "deleted tenant beta"
    assert names(cli) == ["default"]
    # Its tokens went with it.
    gone = cli.fails(1, "token", "list", "--tenant", "acme")
    assert errors_of(gone) == ["error: tenant 'acme' not found"]


def test_delete_asks_first(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")
    declined = cli.fails(1, "tenant", "delete", "acme", input="n\n")
    assert "Delete tenant 'acme'" in declined.stderr
    assert "acme" in names(cli)
    cli.ok("tenant", "delete", "acme", input="y\n")
    assert "acme" not in names(cli)


def test_bad_name_duplicate_and_unknown(cli: Cli) -> None:
    bad = cli.fails(2, "tenant", "create", "no spaces here")
    assert errors_of(bad)[0].startswith("error: a tenant name is 1 to 128 characters")
    assert bad.stdout == ""

    cli.ok("tenant", "create", "acme")
    assert errors_of(cli.fails(1, "tenant", "create", "acme")) == [
        "error: the tenant already exists"
    ]
    assert errors_of(cli.fails(1, "tenant", "delete", "nowhere", "--yes")) == [
        "error: tenant not found"
    ]
    # Without --yes the question is not even asked about a tenant that does not exist.
    missing = cli.fails(1, "tenant", "delete", "nowhere")
    assert "Delete tenant" not in missing.stderr


def test_root_cannot_delete_the_default_tenant(cli: Cli) -> None:
    refused = cli.fails(1, "tenant", "delete", "default", "--yes")
    assert errors_of(refused) == ["error: the default tenant cannot be deleted"]
    assert "default" in names(cli)
