"""The ``tokenward`` command: serve, migrate, and operator commands on the database.

Operator commands act on the database directly (``TOKENWARD_DATABASE_URL`` /
``TOKENWARD_DATA_DIR``, or ``--database-url`` / ``--data-dir``) as root, through the service
layer; they apply pending migrations first, as ``serve`` does.
"""

from __future__ import annotations

import typer

from tokenward.cli import doctor, server, tenants, tokens, transfer
from tokenward.cli._common import DatabaseUrlOption, DataDirOption, Overrides

app = typer.Typer(
    no_args_is_help=True,
    help="Issue, manage and verify API tokens.",
    epilog=(
        "Exit codes: 0 success; 1 refused (not found, forbidden, conflict, a secret that does "
        "not verify, a declined confirmation); 2 bad input or setting; 3 database unavailable."
    ),
)


@app.callback()
def _options(
    ctx: typer.Context,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue, manage and verify API tokens."""
    ctx.obj = Overrides(database_url=database_url, data_dir=data_dir)


app.command()(server.serve)
app.command()(server.migrate)
app.add_typer(tenants.app, name="tenant")
app.add_typer(tokens.app, name="token")
app.command()(tokens.verify)
app.add_typer(server.admin_app, name="admin-token")
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.command()(doctor.doctor)


def main() -> None:
    app()
