from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.cli.support import Cli, errors_of
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.domain.verification import VerifyCode
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.verification import Engine


def test_create_with_every_option_and_the_secret_verifies(cli: Cli, verifier: Engine) -> None:
    cli.ok("tenant", "create", "acme")
    expires = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    token = cli.create(
        *("--tenant", "acme", "--description", "deploys", "--type", "workflow"),
        *("--principal", "wf-7", "--user", "alice", "--owner", "bob", "--role", "editor"),
        *("--scope", "read", "--scope", "write", "--audience", "api", "--audience", "web"),
        *("--resource", "broker-1", "--restricted", "--expires-at", expires.isoformat()),
        name="ci deploy",
    )
    assert {k: token[k] for k in ("tenant", "name", "description", "type", "principal")} == {
        "tenant": "acme",
        "name": "ci deploy",
        "description": "deploys",
        "type": "workflow",
        "principal": "wf-7",
    }
    assert (token["owner"], token["user"], token["role"]) == ("bob", "alice", "editor")
    assert (token["scopes"], token["audience"]) == (["read", "write"], ["api", "web"])
    assert (token["resources"], token["restricted"]) == (["broker-1"], True)
    assert token["active"] is True and token["recoverable"] is False
    assert datetime.fromisoformat(token["expires_at"]) == expires
    secret = token["secret"]
    assert secret.startswith("tw_")
    assert token["secret_hint"] != secret and token["secret_hint"].startswith("tw_")

    through_service = verifier.verify(secret, audience="web", scopes=["write"], resource="broker-1")
    assert through_service.code is VerifyCode.VALID
    assert through_service.token is not None and through_service.token.id == token["id"]

    verdict = cli.ok(
        "verify", secret, "--audience", "api", "--scope", "read", "--resource", "broker-1"
    )
    assert verdict.stdout.strip() == "VALID"


NOT_FOUND_999 = "error: token 999 not found in tenant 'default' (another tenant: --tenant)"


def test_create_prints_the_secret_once_with_a_warning(cli: Cli, verifier: Engine) -> None:
    result = cli.ok("token", "create", "--name", "plain")
    secret = result.stdout.split()[-1]
    assert verifier.verify(secret).valid
    assert "created token 1 'plain' in tenant default" in result.stdout
    assert "shown only this once" in result.stderr

    recoverable = cli.ok("token", "create", "--name", "kept", "--recoverable", "--inactive")
    assert "tokenward token reveal 2 --tenant default" in recoverable.stderr
    assert "shown only this once" not in recoverable.stderr
    assert verifier.verify(recoverable.stdout.split()[-1]).code is VerifyCode.DISABLED


def test_create_with_ttl(cli: Cli) -> None:
    before = datetime.now(UTC)
    token = cli.create("--ttl", "3600")
    expires = datetime.fromisoformat(token["expires_at"])
    assert before + timedelta(seconds=3599) <= expires <= datetime.now(UTC) + timedelta(hours=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--expires-at", "tomorrow"), "is not an RFC 3339 date and time"),
        (("--expires-at", "2031-01-01T00:00:00"), "needs a UTC offset"),
        (("--expires-at", "2020-01-01T00:00:00Z"), "error: expires_at must be in the future"),
        (
            ("--expires-at", "2031-01-01T00:00:00+02:00", "--ttl", "60"),
            "error: give expires_at or ttl_seconds, not both",
        ),
        (("--ttl", "0"), "error: ttl_seconds must be between"),
        (("--type", "user"), "error: a user token needs a principal"),
        (("--principal", "p"), "error: a global token has no principal"),
        (("--type", "robot"), "Invalid value for '--type'"),
        # Root too is bound by the rules: no root-role token (not even offered), no
        # restricted admin.
        (("--role", "root"), "Invalid value for '--role'"),
        (("--restricted", "--role", "admin"), "error: a restricted token cannot have"),
    ],
)
def test_create_refuses_bad_input_with_exit_2(
    cli: Cli, options: tuple[str, ...], message: str
) -> None:
    result = cli.fails(2, "token", "create", "--name", "n", *options)
    assert message in result.stderr
    assert result.stdout == ""
    assert cli.json("token", "list")["total"] == 0


def test_create_in_unknown_tenant(cli: Cli) -> None:
    result = cli.fails(1, "token", "create", "--name", "n", "--tenant", "nowhere")
    assert errors_of(result) == ["error: tenant 'nowhere' not found"]
    empty = cli.fails(2, "token", "create", "--name", "")
    assert errors_of(empty) == ["error: name must not be empty"]


