"""``tokenward tenant create|list|delete``, on the database or a server (``_backend.py``)."""

from __future__ import annotations

from typing import Annotated

import typer

from tokenward.cli._backend import backend
from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    YesOption,
    print_json,
    print_table,
)

app = typer.Typer(no_args_is_help=True, help="Create, list, show and delete tenants.")

NameArgument = Annotated[str, typer.Argument(help="Tenant name", show_default=False)]


@app.command()
def create(
    ctx: typer.Context,
    name: NameArgument,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a tenant."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tw.create_tenant(name)
    if as_json:
        print_json(tenant)
    else:
        typer.echo(f"created tenant {tenant.name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List every tenant (in remote mode: those the credential may see)."""
    with backend(ctx, database_url, data_dir) as tw:
        found = tw.list_tenants()
    if as_json:
        print_json({"items": found})
    else:
        print_table(("name", "created"), [(t.name, t.created_at.isoformat()) for t in found])


@app.command()
def show(
    ctx: typer.Context,
    name: NameArgument,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show one tenant."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tw.get_tenant(name)
    if as_json:
        print_json(tenant)
    else:
        print_table(("name", "created"), [(tenant.name, tenant.created_at.isoformat())])


@app.command()
def delete(
    ctx: typer.Context,
    name: NameArgument,
    yes: YesOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete a tenant and every token in it."""
    with backend(ctx, database_url, data_dir) as tw:
        if not yes:
            # Reading it first: the question is not asked about a tenant that is not there.
            tw.get_tenant(name)
            typer.confirm(f"Delete tenant {name!r} and all its tokens?", abort=True, err=True)
        tw.delete_tenant(name)
    if as_json:
        print_json({"name": name, "deleted": True})
    else:
        typer.echo(f"deleted tenant {name}")
