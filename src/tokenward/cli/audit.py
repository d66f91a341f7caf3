"""``tokenward audit``: the audit trail (the native API's ``GET /v1/audit``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from tokenward.cli._backend import backend
from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    print_json,
    print_table,
)
from tokenward.cli.tokens import _rfc3339
from tokenward.domain.audit import AuditQuery


def audit(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor (root, token:ID...)")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. token.create")] = None,
    token_id: Annotated[int | None, typer.Option("--token-id", help="Only this token")] = None,
    since: Annotated[
        datetime | None, typer.Option(parser=_rfc3339, metavar="RFC3339", help="From then on")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(parser=_rfc3339, metavar="RFC3339", help="Until then")
    ] = None,
    page: Annotated[int, typer.Option(help="Page, counted from 0")] = 0,
    limit: Annotated[int, typer.Option(help="Records per page")] = 50,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List audit records (in remote mode: those the credential may see)."""
    query = AuditQuery(
        tenant=tenant, actor=actor, action=action, token_id=token_id, since=since, until=until
    )
    with backend(ctx, database_url, data_dir) as tw:
        found = tw.list_audit(query, page=page, limit=limit)
    if as_json:
        print_json(found)
        return
    first = found.page * limit
    caption = f"{found.total} record(s)"
    if first + len(found.items) < found.total:
        caption += f"; next: --page {found.page + 1}"
    rows = [
        (r.id, r.at.strftime("%Y-%m-%d %H:%M:%SZ"), r.tenant, r.actor, r.action, r.token_id)
        for r in found.items
    ]
    print_table(
        ("id", "at", "tenant", "actor", "action", "token"), rows, caption=caption, no_wrap=("at",)
    )