def test_list_filters_sort_and_pages(cli: Cli, core: Core) -> None:
    cli.create("--role", "admin", "--user", "alice", name="Alpha one")
    cli.create("--type", "user", "--principal", "u1", name="beta")
    cli.create("--type", "team", "--principal", "t1", "--inactive", name="gamma alpha")
    # An expired token: issued by a clock an hour behind, for half an hour.
    past = datetime.now(UTC) - timedelta(hours=1)
    earlier = Core(
        uow=core.uow,
        sealer=core.sealer,
        changes=core.changes,
        secrets=core.secrets,
        clock=lambda: past,
    )
    tokens.issue(
        earlier,
        Actor.root(),
        tenant="default",
        spec=TokenSpec(name="old", expires_at=past + timedelta(minutes=30)),
        owner="carol",
    )

    def listed(*options: str) -> list[str]:
        page = cli.json("token", "list", *options)
        return [t["name"] for t in page["items"]]

    assert listed() == ["old", "Alpha one", "beta", "gamma alpha"]
    assert listed("--type", "user", "--type", "team") == ["beta", "gamma alpha"]
    assert listed("--principal", "t1") == ["gamma alpha"]
    assert listed("--role", "admin") == ["Alpha one"]
    assert listed("--user", "alice") == ["Alpha one"]
    assert listed("--owner", "carol") == ["old"]
    assert listed("--inactive") == ["gamma alpha"]
    assert listed("--active") == ["old", "Alpha one", "beta"]
    assert listed("--expired") == ["old"]
    assert listed("--not-expired", "--active") == ["Alpha one", "beta"]
    assert listed("--name", "ALPHA") == ["Alpha one", "gamma alpha"]
    assert listed("--sort", "name", "--order", "desc") == [
        "old",
        "gamma alpha",
        "beta",
        "Alpha one",
    ]

    second = cli.json("token", "list", "--limit", "3", "--page", "1")
    assert (second["total"], second["page"], second["limit"]) == (4, 1, 3)
    assert [t["name"] for t in second["items"]] == ["gamma alpha"]
    assert set(second["items"][0]) >= {"id", "tenant", "secret_hint", "expired", "recoverable"}
    assert [t["expired"] for t in cli.json("token", "list", "--expired")["items"]] == [True]

    table = cli.ok("token", "list", "--limit", "2").stdout
    assert "old" in table and "Alpha one" in table and "beta" not in table
    assert "4 token(s) in tenant default; showing 1-2; next: --page 1" in " ".join(table.split())
    assert "expired" in cli.ok("token", "list", "--expired").stdout

    assert "limit must be between" in cli.fails(2, "token", "list", "--limit", "0").stderr
    assert "page counts from 0" in cli.fails(2, "token", "list", "--page", "-1").stderr
    assert errors_of(cli.fails(1, "token", "list", "--tenant", "nowhere")) == [
        "error: tenant 'nowhere' not found"
    ]


def test_list_never_shows_a_secret(cli: Cli) -> None:
    secrets = [
        cli.create(name="plain")["secret"],
        cli.create("--recoverable", name="kept")["secret"],
        cli.create("--role", "admin", "--audience", "tokenward", name="manager")["secret"],
    ]
    cli.ok("token", "rotate", "2")  # a rotated token's new secret must not show either
    outputs = [cli.ok("token", "list"), cli.ok("token", "list", "--json")]
    outputs += [cli.ok("token", "show", str(n)) for n in (1, 2, 3)]
    outputs += [cli.ok("token", "show", str(n), "--json") for n in (1, 2, 3)]
    for result in outputs:
        assert "plain" in result.stdout or "kept" in result.stdout or "manager" in result.stdout
        for secret in secrets:
            assert secret not in result.output
        assert "secret" not in result.stdout.replace("secret_hint", "")


def test_show(cli: Cli) -> None:
    created = cli.create("--scope", "read", "--audience", "api", name="shown")
    shown = cli.json("token", "show", str(created["id"]))
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    table = cli.ok("token", "show", str(created["id"])).stdout
    assert "shown" in table and created["secret_hint"] in table and "read" in table

    assert errors_of(cli.fails(1, "token", "show", "999")) == [NOT_FOUND_999]
    cli.ok("tenant", "create", "acme")
    # Another tenant's token is not found there.
    assert errors_of(cli.fails(1, "token", "show", str(created["id"]), "--tenant", "acme")) == [
        f"error: token {created['id']} not found in tenant 'acme' (another tenant: --tenant)"
    ]
    assert "Invalid value" in cli.fails(2, "token", "show", "abc").stderr


