"""``tokenward keys rotate-signing|list-signing``: the token exchange's signing keys, on the
database (operator mode: the servers read the keys from the store)."""

from __future__ import annotations

import typer

from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    operator,
    print_json,
    print_table,
)

app = typer.Typer(no_args_is_help=True, help="Manage the keys that sign exchanged JWTs.")


@app.command("rotate-signing")
def rotate_signing(
    ctx: typer.Context,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make a new signing key now. It is published at once and signs after one JWKS cache
    period (TOKENWARD_JWKS_CACHE_SECONDS); the old key stays published until the tokens it
    signed have expired."""
    from tokenward.app import signing_schedule
    from tokenward.service import signing_keys

    with operator(ctx, database_url, data_dir) as op:
        made = signing_keys.rotate(
            op.core,
            op.actor,
            signing_schedule(op.settings),
            algorithm=op.settings.signing_algorithm,
        )
    if as_json:
        print_json(
            {"kid": made.kid, "alg": made.alg, "activates_at": made.activates_at.isoformat()}
        )
    else:
        typer.echo(
            f"new signing key {made.kid} ({made.alg}), published now, signs from "
            f"{made.activates_at.isoformat()}"
        )


@app.command("list-signing")
def list_signing(
    ctx: typer.Context,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The stored signing keys (public facts only): kid, algorithm, when made, when it signs."""
    from tokenward.service import signing_keys

    with operator(ctx, database_url, data_dir) as op:
        found = signing_keys.listed(op.core)
    rows = [
        {
            "kid": key.kid,
            "alg": key.alg,
            "generation": key.generation,
            "created_at": key.created_at.isoformat(),
            "activates_at": key.activates_at.isoformat(),
        }
        for key in found
    ]
    if as_json:
        print_json({"items": rows})
    else:
        print_table(
            ("kid", "alg", "generation", "created", "signs from"),
            [tuple(str(v) for v in row.values()) for row in rows],
        )
