"""The controls from the command line, in operator mode on both backends."""

from __future__ import annotations

from tests.cli.support import Cli


def test_create_update_credits_and_usage_chart(cli: Cli) -> None:
    token = cli.create(
        *("--rate-limit", "burst:5:60", "--rate-limit", "day:100:86400"),
        *("--credits", "3", "--refill", "10:daily", "--ip-allow", "10.0.0.0/8"),
        name="metered",
    )
    assert token["rate_limits"] == [
        {"name": "burst", "limit": 5, "window_seconds": 60},
        {"name": "day", "limit": 100, "window_seconds": 86400},
    ]
    assert token["credits"] == {"remaining": 3, "refill": {"amount": 10, "interval": "daily"}}
    assert token["ip_allowlist"] == ["10.0.0.0/8"]
    token_id = str(token["id"])
    changed = cli.json("token", "update", token_id, "--no-ip-allowlist", "--unlimited")
    assert (changed["ip_allowlist"], changed["credits"]) == ([], None)
    changed = cli.json("token", "update", token_id, "--credits", "2", "--no-rate-limits")
    assert (changed["rate_limits"], changed["credits"]["remaining"]) == ([], 2)
    assert cli.json("token", "credits", token_id, "--add", "5")["credits"]["remaining"] == 7
    assert "has 1 credits" in cli.ok("token", "credits", token_id, "--set", "1").stdout
    assert cli.ok("verify", token["secret"]).stdout.strip() == "VALID"
    assert cli.fails(1, "verify", token["secret"]).stdout.strip() == "USAGE_EXCEEDED"
    buckets = cli.json("token", "usage", token_id)["buckets"]
    assert buckets[0]["counts"] == {"VALID": 1, "USAGE_EXCEEDED": 1}
    chart = cli.ok("token", "usage", token_id, "--bucket", "day").stdout
    assert "█" in chart and "USAGE_EXCEEDED 1" in chart and "VALID 1" in chart
    assert "bad" in cli.fails(2, "token", "create", "--name", "x", "--rate-limit", "bad").stderr