def test_disable_and_enable(cli: Cli) -> None:
    token = cli.create(name="switch")
    ident, secret = str(token["id"]), token["secret"]
    assert cli.json("token", "disable", ident)["active"] is False
    refused = cli.fails(1, "verify", secret)
    assert refused.stdout.strip() == "DISABLED"
    assert cli.ok("token", "enable", ident).stdout.strip() == f"token {ident} enabled"
    assert cli.json("token", "show", ident)["active"] is True
    assert cli.ok("verify", secret).stdout.strip() == "VALID"
    assert cli.ok("token", "disable", ident).stdout.strip() == f"token {ident} disabled"
    assert errors_of(cli.fails(1, "token", "enable", "999")) == [NOT_FOUND_999]
    assert errors_of(cli.fails(1, "token", "disable", "999")) == [NOT_FOUND_999]


def test_rename(cli: Cli) -> None:
    ident = str(cli.create(name="before")["id"])
    assert cli.json("token", "rename", ident, "after")["name"] == "after"
    assert cli.json("token", "show", ident)["name"] == "after"
    assert cli.ok("token", "rename", ident, "again").stdout.strip() == (
        f"token {ident} renamed to 'again'"
    )
    too_long = cli.fails(2, "token", "rename", ident, "x" * 1000)
    assert errors_of(too_long) == ["error: name is longer than 200 characters"]
    assert errors_of(cli.fails(1, "token", "rename", "999", "x")) == [NOT_FOUND_999]


def test_rotate(cli: Cli) -> None:
    token = cli.create("--audience", "api", name="rotating")
    ident, old = str(token["id"]), token["secret"]

    rotated = cli.json("token", "rotate", ident)
    assert rotated["id"] == token["id"] and rotated["secret"] != old
    assert rotated["secret_hint"] != token["secret_hint"]
    assert cli.fails(1, "verify", old).stdout.strip() == "NOT_FOUND"
    assert cli.ok("verify", rotated["secret"], "--audience", "api").stdout.strip() == "VALID"

    graced = cli.ok("token", "rotate", ident, "--grace", "600")
    new = graced.stdout.split()[-1]
    assert "the old secret keeps working for 600 s" in graced.stdout
    assert "shown only this once" in graced.stderr
    assert cli.ok("verify", rotated["secret"]).stdout.strip() == "VALID"
    assert cli.ok("verify", new).stdout.strip() == "VALID"

    assert (
        "grace_seconds must be between"
        in cli.fails(2, "token", "rotate", ident, "--grace", "-1").stderr
    )
    assert errors_of(cli.fails(1, "token", "rotate", "999")) == [NOT_FOUND_999]


def test_delete(cli: Cli) -> None:
    first = cli.create(name="first")
    second = cli.create(name="second")
    declined = cli.fails(1, "token", "delete", str(first["id"]), input="n\n")
    assert f"Delete token {first['id']} 'first' of tenant default?" in declined.stderr
    assert cli.json("token", "show", str(first["id"]))["name"] == "first"

    cli.ok("token", "delete", str(first["id"]), input="y\n")
    assert cli.json("token", "delete", str(second["id"]), "--yes") == {
        "id": second["id"],
        "tenant": "default",
        "deleted": True,
    }
    assert cli.json("token", "list")["total"] == 0
    assert cli.fails(1, "verify", first["secret"]).stdout.strip() == "NOT_FOUND"
    assert errors_of(cli.fails(1, "token", "delete", str(first["id"]), "--yes")) == [
        f"error: token {first['id']} not found in tenant 'default' (another tenant: --tenant)"
    ]


def test_reveal(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> None:
    kept = cli.create("--recoverable", name="kept")
    ident = str(kept["id"])
    assert cli.ok("token", "reveal", ident).stdout.strip() == kept["secret"]
    assert cli.json("token", "reveal", ident) == {"id": kept["id"], "secret": kept["secret"]}

    plain = cli.create(name="plain")
    refused = cli.fails(1, "token", "reveal", str(plain["id"]))
    assert errors_of(refused) == [
        "error: this token was not created recoverable; its secret cannot be shown again"
    ]
    assert errors_of(cli.fails(1, "token", "reveal", "999")) == [NOT_FOUND_999]

    # Another data directory has no key: with secrets sealed in the store, none is made
    # there, and the command stops before it starts (exit code 2, the key file named).
    elsewhere = tmp_path_factory.mktemp("other-key")
    wrong_key = cli.fails(2, "token", "reveal", ident, "--data-dir", str(elsewhere))
    assert f"the key file {elsewhere.resolve()}/secret.key is missing" in wrong_key.stderr
    assert kept["secret"] not in wrong_key.output
