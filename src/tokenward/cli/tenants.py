"""``tokenward tenant create|list|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from tokenward.api.native.schemas import TenantList, TenantPublic
from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    YesOption,
    operator,
    print_json,
    print_table,
)
from tokenward.service import tenants

app = typer.Typer(no_args_is_help=True, help="Create, list and delete tenants.")

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
    with operator(ctx, database_url, data_dir) as op:
        tenant = tenants.create(op.core, op.actor, name=name)
    if as_json:
        print_json(TenantPublic.of(tenant))
    else:
        typer.echo(f"created tenant {tenant.name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List every tenant."""
    with operator(ctx, database_url, data_dir) as op:
        found = tenants.list_all(op.core, op.actor)
    if as_json:
        print_json(TenantList(items=[TenantPublic.of(t) for t in found]))
    else:
        print_table(("name", "created"), [(t.name, t.created_at.isoformat()) for t in found])


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
    with operator(ctx, database_url, data_dir) as op:
        if not yes:
            # Reading it first: the question is not asked about a tenant that is not there.
            tenants.get(op.core, op.actor, name=name)
            typer.confirm(f"Delete tenant {name!r} and all its tokens?", abort=True, err=True)
        tenants.delete(op.core, op.actor, name=name)
    if as_json:
        print_json({"name": name, "deleted": True})
    else:
        typer.echo(f"deleted tenant {name}")
