"""``tokenward policy show|set``: a tenant's policy (``GET``/``PUT
/v1/tenants/{t}/policy``, docs/lifecycle.md), for its admins and root."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    print_json,
    print_table,
)
from tokenward.cli._lifecycle import lifecycle_backend

if TYPE_CHECKING:
    from tokenward import client

app = typer.Typer(no_args_is_help=True, help="A tenant's token policy.")

PolicyTenantOption = Annotated[
    str, typer.Option("--tenant", "-t", help="The tenant whose policy it is")
]


def _print(policy: client.Policy, as_json: bool) -> None:
    if as_json:
        print_json(policy)
        return
    rows = [(f.name, getattr(policy, f.name)) for f in dataclasses.fields(policy)]
    print_table(("field", "value"), rows)


@app.command()
def show(
    ctx: typer.Context,
    tenant: PolicyTenantOption = "default",
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show the tenant's policy."""
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        policy = tw.get_policy(tenant)
    _print(policy, as_json)


@app.command("set")
def set_(
    ctx: typer.Context,
    tenant: PolicyTenantOption = "default",
    reset: Annotated[
        bool, typer.Option("--reset", help="Start from the defaults, not the current policy")
    ] = False,
    max_lifetime: Annotated[
        int | None, typer.Option(help="Seconds; no token may expire later than now plus this")
    ] = None,
    no_max_lifetime: Annotated[bool, typer.Option(help="No maximum lifetime")] = False,
    require_expiry: Annotated[
        bool | None, typer.Option("--require-expiry/--no-require-expiry", show_default=False)
    ] = None,
    allowed_scope: Annotated[
        list[str] | None, typer.Option(help="Allowed scope (repeat); replaces the list")
    ] = None,
    any_scope: Annotated[bool, typer.Option(help="Any scope allowed")] = False,
    allowed_audience: Annotated[
        list[str] | None, typer.Option(help="Allowed audience (repeat); replaces the list")
    ] = None,
    any_audience: Annotated[bool, typer.Option(help="Any audience allowed")] = False,
    allow_recoverable: Annotated[
        bool | None,
        typer.Option("--allow-recoverable/--no-allow-recoverable", show_default=False),
    ] = None,
    inactivity_disable: Annotated[
        int | None, typer.Option(help="Seconds unused after which the server disables a token")
    ] = None,
    no_inactivity_disable: Annotated[bool, typer.Option(help="Never disable for inactivity")] = (
        False
    ),
    expiry_notice: Annotated[
        list[int] | None,
        typer.Option(help="Seconds before expiry for token.expiring (repeat); replaces the list"),
    ] = None,
    on_reuse: Annotated[str | None, typer.Option(help="disable or notify")] = None,
    on_leak: Annotated[str | None, typer.Option(help="disable or notify")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change the options given (on top of the current policy, or the defaults with --reset)
    and store the result as the whole policy (audited as policy.update)."""
    changes: dict[str, Any] = {}
    for given, cleared, field in (
        (max_lifetime, no_max_lifetime, "max_lifetime_seconds"),
        (inactivity_disable, no_inactivity_disable, "inactivity_disable_seconds"),
        (allowed_scope, any_scope, "allowed_scopes"),
        (allowed_audience, any_audience, "allowed_audiences"),
    ):
        if given is not None and cleared:
            raise typer.BadParameter(f"{field}: give a value or clear it, not both")
        if cleared:
            changes[field] = None
        elif given is not None:
            changes[field] = tuple(given) if isinstance(given, list) else given
    for value, field in (
        (require_expiry, "require_expiry"),
        (allow_recoverable, "allow_recoverable"),
        (on_reuse, "on_reuse"),
        (on_leak, "on_leak"),
    ):
        if value is not None:
            changes[field] = value
    if expiry_notice is not None:
        changes["expiry_notice_seconds"] = tuple(expiry_notice)
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        if reset:
            from tokenward.client import Policy

            base = Policy()
        else:
            base = tw.get_policy(tenant)
        policy = tw.put_policy(tenant, dataclasses.replace(base, **changes))
    _print(policy, as_json)
