"""``tokenward webhook ...``: a tenant's webhooks and their deliveries (docs/lifecycle.md),
for its admins and root."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    YesOption,
    print_json,
    print_table,
)
from tokenward.cli._lifecycle import lifecycle_backend

if TYPE_CHECKING:
    from tokenward import client

app = typer.Typer(no_args_is_help=True, help="A tenant's webhooks and their deliveries.")

HookTenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The webhook's tenant")]
IdArgument = Annotated[int, typer.Argument(help="The webhook's id", min=1)]
EventsOption = Annotated[
    list[str] | None, typer.Option("--event", "-e", help="An event type to send (repeat)")
]


def _rows(hooks: list[client.Webhook]) -> list[tuple[Any, ...]]:
    return [
        (w.id, w.url, list(w.events), w.active, w.disabled_reason, w.description) for w in hooks
    ]


def _print(hooks: list[client.Webhook]) -> None:
    print_table(("id", "url", "events", "active", "disabled reason", "description"), _rows(hooks))


@app.command()
def create(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the events")],
    events: EventsOption = None,
    description: Annotated[str, typer.Option(help="What it is for")] = "",
    tenant: HookTenantOption = "default",
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a webhook; prints its signing secret, shown only this once."""
    if not events:
        raise typer.BadParameter("give at least one --event", param_hint="--event")
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        made = tw.create_webhook(tenant, url, events, description)
    if as_json:
        print_json(made)
        return
    _print([made])
    typer.echo(made.secret)


@app.command("list")
def list_(
    ctx: typer.Context,
    tenant: HookTenantOption = "default",
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the tenant's webhooks."""
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        hooks = tw.list_webhooks(tenant)
    if as_json:
        print_json(hooks)
    else:
        _print(hooks)


@app.command()
def show(
    ctx: typer.Context,
    webhook_id: IdArgument,
    tenant: HookTenantOption = "default",
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show one webhook."""
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        hook = tw.get_webhook(tenant, webhook_id)
    if as_json:
        print_json(hook)
    else:
        _print([hook])


@app.command()
def update(
    ctx: typer.Context,
    webhook_id: IdArgument,
    url: Annotated[str | None, typer.Option(help="A new URL")] = None,
    events: EventsOption = None,
    description: Annotated[str | None, typer.Option(help="A new description")] = None,
    active: Annotated[
        bool | None,
        typer.Option(
            "--enable/--disable",
            help="Switch it on (also after the server disabled it) or off",
            show_default=False,
        ),
    ] = None,
    tenant: HookTenantOption = "default",
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change only the options given; --event replaces the whole list."""
    changes: dict[str, Any] = {}
    for name, value in (
        ("url", url),
        ("events", events),
        ("description", description),
        ("active", active),
    ):
        if value is not None:
            changes[name] = value
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        hook = tw.update_webhook(tenant, webhook_id, changes)
    if as_json:
        print_json(hook)
    else:
        _print([hook])


@app.command()
def delete(
    ctx: typer.Context,
    webhook_id: IdArgument,
    tenant: HookTenantOption = "default",
    yes: YesOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete a webhook and its pending deliveries."""
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        if not yes:
            hook = tw.get_webhook(tenant, webhook_id)
            typer.confirm(f"Delete webhook {webhook_id} ({hook.url})?", abort=True, err=True)
        tw.delete_webhook(tenant, webhook_id)
    if as_json:
        print_json({"id": webhook_id, "deleted": True})
    else:
        typer.echo(f"deleted webhook {webhook_id}")


@app.command()
def deliveries(
    ctx: typer.Context,
    webhook_id: IdArgument,
    limit: Annotated[int, typer.Option(help="How many, newest first", min=1, max=100)] = 20,
    tenant: HookTenantOption = "default",
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The webhook's latest deliveries, each with its attempts."""
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        found = tw.list_deliveries(tenant, webhook_id, limit)
    if as_json:
        print_json(found)
        return
    rows = []
    for d in found:
        last = d.attempts[-1] if d.attempts else None
        rows.append(
            (
                d.id,
                d.event_type,
                d.status,
                len(d.attempts),
                None if last is None else (last.status_code or last.error),
                d.next_attempt_at,
            )
        )
    print_table(("id", "event", "status", "attempts", "last result", "next attempt"), rows)


@app.command()
def retry(
    ctx: typer.Context,
    webhook_id: IdArgument,
    delivery_id: Annotated[int, typer.Argument(help="The delivery's id", min=1)],
    tenant: HookTenantOption = "default",
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Queue a delivery for an attempt now (it keeps its webhook-id)."""
    with lifecycle_backend(ctx, database_url, data_dir) as tw:
        delivery = tw.retry_delivery(tenant, webhook_id, delivery_id)
    if as_json:
        print_json(delivery)
    else:
        typer.echo(f"delivery {delivery.id} queued ({delivery.status})")
