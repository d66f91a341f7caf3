"""Issue 16's CLI points against a real server and its database: the tenant taken from the
credential, "not found" naming the tenant searched, and the roles offered."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from tests.cli.support import REMOTE_ROOT, ModeCli, errors_of
from tokenward.cli import app
from tokenward.domain.roles import TOKEN_ROLES


def test_the_tenant_comes_from_a_tenant_bound_credential(
    remote: ModeCli, local: ModeCli, tenant: str
) -> None:
    local.ok("tenant", "create", tenant)
    manager = local.create("-t", tenant, "--role", "admin", "--audience", "tokenward", name="m")
    mine = local.create("-t", tenant, name="mine")
    as_manager = ModeCli(CliRunner(), prefix=(*remote.prefix[:2], "--token", manager["secret"]))

    listed = as_manager.json("token", "list")
    assert {t["tenant"] for t in listed["items"]} == {tenant}
    assert as_manager.json("token", "show", str(mine["id"]))["name"] == "mine"
    created = as_manager.create(name="no --tenant")
    assert created["tenant"] == tenant

    # Root is bound to no tenant: 'default', and the message says where it looked.
    for mode in (remote, local):
        result = mode.fails(1, "token", "show", str(mine["id"]))
        (error,) = errors_of(result)
        assert f"token {mine['id']} not found in tenant 'default'" in error


def test_root_is_not_offered_as_a_token_role() -> None:
    runner = CliRunner()
    for command in (["token", "create", "--help"], ["token", "list", "--help"]):
        shown = runner.invoke(app, command, env={"COLUMNS": "200"}).stdout
        assert "viewer|editor|admin" in shown and "|root" not in shown
    shown = runner.invoke(app, ["token", "show", "--help"], env={"COLUMNS": "200"}).stdout
    assert "default: the credential's own tenant, else 'default'" in shown
    refused = runner.invoke(app, ["token", "create", "--name", "x", "--role", "root"])
    assert refused.exit_code == 2


def test_the_openapi_document_offers_the_token_roles_only(remote: ModeCli) -> None:
    import httpx

    url = remote.prefix[1]
    schemas = httpx.get(f"{url}/openapi.json").json()["components"]["schemas"]
    for model in ("TokenCreate", "TokenUpdate"):
        role = schemas[model]["properties"]["role"]
        offered = role.get("enum") or next(
            option["enum"] for option in role["anyOf"] if "enum" in option
        )
        assert offered == [r.value for r in TOKEN_ROLES]


def test_update_audit_and_tenant_show_in_both_modes(
    remote: ModeCli, local: ModeCli, tenant: str
) -> None:
    local.ok("tenant", "create", tenant)
    for mode in (remote, local):
        assert mode.json("tenant", "show", tenant)["name"] == tenant
        token = mode.create("-t", tenant, "--scope", "a", "--audience", "x", "--ttl", "600")
        key = str(token["id"])
        changed = mode.json(
            *("token", "update", key, "-t", tenant, "--scope", "b", "--scope", "c"),
            *("--audience", "y", "--role", "editor", "--expires-at", "2031-01-02T03:04:05Z"),
            *("--description", "changed", "--restricted", "--resource", "r1"),
        )
        assert (changed["scopes"], changed["audience"], changed["role"]) == (
            ["b", "c"],
            ["y"],
            "editor",
        )
        assert changed["expires_at"].startswith("2031-01-02T03:04:05")
        assert (changed["description"], changed["restricted"], changed["resources"]) == (
            "changed",
            True,
            ["r1"],
        )
        cleared = mode.json(
            *("token", "update", key, "-t", tenant, "--no-scopes", "--never-expires"),
        )
        assert (cleared["scopes"], cleared["expires_at"], cleared["audience"]) == ([], None, ["y"])
        assert mode.ok("token", "update", key, "-t", tenant, "--name", "n").stdout == (
            f"token {key} updated\n"
        )
        mode.fails(2, "token", "update", key, "-t", tenant)  # nothing to change
        mode.fails(2, "token", "update", key, "-t", tenant, "--ttl", "5", "--never-expires")

        trail = mode.json("audit", "--tenant", tenant, "--token-id", key)
        actions = [r["action"] for r in trail["items"]]
        assert actions == ["token.update"] * 3 + ["token.issue"]  # newest first
        assert trail.keys() == {"items", "total", "page", "limit"}
        assert "token.update" in mode.ok("audit", "--tenant", tenant).stdout
    assert remote.json("audit", "-t", tenant) == local.json("audit", "-t", tenant)


def test_every_operator_command_takes_json(local: ModeCli) -> None:
    assert local.json("migrate") == {"applied": []}
    report = local.run("doctor", "--json")
    found = __import__("json").loads(report.stdout)
    assert found.keys() == {"ok", "findings"}
    assert all(f.keys() == {"ok", "what", "fix"} for f in found["findings"])
    assert report.exit_code == (0 if found["ok"] else 1)


def test_json_output_is_the_apis_own_json(remote: ModeCli, local: ModeCli, tenant: str) -> None:
    """Both modes print through the client's types; what they print is what the API answers."""
    import httpx

    url = remote.prefix[1]
    auth = {"Authorization": f"Bearer {REMOTE_ROOT}"}
    local.ok("tenant", "create", tenant)
    token = local.create("-t", tenant, "--recoverable", "--ttl", "3600", "--scope", "s")
    path = f"{url}/v1/tenants/{tenant}/tokens"
    for mode in (remote, local):
        # Last use is written by a background flush, which may land between two reads (the
        # verifications below make one pending).
        api = httpx.get(f"{path}/{token['id']}", headers=auth).json()
        shown = mode.json("token", "show", str(token["id"]), "-t", tenant)
        assert {**shown, "last_used_at": None} == {**api, "last_used_at": None}
        assert _unused(mode.json("token", "list", "-t", tenant)) == _unused(
            httpx.get(path, headers=auth).json()
        )
        assert mode.json("tenant", "show", tenant) == (
            httpx.get(f"{url}/v1/tenants/{tenant}", headers=auth).json()
        )
        audit = httpx.get(f"{url}/v1/audit", params={"tenant": tenant}, headers=auth).json()
        assert mode.json("audit", "-t", tenant) == audit
        verdict = httpx.post(f"{url}/v1/verify", json={"token": token["secret"]}).json()
        mine = mode.json("verify", token["secret"])
        assert {**mine, "token": None} == {**verdict, "token": None}
        assert mine["token"].keys() == verdict["token"].keys()


def _unused(page: dict[str, Any]) -> dict[str, Any]:
    return {**page, "items": [{**t, "last_used_at": None} for t in page["items"]]}
