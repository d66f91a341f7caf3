from __future__ import annotations

import json

from tests.cli.support import Cli


def test_verdicts_and_exit_codes(cli: Cli) -> None:
    token = cli.create(
        *("--scope", "read", "--audience", "api", "--resource", "b1", "--restricted"), name="v"
    )
    secret = token["secret"]
    assert cli.ok("verify", secret).stdout.strip() == "VALID"
    assert cli.ok("verify", secret, "--scope", "read", "--audience", "api").stdout == "VALID\n"
    assert cli.ok("verify", secret, "--resource", "b1").stdout.strip() == "VALID"
    for options, code in [
        (("--audience", "web"), "AUDIENCE_MISMATCH"),
        (("--scope", "read", "--scope", "write"), "INSUFFICIENT_SCOPE"),
        (("--resource", "b2"), "RESOURCE_DENIED"),
    ]:
        assert cli.fails(1, "verify", secret, *options).stdout.strip() == code
    assert cli.fails(1, "verify", "not-a-token").stdout.strip() == "MALFORMED"
    typo = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert cli.fails(1, "verify", typo).stdout.strip() == "MALFORMED"
    assert "Missing argument" in cli.fails(2, "verify").stderr


def test_json_stdin_and_last_use(cli: Cli) -> None:
    token = cli.create("--audience", "api", name="piped")
    assert cli.json("token", "show", str(token["id"]))["last_used_at"] is None

    answer = json.loads(cli.ok("verify", "-", "--json", input=token["secret"] + "\n").stdout)
    assert (answer["valid"], answer["code"]) == (True, "VALID")
    assert (answer["token"]["id"], answer["token"]["name"]) == (token["id"], "piped")
    assert "secret" not in answer["token"]
    # A valid verification is recorded as a use, written before the command ends.
    assert cli.json("token", "show", str(token["id"]))["last_used_at"] is not None

    refused = json.loads(
        cli.fails(1, "verify", token["secret"], "--audience", "web", "--json").stdout
    )
    assert (refused["valid"], refused["code"]) == (False, "AUDIENCE_MISMATCH")
    assert refused["token"]["id"] == token["id"]

    unknown = cli.fails(1, "verify", "-", "--json", input="nonsense\n")
    assert json.loads(unknown.stdout) == {
        "valid": False,
        "code": "MALFORMED",
        "token": None,
        "limits": None,
        "retry_after_ms": None,
    }
