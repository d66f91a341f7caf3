"""``tokenward policy`` and ``tokenward webhook`` in both modes, on one real server and its
database: what one mode writes the other reads, and their ``--json`` answers agree."""

from __future__ import annotations

import time

from tests.cli.support import ModeCli


def test_policy_show_and_set(remote: ModeCli, local: ModeCli, tenant: str) -> None:
    remote.ok("tenant", "create", tenant)
    defaults = remote.json("policy", "show", "--tenant", tenant)
    assert defaults == local.json("policy", "show", "--tenant", tenant)
    assert defaults["max_lifetime_seconds"] is None and defaults["on_leak"] == "disable"

    changed = remote.json(
        "policy", "set", "--tenant", tenant, "--max-lifetime", "3600",
        "--allowed-scope", "read", "--allowed-scope", "write", "--on-leak", "notify",
    )  # fmt: skip
    assert changed["max_lifetime_seconds"] == 3600
    assert changed["allowed_scopes"] == ["read", "write"]
    assert changed["on_leak"] == "notify"
    # Only what is given changes; the rest stays as it was.
    kept = local.json("policy", "set", "--tenant", tenant, "--require-expiry")
    assert kept == {**changed, "require_expiry": True}
    assert remote.json("policy", "show", "--tenant", tenant) == kept
    cleared = remote.json("policy", "set", "--tenant", tenant, "--any-scope", "--no-max-lifetime")
    assert cleared["allowed_scopes"] is None and cleared["max_lifetime_seconds"] is None
    assert cleared["on_leak"] == "notify"
    assert local.json("policy", "set", "--tenant", tenant, "--reset") == defaults

    assert "on_leak" in remote.ok("policy", "show", "--tenant", tenant).stdout
    remote.fails(2, "policy", "set", "--tenant", tenant, "--on-leak", "shrug")
    local.fails(2, "policy", "set", "--tenant", tenant, "--max-lifetime", "5", "--no-max-lifetime")
    remote.fails(1, "policy", "show", "--tenant", f"{tenant}-missing")


def test_webhook_commands(remote: ModeCli, local: ModeCli, tenant: str) -> None:
    remote.ok("tenant", "create", tenant)
    t = ("--tenant", tenant)
    made = remote.json(
        "webhook", "create", "http://127.0.0.1:9/hook", "-e", "token.created", *t,
        "--description", "ci",
    )  # fmt: skip
    assert made["secret"].startswith("whsec_")
    hook_id = str(made["id"])
    listed = remote.json("webhook", "list", *t)
    assert listed == local.json("webhook", "list", *t)
    assert [h["id"] for h in listed] == [made["id"]] and "secret" not in listed[0]
    assert remote.json("webhook", "show", hook_id, *t)["url"] == "http://127.0.0.1:9/hook"

    updated = local.json(
        "webhook", "update", hook_id, *t, "-e", "token.created", "-e", "token.leaked"
    )
    assert updated["events"] == ["token.created", "token.leaked"]
    assert updated["description"] == "ci"

    remote.create("--tenant", tenant, name="announced")
    deadline = time.monotonic() + 15
    found = []
    while time.monotonic() < deadline:
        found = remote.json("webhook", "deliveries", hook_id, *t)
        if found and found[0]["attempts"]:
            break
        time.sleep(0.1)
    assert found[0]["event_type"] == "token.created"
    assert found[0]["attempts"][0]["error"]  # a loopback address: refused by this server
    assert [d["id"] for d in local.json("webhook", "deliveries", hook_id, *t)] == [found[0]["id"]]
    assert "token.created" in remote.ok("webhook", "deliveries", hook_id, *t).stdout
    retried = remote.json("webhook", "retry", hook_id, str(found[0]["id"]), *t)
    assert retried["status"] == "pending"
    assert "queued" in local.ok("webhook", "retry", hook_id, str(found[0]["id"]), *t).stdout

    off = remote.json("webhook", "update", hook_id, *t, "--disable")
    assert off["active"] is False
    local.fails(1, "webhook", "delete", hook_id, *t, input="n\n")
    assert (
        local.ok("webhook", "delete", hook_id, *t, "--yes").stdout == f"deleted webhook {hook_id}\n"
    )
    remote.fails(1, "webhook", "show", hook_id, *t)
    remote.fails(2, "webhook", "create", "http://x", *t)  # no event
