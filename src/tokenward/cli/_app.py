"""The command tree of ``tokenward`` (see ``tokenward/cli/__init__.py``)."""

from __future__ import annotations

from typing import Annotated

import typer

from tokenward.cli import (
    audit,
    backup,
    doctor,
    keys,
    policy,
    scan,
    server,
    tenants,
    tokens,
    transfer,
    webhooks,
)
from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    Overrides,
    TokenOption,
    UrlOption,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Issue, manage and verify API tokens.",
    epilog=(
        "Remote mode: with --url (or TOKENWARD_URL) the tenant, token, verify, audit, "
        "policy, webhook and scan commands ask "
        "that server, sending --token (or TOKENWARD_TOKEN) as the credential; the other "
        "commands work only on the database. "
        "Exit codes: 0 success; 1 refused (not found, forbidden, conflict, a secret that does "
        "not verify, a declined confirmation, a rejected credential); 2 bad input or setting; "
        "3 database or server unavailable."
    ),
)


def _print_version(value: bool) -> None:
    if value:
        from tokenward import __version__

        typer.echo(f"tokenward {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Issue, manage and verify API tokens."""
    ctx.obj = Overrides(database_url=database_url, data_dir=data_dir, url=url, token=token)


app.command()(server.serve)
app.command()(server.migrate)
app.add_typer(tenants.app, name="tenant")
app.add_typer(tokens.app, name="token")
app.command()(tokens.verify)
app.command()(audit.audit)
app.add_typer(server.admin_app, name="admin-token")
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.command()(doctor.doctor)
app.add_typer(keys.app, name="keys")
app.command()(backup.backup)
app.command()(backup.restore)
app.command()(scan.scan)
app.add_typer(policy.app, name="policy")
app.add_typer(webhooks.app, name="webhook")
