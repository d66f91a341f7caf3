"""Remote mode: the same commands against a real ``tokenward serve`` process.

The operator-mode twin of each run works on the server's own SQLite database, so the two
modes' ``--json`` answers can be compared on the same data: a script must not be able to tell
them apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from tests.cli.support import REMOTE_ROOT, Cli, ModeCli, Served, errors_of
from tests.e2e.server import Server
from tests.helpers import free_port


def _without(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in keys}


def test_every_command_answers_as_in_operator_mode(
    remote: ModeCli, local: ModeCli, tenant: str
) -> None:
    created_tenant = remote.json("tenant", "create", tenant)
    assert created_tenant["name"] == tenant
    assert created_tenant.keys() == local.json("tenant", "create", f"{tenant}-op").keys()
    assert remote.json("tenant", "list") == local.json("tenant", "list")
    assert tenant in remote.ok("tenant", "list").stdout

    options = ("--tenant", tenant, "--scope", "read", "--audience", "api", "--role", "editor")
    token = remote.create(*options, "--recoverable", "--owner", "bob", name="remote")
    twin = local.create(*options, "--recoverable", "--owner", "bob", name="operator")
    assert token.keys() == twin.keys()
    assert _without(token, "id", "name", "secret", "secret_hint", "created_at", "updated_at") == (
        _without(twin, "id", "name", "secret", "secret_hint", "created_at", "updated_at")
    )
    key = str(token["id"])

    listed = remote.json("token", "list", "--tenant", tenant, "--role", "editor", "--name", "rem")
    assert listed == local.json("token", "list", "--tenant", tenant, "--name", "rem")
    assert [item["id"] for item in listed["items"]] == [token["id"]]
    assert listed.keys() == {"items", "total", "page", "limit"}
    assert "remote" in remote.ok("token", "list", "--tenant", tenant).stdout
    assert remote.json("token", "show", key, "-t", tenant) == local.json(
        "token", "show", key, "-t", tenant
    )
    assert "secret_hint" in remote.ok("token", "show", key, "-t", tenant).stdout

    disabled = remote.json("token", "disable", key, "-t", tenant)
    assert disabled["active"] is False and disabled.keys() == _without(token, "secret").keys()
    verdict = remote.fails(1, "verify", token["secret"], "--json")
    assert verdict.stdout == local.fails(1, "verify", token["secret"], "--json").stdout
    assert remote.ok("token", "enable", key, "-t", tenant).stdout == f"token {key} enabled\n"
    valid = remote.json("verify", token["secret"], "--audience", "api", "--scope", "read")
    assert (valid["valid"], valid["code"], valid["token"]["id"]) == (True, "VALID", token["id"])
    assert valid.keys() == local.json("verify", twin["secret"]).keys()
    assert remote.ok("verify", "-", input=token["secret"] + "\n").stdout == "VALID\n"

    renamed = remote.json("token", "rename", key, "renamed", "-t", tenant)
    assert renamed["name"] == "renamed"
    assert (
        renamed.keys() == local.json("token", "rename", str(twin["id"]), "x", "-t", tenant).keys()
    )

    revealed = remote.json("token", "reveal", key, "-t", tenant)
    assert revealed == local.json("token", "reveal", key, "-t", tenant)
    assert revealed == {"id": token["id"], "secret": token["secret"]}
    rotated = remote.ok("token", "rotate", key, "-t", tenant, "--grace", "60")
    assert "the old secret keeps working for 60 s" in rotated.stdout
    assert f"tokenward token reveal {key} --tenant {tenant}" in rotated.stderr
    again = remote.json("token", "rotate", key, "-t", tenant)
    assert again.keys() == token.keys() and again["secret"] != token["secret"]
    assert remote.ok("token", "reveal", key, "-t", tenant).stdout.strip() == again["secret"]

    declined = remote.fails(1, "token", "delete", key, "-t", tenant, input="n\n")
    assert "Delete token" in declined.stderr
    deleted = remote.json("token", "delete", key, "-t", tenant, "--yes")
    assert deleted == {"id": token["id"], "tenant": tenant, "deleted": True}
    assert (
        deleted.keys() == local.json("token", "delete", str(twin["id"]), "-t", tenant, "-y").keys()
    )
    remote.fails(1, "token", "show", key, "-t", tenant)

    assert remote.ok("tenant", "delete", tenant, input="y\n").stdout.endswith(
        f"deleted tenant {tenant}\n"
    )
    gone = remote.json("tenant", "delete", f"{tenant}-op", "--yes")
    assert gone == {"name": f"{tenant}-op", "deleted": True}
    assert tenant not in remote.ok("tenant", "list").stdout


def test_url_and_token_from_the_environment(
    served: Served, untouched: Path, monkeypatch: pytest.MonkeyPatch, tenant: str
) -> None:
    monkeypatch.setenv("TOKENWARD_URL", served.server.url)
    monkeypatch.setenv("TOKENWARD_TOKEN", REMOTE_ROOT)
    cli = Cli(CliRunner())
    cli.ok("tenant", "create", tenant)
    token = cli.create("--tenant", tenant, "--ttl", "3600")
    assert cli.json("token", "show", str(token["id"]), "-t", tenant)["expired"] is False
    assert not untouched.exists()


def _error(result: Result) -> str:
    [line] = errors_of(result)
    return line


def test_exit_codes_and_errors(remote: ModeCli, served: Served) -> None:
    missing = _error(remote.fails(1, "token", "show", "987654"))
    assert "not found" in missing and "(request id " in missing
    remote.fails(1, "tenant", "delete", "no-such-tenant", "--yes")
    remote.fails(1, "token", "reveal", str(remote.create()["id"]))  # 409: not recoverable

    assert "(request id " in _error(remote.fails(2, "tenant", "create", "bad name!"))
    remote.fails(2, "token", "create", "--name", "x", "--type", "user")  # 400: no principal

    url = served.server.url
    wrong = ModeCli(CliRunner(), prefix=("--url", url, "--token", "tw_wrong"))
    assert "(request id " in _error(wrong.fails(1, "tenant", "list"))
    anonymous = ModeCli(CliRunner(), prefix=("--url", url))
    assert "TOKENWARD_TOKEN" in _error(anonymous.fails(1, "token", "list"))

    down = ModeCli(
        CliRunner(), prefix=("--url", f"http://127.0.0.1:{free_port()}", "--token", REMOTE_ROOT)
    )
    assert "cannot reach" in _error(down.fails(3, "tenant", "list"))
    for bad_url in ("ftp://example.com", "127.0.0.1:8080"):
        odd = ModeCli(CliRunner(), prefix=("--url", bad_url))
        assert "invalid server URL" in _error(odd.fails(2, "tenant", "list"))
    both = remote.fails(2, "tenant", "list", "--data-dir", "elsewhere")
    assert "--data-dir are for operator mode" in _error(both)


def test_a_tenant_token_sees_only_its_tenant(remote: ModeCli, served: Served, tenant: str) -> None:
    remote.ok("tenant", "create", tenant)
    manager = remote.create(
        "--tenant", tenant, "--role", "admin", "--audience", "tokenward", name="manager"
    )
    remote.create(name="in default")
    scoped = ModeCli(CliRunner(), prefix=("--url", served.server.url, "--token", manager["secret"]))
    assert [t["name"] for t in scoped.json("tenant", "list")["items"]] == [tenant]
    assert [t["id"] for t in scoped.json("token", "list", "-t", tenant)["items"]] == [manager["id"]]
    issued = scoped.create("--tenant", tenant, name="by the manager")
    assert issued["tenant"] == tenant
    scoped.fails(1, "token", "list", "-t", "default")  # the default tenant is not its own
    scoped.fails(1, "tenant", "create", f"{tenant}-2")


@pytest.mark.parametrize(
    "command",
    [
        ("migrate",),
        ("export",),
        ("import", "-"),
        ("doctor",),
        ("admin-token", "reset"),
    ],
)
def test_operator_only_commands_refuse_a_url(
    remote: ModeCli, command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = " ".join(command[:2] if command[0] == "admin-token" else command[:1])
    message = _error(remote.fails(2, *command, input=""))
    assert f"'tokenward {name}' works on the database directly (operator mode)" in message
    monkeypatch.setenv("TOKENWARD_URL", "http://127.0.0.1:1")
    assert "TOKENWARD_URL" in _error(Cli(CliRunner()).fails(2, *command, input=""))


def test_serve_starts_with_a_client_url_in_its_environment(tmp_path: Path) -> None:
    """TOKENWARD_URL is for clients; the server it names must still start with it set."""
    server = Server(
        tmp_path / "data",
        {"TOKENWARD_URL": "http://127.0.0.1:1", "TOKENWARD_ADMIN_TOKEN": REMOTE_ROOT},
    )
    try:
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        server.stop()
