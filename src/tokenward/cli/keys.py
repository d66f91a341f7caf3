"""``tokenward keys ...``: the ring of key-encryption keys that seal recoverable secrets
(``rotate``, ``list``), and the keys that sign exchanged JWTs (``rotate-signing``,
``list-signing``; the servers read those from the store).

Heavy modules are imported inside the commands: ``tokenward --help`` loads none of them.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from tokenward.cli._common import (
    EXIT_INVALID,
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    fail,
    load_settings,
    note,
    open_database,
    operator,
    print_json,
    print_table,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Manage the keys that seal recoverable secrets and sign exchanged JWTs.",
)


@app.command()
def rotate(
    ctx: typer.Context,
    batch_size: Annotated[int, typer.Option(min=1, help="Secrets re-sealed per transaction")] = 500,
    settle_seconds: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Wait after adding the key, so that a seal a server began under the old key "
            "is committed before the last pass looks for stragglers",
        ),
    ] = 2.0,
    keep_old: Annotated[
        bool, typer.Option("--keep-old", help="Leave the old keys in the ring")
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add a new key, re-seal every sealed secret under it in batches (servers keep running
    and pick the new key up), then retire the old keys into keys/retired/."""
    from tokenward import keys
    from tokenward.service import sealing
    from tokenward.store.unit_of_work import SqlUnitOfWorkFactory

    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir)
    engine = open_database(settings)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        try:
            sealer = keys.sealer_for_store(
                uow, secret_key=settings.secret_key, data_dir=settings.data_dir
            )
        except keys.KeyProblem as exc:
            fail(exc.message, EXIT_INVALID)
        old = sealer.key_ids
        new = keys.add_key(settings.data_dir)
        sealer.reload()
        if sealer.active_key_id != new:  # pragma: no cover - add_key sorts after all
            fail(f"the new key {new} is not the newest of the ring", EXIT_INVALID)
        if not as_json:
            note(f"added key {new}; re-sealing under it")
        time.sleep(settle_seconds)
        try:
            report = sealing.reseal(uow, sealer, batch_size=batch_size)
        except sealing.SealError as exc:
            fail(f"a sealed secret does not open, nothing more re-sealed: {exc}", EXIT_INVALID)
        retired: dict[str, str | None] = {}
        if not keep_old:
            for key_id in old:
                went = keys.retire(settings.data_dir, key_id)
                retired[key_id or "legacy"] = None if went is None else str(went)
    finally:
        engine.dispose()
    env_key_left = settings.secret_key is not None and not keep_old
    if as_json:
        print_json(
            {
                "key_id": new,
                "resealed": report.resealed,
                "passes": report.passes,
                "retired": retired,
                "unset_secret_key": env_key_left,
            }
        )
        return
    typer.echo(f"re-sealed {report.resealed} secret(s) under key {new}")
    for key_id, place in retired.items():
        if place is not None:
            typer.echo(f"retired key {key_id}: moved to {place}")
    if env_key_left:
        note(
            "TOKENWARD_SECRET_KEY still names the old key: no secret needs it any more; "
            "unset it when every server has the new key file"
        )


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The keys of the ring, and which of them sealed what the database holds."""
    from tokenward import keys
    from tokenward.store.unit_of_work import SqlUnitOfWorkFactory

    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir)
    engine = open_database(settings)
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            used = set(uow.sealed.samples())
    finally:
        engine.dispose()
    ring = keys.FileKeys(settings.secret_key, settings.data_dir).load()
    active = max(ring, default=None)
    rows = [
        {
            "key_id": key_id or "legacy",
            "active": key_id == active,
            "seals_stored_secrets": key_id in used,
        }
        for key_id in sorted(ring)
    ]
    missing = sorted(used - set(ring))
    if as_json:
        print_json({"keys": rows, "missing": [key_id or "legacy" for key_id in missing]})
        return
    for row in rows:
        marks = [
            m
            for m, on in (("active", row["active"]), ("in use", row["seals_stored_secrets"]))
            if on
        ]
        typer.echo(f"{row['key_id']}  {' '.join(marks)}")
    for key_id in missing:
        typer.echo(f"{key_id or 'legacy'}  MISSING: stored secrets need it")


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
